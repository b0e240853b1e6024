"""keyseal.flask.EncryptedRedisCache: Flask-Caching config, memoize, cached views, tampering; real Redis."""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify
from flask_caching import Cache

from _vaults import redis_key
from keyseal import ConfigurationError, Keyring, StoreAuthError
from keyseal.flask import EncryptedRedisCache

UNPICKLED: list[str] = []


def mark_unpickled(tag: str) -> str:
    UNPICKLED.append(tag)
    return tag


class Boom:
    """Unpickling this calls mark_unpickled: the test sees whether anything was unpickled."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (mark_unpickled, ("boom",))


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def namespace() -> str:
    return f"fc-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cache(redis_plain: Any, ring: Keyring, namespace: str) -> Iterator[EncryptedRedisCache]:
    c = EncryptedRedisCache("127.0.0.1", redis_plain.port, keyring=ring, namespace=namespace)
    yield c
    c.clear()
    c.close()


def raw_key(ring: Keyring, namespace: str, name: str) -> bytes:
    return redis_key(ring, "ks", namespace, name)


def flask_app(redis_plain: Any, ring: Keyring, namespace: str, **config: Any) -> tuple[Flask, Cache]:
    app = Flask(f"fc_{uuid.uuid4().hex}")
    app.config.update(
        CACHE_TYPE="keyseal.flask.EncryptedRedisCache",
        CACHE_REDIS_HOST="127.0.0.1",
        CACHE_REDIS_PORT=redis_plain.port,
        CACHE_OPTIONS={"keyring": ring.export(), "namespace": namespace},
    )
    app.config.update(config)
    return app, Cache(app)


def backend(app: Flask, ext: Cache) -> EncryptedRedisCache:
    found = app.extensions["cache"][ext]
    assert isinstance(found, EncryptedRedisCache)
    return found


# ---- values, sealing, cachelib semantics ----------------------------------------------------------


def test_values_are_sealed_in_redis(redis_plain: Any, cache: EncryptedRedisCache, ring: Keyring) -> None:
    value = {"api_key": "sk-live-" + uuid.uuid4().hex}
    assert cache.set("service_a", value)
    assert cache.get("service_a") == value
    raw = redis_plain.client().get(raw_key(ring, cache.vault.namespace, "service_a"))
    assert raw is not None
    assert value["api_key"].encode() not in raw
    assert b"service_a" not in raw


def test_ints_stored_as_decimal_and_bools_pickled(cache: EncryptedRedisCache) -> None:
    cache.set("n", 42)
    cache.set("t", True)
    cache.set("neg", -7)
    assert cache.vault.get_bytes("n") == b"42"
    assert cache.vault.get_bytes("neg") == b"-7"
    assert cache.vault.get_bytes("t")[:1] == b"\x80"  # type: ignore[index]
    assert cache.get("t") is True
    assert cache.get("n") == 42
    assert cache.inc("n", 8) == 50
    assert cache.dec("neg", 3) == -10
    assert cache.get("neg") == -10


def test_timeouts(cache: EncryptedRedisCache) -> None:
    cache.set("forever", 1, timeout=0)
    cache.set("default", 1)
    cache.set("short", 1, timeout=7)
    assert cache.vault.ttl("forever") == math.inf
    assert 290 < cache.vault.ttl("default") <= 300  # type: ignore[operator]
    assert 5 < cache.vault.ttl("short") <= 7  # type: ignore[operator]
    assert cache.add("added", "x", timeout=0)
    assert cache.vault.ttl("added") == math.inf
    cache.set_many({"m1": 1, "m2": 2}, timeout=0)
    assert cache.vault.ttl("m2") == math.inf


def test_inc_on_missing_key_and_atomicity(cache: EncryptedRedisCache) -> None:
    assert cache.inc("fresh", 5) == 5
    assert cache.vault.ttl("fresh") == math.inf
    assert cache.dec("fresh2") == -1

    def worker() -> None:
        for _ in range(50):
            cache.inc("shared")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("shared") == 200


def test_inc_on_a_non_integer_is_an_error(cache: EncryptedRedisCache) -> None:
    cache.set("text", "abc")
    with pytest.raises(ValueError):
        cache.inc("text")
    assert cache.get("text") == "abc"


def test_add_is_atomic(cache: EncryptedRedisCache) -> None:
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        barrier.wait()
        wins.append(cache.add("lock", i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]


@pytest.mark.parametrize(
    "key",
    ["", " padded ", "tab\there", "new\nline", "x" * 2000, "é" * 600, "~looks-hashed", "\ud800lone"],
    ids=["empty", "padded", "tab", "newline", "long", "long-utf8", "tilde", "surrogate"],
)
def test_any_cachelib_key_works(cache: EncryptedRedisCache, key: str) -> None:
    assert cache.set(key, ["v", key])
    assert cache.get(key) == ["v", key]
    assert cache.has(key)
    assert cache.get_many(key, "other") == [["v", key], None]
    assert cache.delete(key)
    assert cache.get(key) is None


def test_hashed_names_do_not_collide(cache: EncryptedRedisCache) -> None:
    import hashlib

    odd = "new\nline"
    lookalike = "~" + hashlib.sha256(odd.encode()).hexdigest()
    cache.set(odd, "odd")
    cache.set(lookalike, "lookalike")
    assert cache.get(odd) == "odd"
    assert cache.get(lookalike) == "lookalike"


def test_key_prefix_separates_caches_in_one_namespace(
    redis_plain: Any, ring: Keyring, namespace: str
) -> None:
    a = EncryptedRedisCache("127.0.0.1", redis_plain.port, key_prefix="a:", keyring=ring, namespace=namespace)
    b = EncryptedRedisCache("127.0.0.1", redis_plain.port, key_prefix="b:", keyring=ring, namespace=namespace)
    a.set("k", "from a")
    assert b.get("k") is None
    b.set("k", "from b")
    assert a.get("k") == "from a"
    # clear() empties the namespace (every prefix in it)
    assert a.clear()
    assert b.get("k") is None


def test_clear_leaves_other_namespaces_alone(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    a = EncryptedRedisCache("127.0.0.1", redis_plain.port, keyring=ring, namespace=namespace)
    b = EncryptedRedisCache("127.0.0.1", redis_plain.port, keyring=ring, namespace=namespace + "-b")
    a.set("k", 1)
    b.set("k", 2)
    a.clear()
    assert a.get("k") is None
    assert b.get("k") == 2
    b.clear()


def test_unlink_counts(cache: EncryptedRedisCache) -> None:
    cache.set_many({"u1": 1, "u2": 2})
    assert cache.unlink("u1", "u2", "u3") == 2
    assert cache.unlink() == 0
    assert cache.delete_many() == []


# ---- tampering -----------------------------------------------------------------------------------


def test_tampered_value_is_a_miss_with_one_warning(
    redis_plain: Any, cache: EncryptedRedisCache, ring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    secret_value = "sk-" + uuid.uuid4().hex
    cache.set("victim", secret_value)
    key = raw_key(ring, cache.vault.namespace, "victim")
    client = redis_plain.client()
    envelope = client.get(key)
    client.set(key, envelope[:-1] + bytes([envelope[-1] ^ 1]))
    with caplog.at_level(logging.WARNING, logger="keyseal.flask"):
        assert cache.get("victim") is None
    records = [r for r in caplog.records if r.name == "keyseal.flask"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    text = records[0].getMessage()
    assert "victim" not in text
    assert secret_value not in text
    assert "treated as a miss" in text
    # recomputed and overwritten
    cache.set("victim", "fresh")
    assert cache.get("victim") == "fresh"


def test_get_many_with_one_tampered_value(
    redis_plain: Any, cache: EncryptedRedisCache, ring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    cache.set_many({"a": 1, "b": "two", "c": [3]})
    client = redis_plain.client()
    # Move c's envelope into b's slot: a valid envelope, but bound to another name.
    client.set(
        raw_key(ring, cache.vault.namespace, "b"), client.get(raw_key(ring, cache.vault.namespace, "c"))
    )
    with caplog.at_level(logging.WARNING, logger="keyseal.flask"):
        assert cache.get_many("a", "b", "c", "missing") == [1, None, [3], None]
    assert len([r for r in caplog.records if r.name == "keyseal.flask"]) == 1


def test_nothing_is_unpickled_before_the_tag_verifies(
    redis_plain: Any, cache: EncryptedRedisCache, ring: Keyring
) -> None:
    UNPICKLED.clear()
    evil = pickle.dumps(Boom(), pickle.HIGHEST_PROTOCOL)
    pickle.loads(evil)
    assert UNPICKLED == ["boom"]  # the payload does run when unpickled
    UNPICKLED.clear()
    cache.set("slot", "placeholder")
    key = raw_key(ring, cache.vault.namespace, "slot")
    redis_plain.client().set(key, evil)  # an attacker with Redis access writes a raw pickle
    assert cache.get("slot") is None
    assert cache.get_many("slot") == [None]
    assert cache.inc("slot") == 1  # a miss: started again and overwritten
    assert UNPICKLED == []


def test_tampered_counter_restarts(redis_plain: Any, cache: EncryptedRedisCache, ring: Keyring) -> None:
    cache.set("count", 10)
    key = raw_key(ring, cache.vault.namespace, "count")
    client = redis_plain.client()
    envelope = client.get(key)
    client.set(key, envelope[:-1] + bytes([envelope[-1] ^ 1]))
    assert cache.inc("count", 2) == 2
    assert cache.get("count") == 2


def test_other_keyring_cannot_read(redis_plain: Any, cache: EncryptedRedisCache) -> None:
    cache.set("k", "v")
    intruder = EncryptedRedisCache(
        "127.0.0.1", redis_plain.port, keyring=Keyring.generate(), namespace=cache.vault.namespace
    )
    assert intruder.get("k") is None  # different naming key: a different slot altogether
    intruder.close()


# ---- construction and Flask-Caching config ---------------------------------------------------------


def test_bad_construction(ring: Keyring) -> None:
    with pytest.raises(ValueError, match="may not be None"):
        EncryptedRedisCache(None, keyring=ring)
    with pytest.raises(TypeError, match="not a client object"):
        EncryptedRedisCache(object(), keyring=ring)
    with pytest.raises(TypeError, match="key_prefix"):
        EncryptedRedisCache("127.0.0.1", key_prefix=lambda: "x", keyring=ring)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keyring") as info:
        EncryptedRedisCache("127.0.0.1", keyring="ks1,not-a-real-keyring")
    assert "not-a-real-keyring" not in str(info.value)
    with pytest.raises(ValueError, match="empty"):
        EncryptedRedisCache("", keyring=ring)
    with pytest.raises(ConfigurationError):  # plaintext Redis to a remote host, refused before any I/O
        EncryptedRedisCache("10.255.255.1", keyring=ring)


def test_factory_without_keyring_is_a_clear_error(redis_plain: Any) -> None:
    app = Flask(f"fc_{uuid.uuid4().hex}")
    app.config.update(CACHE_TYPE="keyseal.flask.EncryptedRedisCache", CACHE_REDIS_PORT=redis_plain.port)
    with pytest.raises(ConfigurationError, match="CACHE_OPTIONS"):
        Cache(app)


def test_factory_reads_host_port_db_prefix_timeout(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    app, ext = flask_app(
        redis_plain,
        ring,
        namespace,
        CACHE_REDIS_DB=3,
        CACHE_KEY_PREFIX="myapp_",
        CACHE_DEFAULT_TIMEOUT=120,
    )
    c = backend(app, ext)
    assert c.key_prefix == "myapp_"
    assert c.default_timeout == 120
    with app.app_context():
        ext.set("k", "v")
        assert ext.get("k") == "v"
    assert redis_plain.client(db=3).exists(raw_key(ring, namespace, "myapp_k")) == 1
    assert redis_plain.client(db=0).exists(raw_key(ring, namespace, "myapp_k")) == 0
    assert 110 < c.vault.ttl("myapp_k") <= 120  # type: ignore[operator]
    c.clear()


def test_factory_reads_url_and_password(redis_password: Any, ring: Keyring, namespace: str) -> None:
    url = f"redis://127.0.0.1:{redis_password.port}"
    app, ext = flask_app(
        redis_password, ring, namespace, CACHE_REDIS_URL=url, CACHE_REDIS_PASSWORD=redis_password.password
    )
    with app.app_context():
        ext.set("k", [1, 2])
        assert ext.get("k") == [1, 2]
    bad, bad_ext = flask_app(
        redis_password, ring, namespace, CACHE_REDIS_URL=url, CACHE_REDIS_PASSWORD="nope"
    )
    with bad.app_context(), pytest.raises(StoreAuthError) as info:
        bad_ext.get("k")
    assert "nope" not in str(info.value)
    backend(app, ext).clear()


def test_url_database_wins_over_cache_redis_db(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    url = redis_plain.url.rsplit("/", 1)[0] + "/5"
    app, ext = flask_app(redis_plain, ring, namespace, CACHE_REDIS_URL=url, CACHE_REDIS_DB=4)
    with app.app_context():
        ext.set("k", 1)
    assert redis_plain.client(db=5).exists(raw_key(ring, namespace, "flask_cache_k")) == 1
    backend(app, ext).clear()


# ---- memoize and cached views through Flask's test client ------------------------------------------


def test_memoize_and_cached_view(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    app, ext = flask_app(redis_plain, ring, namespace)
    calls: list[str] = []
    secret_value = "sk-" + uuid.uuid4().hex

    @ext.memoize(timeout=60)
    def upstream(city: str) -> dict[str, str]:
        calls.append(city)
        return {"city": city, "token": secret_value}

    @app.get("/city/<name>")
    def city(name: str) -> Any:
        return jsonify(upstream(name))

    @app.get("/front")
    @ext.cached(timeout=60)
    def front() -> Any:
        calls.append("front")
        return jsonify(time=time.time())

    client = app.test_client()
    assert client.get("/city/paris").json == {"city": "paris", "token": secret_value}
    assert client.get("/city/paris").json == {"city": "paris", "token": secret_value}
    assert client.get("/city/oslo").json["city"] == "oslo"
    assert calls == ["paris", "oslo"]
    first = client.get("/front").json
    assert client.get("/front").json == first
    assert calls == ["paris", "oslo", "front"]
    with app.app_context():
        ext.delete_memoized(upstream, "paris")
    client.get("/city/paris")
    assert calls == ["paris", "oslo", "front", "paris"]
    # Nothing readable in Redis: neither the memoized value nor the view's response.
    raw = redis_plain.client()
    for key in raw.scan_iter(count=1000):
        value = raw.get(key) or b""
        assert secret_value.encode() not in value
        assert b"paris" not in value
        assert b"paris" not in key
    backend(app, ext).clear()


def test_cached_view_survives_a_tampered_entry(
    redis_plain: Any, ring: Keyring, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, ext = flask_app(redis_plain, ring, namespace)
    calls: list[int] = []

    @app.get("/page")
    @ext.cached(timeout=60)
    def page() -> Any:
        calls.append(1)
        return jsonify(n=len(calls))

    client = app.test_client()
    assert client.get("/page").json == {"n": 1}
    raw = redis_plain.client()
    c = backend(app, ext)
    # Corrupt every entry of this namespace (the view's key is opaque): flip one byte each.
    prefix = raw_key(ring, namespace, "x").rsplit(b":", 1)[0] + b":"
    touched = 0
    for key in raw.scan_iter(match=prefix + b"*", count=1000):
        envelope = raw.get(key)
        raw.set(key, envelope[:-1] + bytes([envelope[-1] ^ 1]))
        touched += 1
    assert touched >= 1
    with caplog.at_level(logging.WARNING, logger="keyseal.flask"):
        reply = client.get("/page")
    assert reply.status_code == 200
    assert reply.json == {"n": 2}  # recomputed
    assert any(r.name == "keyseal.flask" for r in caplog.records)
    assert client.get("/page").json == {"n": 2}  # and cached again
    c.clear()
