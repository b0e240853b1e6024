"""EncryptedRedisCache beyond Django's own suite: sealed at rest, tampering as a logged miss, atomic
incr on sealed values, timeouts, one client per process, pre-fork, native async, JSON."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import secrets
import signal
import threading
import time
import warnings

import pytest
from _django_helpers import Records, db_url, keyseal_cache
from django.core.cache import CacheKeyWarning
from django.core.cache.backends.base import BaseCache

import keyseal
from keyseal.django import EncryptedRedisCache

LOGGER = "keyseal.django"


@pytest.fixture(params=["memory", "redis"])
def where(request) -> str:
    """A Vault URL: a private memory store, or database 4 of the plain test Redis."""
    if request.param == "memory":
        return f"memory://django-{secrets.token_hex(4)}"
    return db_url(request.getfixturevalue("redis_plain").url, 4)


@pytest.fixture
def redis_url(redis_plain) -> str:
    return db_url(redis_plain.url, 4)


@pytest.fixture
def raw(redis_plain):
    client = redis_plain.client(db=4)
    yield client
    client.close()


def ttl(cache, key: str) -> float | None:
    """Seconds left on a cache entry, as the Vault sees it."""
    return cache.vault.ttl(cache.make_key(key))


def ns() -> str:
    return "t-" + secrets.token_hex(6)


@pytest.fixture
def records():
    handler = Records()
    log = logging.getLogger(LOGGER)
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)


def only_key(raw) -> bytes:
    keys = list(raw.scan_iter(count=1000))
    assert len(keys) == 1, keys
    return keys[0]


@pytest.fixture
def fresh_db(raw):
    raw.flushdb()
    yield raw
    raw.flushdb()


# -- at rest
def test_values_and_keys_sealed_at_rest(use_caches, keyring_text, redis_url, fresh_db) -> None:
    caches = use_caches(default=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()))
    marker = "sk_live_" + secrets.token_hex(16)
    caches["default"].set("user:42:stripe_key", {"key": marker}, 60)
    assert caches["default"].get("user:42:stripe_key") == {"key": marker}
    key = only_key(fresh_db)
    value = fresh_db.get(key)
    assert b"user:42" not in key
    assert b"stripe" not in key
    assert marker.encode() not in value
    assert value.startswith(b"KS\x01")


# -- failures to open
def test_tampered_value_is_a_miss_and_one_warning(
    use_caches, keyring_text, redis_url, fresh_db, records
) -> None:
    caches = use_caches(sealed=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()))
    cache = caches["sealed"]
    cache.set("victim", "value-" + secrets.token_hex(8))
    key = only_key(fresh_db)
    envelope = bytearray(fresh_db.get(key))
    envelope[-1] ^= 1
    fresh_db.set(key, bytes(envelope))
    assert cache.get("victim", "default") == "default"
    assert len(records.records) == 1
    record = records.records[0]
    assert record.levelno == logging.WARNING
    text = records.messages()[0]
    assert "'sealed'" in text
    assert "victim" not in text
    # get_or_set recomputes and overwrites it (add() alone would keep the bad entry forever).
    assert cache.get_or_set("victim", lambda: "fresh") == "fresh"
    assert cache.get("victim") == "fresh"
    assert len(records.records) == 2


def test_moved_value_is_a_miss(use_caches, keyring_text, redis_url, fresh_db, records) -> None:
    caches = use_caches(default=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    cache.set("a", "for a")
    key_a = only_key(fresh_db)
    cache.set("b", "for b")
    key_b = next(k for k in fresh_db.scan_iter() if k != key_a)
    fresh_db.set(key_b, fresh_db.get(key_a))  # a's envelope copied into b's slot
    assert cache.get("b") is None
    assert cache.get_many(["a", "b"]) == {"a": "for a"}
    assert len(records.records) == 2


def test_value_never_unpickled_before_verification(
    use_caches, keyring_text, redis_url, fresh_db, records
) -> None:
    caches = use_caches(default=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    cache.set("k", "v")
    key = only_key(fresh_db)
    fresh_db.set(key, pickle.dumps(Tripwire()))
    assert cache.get("k") is None
    assert cache.get_many(["k"]) == {}
    assert not Tripwire.fired
    assert len(records.records) == 2


class Tripwire:
    fired = False

    def __reduce__(self):
        return (_fire, ())


def _fire() -> None:
    Tripwire.fired = True


def test_retired_key_is_a_miss_get_many_returns_the_rest(use_caches, where, records) -> None:
    old = keyseal.Keyring.generate()
    new = old.rotated()
    space = ns()
    caches = use_caches(default=keyseal_cache(where, old, NAMESPACE=space))
    caches["default"].set_many({"old1": 1, "old2": "two"})
    caches = use_caches(default=keyseal_cache(where, new.without(old.primary_id), NAMESPACE=space))
    cache = caches["default"]
    cache.set("new", [3])
    assert cache.get("old1") is None
    assert cache.get_many(["old1", "old2", "new", "missing"]) == {"new": [3]}
    with pytest.raises(ValueError, match="not found"):
        cache.incr("old1")
    assert [r.levelno for r in records.records] == [logging.WARNING] * 3
    assert "2 stored values failed" in records.messages()[1]


# -- incr / decr
def test_incr_is_atomic_across_threads(use_caches, keyring_text, where) -> None:
    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    caches["default"].set("hits", 0)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            cache = caches["default"]  # Django gives each thread its own backend object
            for _ in range(500):
                cache.incr("hits")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert caches["default"].get("hits") == 4000


def test_incr_semantics(use_caches, keyring_text, where) -> None:
    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    cache.set("n", 10, 100)
    assert cache.incr("n", 5) == 15
    assert cache.decr("n", 20) == -5
    assert cache.get("n") == -5
    assert 90 < ttl(cache, "n") <= 100  # the TTL is kept
    cache.set("s", "text")
    with pytest.raises(TypeError):
        cache.incr("s")
    cache.set("t", True)  # bool is pickled, not an integer counter
    with pytest.raises(TypeError):
        cache.incr("t")
    assert cache.get("t") is True
    big = 2**70
    cache.set("big", big)
    assert cache.get("big") == big


# -- timeouts
def test_timeouts(use_caches, keyring_text, where) -> None:
    conf = keyseal_cache(where, keyring_text, NAMESPACE=ns())
    conf["TIMEOUT"] = 120
    caches = use_caches(default=conf)
    cache = caches["default"]
    cache.set("default", 1)
    assert 110 < ttl(cache, "default") <= 120
    cache.set("forever", 1, None)
    assert ttl(cache, "forever") == float("inf")
    cache.set("zero", 1, 0)
    cache.set("negative", 1, -5)
    assert cache.get_many(["zero", "negative"]) == {}
    assert cache.add("zero", 1, 0) is True
    assert cache.get("zero") is None
    cache.set("short", 1, 0.3)
    assert cache.touch("short", 30) is True
    assert 25 < ttl(cache, "short") <= 30
    assert cache.touch("short", None) is True
    assert ttl(cache, "short") == float("inf")
    assert cache.touch("short", 0) is True
    assert cache.has_key("short") is False
    assert cache.touch("missing", 10) is False
    cache.set("blink", 1, 0.2)
    time.sleep(0.5)
    assert cache.get("blink") is None


# -- the client
def test_one_vault_per_process_and_settings(use_caches, keyring_text, where) -> None:
    space = ns()
    caches = use_caches(
        default=keyseal_cache(where, keyring_text, NAMESPACE=space),
        prefixed={**keyseal_cache(where, keyring_text, NAMESPACE=space), "KEY_PREFIX": "p"},
        other=keyseal_cache(where, keyring_text, NAMESPACE=space + "x"),
    )
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(caches["default"].vault))
    t.start()
    t.join()
    assert caches["default"] is not None
    assert seen[0] is caches["default"].vault
    assert caches["prefixed"].vault is caches["default"].vault
    assert caches["other"].vault is not caches["default"].vault
    assert caches["default"].alias == "default"
    assert caches["prefixed"].alias == "prefixed"


def test_close_keeps_the_client(use_caches, keyring_text, where) -> None:
    from django.core.signals import request_finished

    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    cache.set("k", "v")
    cache.close()
    request_finished.send(sender=None)  # what Django does after every request
    assert cache.get("k") == "v"
    assert caches["default"].get("k") == "v"


def test_clear_only_its_namespace(use_caches, keyring_text, redis_url, fresh_db) -> None:
    caches = use_caches(
        mine=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()),
        theirs=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()),
    )
    fresh_db.set("unrelated", "keep me")
    caches["mine"].set_many({"a": 1, "b": 2})
    caches["theirs"].set("c", 3)
    caches["mine"].clear()
    assert caches["mine"].get_many(["a", "b"]) == {}
    assert caches["theirs"].get("c") == 3
    assert fresh_db.get("unrelated") == b"keep me"


def test_keys_the_vault_would_refuse_still_work(use_caches, keyring_text, where) -> None:
    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    for key in ["tab\there", "trailing ", "x" * 400, "nul\x00"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheKeyWarning)
            cache.set(key, key)
            assert cache.get(key) == key
            assert cache.get_many([key]) == {key: key}
            assert cache.delete(key) is True


def test_json_serializer(use_caches, keyring_text, where) -> None:
    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns(), SERIALIZER="json"))
    cache = caches["default"]
    cache.set("doc", {"a": [1, 2.5, "x", None, True]})
    assert cache.get("doc") == {"a": [1, 2.5, "x", None, True]}
    assert cache.vault.get_bytes(cache.make_key("doc")) == b'{"a":[1,2.5,"x",null,true]}'
    cache.set("n", 41)
    assert cache.incr("n") == 42
    with pytest.raises(TypeError):
        cache.set("obj", object())


def test_pre_fork(use_caches, keyring_text, redis_url) -> None:
    """gunicorn --preload: the master used the cache, then forked; every worker keeps working."""
    caches = use_caches(default=keyseal_cache(redis_url, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    cache.set("before-fork", "parent")
    assert cache.get("before-fork") == "parent"
    children = []
    for i in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                signal.alarm(20)  # a hung child dies instead of hanging the test
                if cache.get("before-fork") == "parent":
                    cache.set(f"child-{i}", i)
                    code = 0 if cache.incr(f"child-{i}") == i + 1 else 3
                else:
                    code = 2
            finally:
                os._exit(code)
        children.append(pid)
    statuses = []
    deadline = time.monotonic() + 60
    for pid in children:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                statuses.append(os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                statuses.append("hung")
                break
            time.sleep(0.05)
    assert statuses == [0, 0]
    assert cache.get_many(["child-0", "child-1"]) == {"child-0": 1, "child-1": 2}
    assert cache.get("before-fork") == "parent"


# -- async
ASYNC_METHODS = [
    "aadd",
    "aget",
    "aset",
    "atouch",
    "adelete",
    "aget_many",
    "ahas_key",
    "aincr",
    "aset_many",
    "adelete_many",
    "aclear",
    "aclose",
]


def test_async_methods_are_native() -> None:
    for name in ASYNC_METHODS:
        assert getattr(EncryptedRedisCache, name) is not getattr(BaseCache, name), name


@pytest.mark.asyncio
async def test_async_contract(use_caches, keyring_text, where, monkeypatch) -> None:
    import asgiref.sync

    def no_threads(*args, **kwargs):
        raise AssertionError("a sync method ran in a thread (sync_to_async)")

    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", no_threads)
    await cache.aset("k", {"v": 1}, 60)
    assert await cache.aget("k") == {"v": 1}
    assert await cache.aget("missing", "dflt") == "dflt"
    assert await cache.aadd("k", "other") is False
    assert await cache.aadd("new", "value") is True
    assert await cache.aadd("gone", "value", 0) is True
    assert await cache.ahas_key("gone") is False
    assert await cache.aset_many({"a": 1, "b": 2}) == []
    assert await cache.aget_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert await cache.aincr("a", 10) == 11
    assert await cache.adecr("a") == 10
    with pytest.raises(ValueError, match="not found"):
        await cache.aincr("c")
    assert await cache.ahas_key("a") is True
    assert await cache.atouch("a", None) is True
    assert await cache.atouch("c", 10) is False
    assert await cache.aget_or_set("c", lambda: "made") == "made"
    assert await cache.aget_or_set("c", "other") == "made"
    assert await cache.adelete("c") is True
    assert await cache.adelete("c") is False
    await cache.adelete_many(["a", "b"])
    assert await cache.aget_many(["a", "b"]) == {}
    await cache.aset("v", "x", version=1)
    assert await cache.aincr_version("v") == 2
    assert await cache.aget("v", version=2) == "x"
    await cache.aset_many({"z": 0}, 0)
    assert await cache.ahas_key("z") is False
    await cache.aclear()
    assert await cache.aget("k") is None
    await cache.aclose()


@pytest.mark.asyncio
async def test_async_tampered_is_a_miss(use_caches, keyring_text, where, records) -> None:
    old = keyseal.Keyring.generate()
    space = ns()
    caches = use_caches(default=keyseal_cache(where, old, NAMESPACE=space))
    await caches["default"].aset_many({"x": 1, "y": 2})
    new = old.rotated().without(old.primary_id)
    caches = use_caches(default=keyseal_cache(where, new, NAMESPACE=space))
    cache = caches["default"]
    await cache.aset("y", 3)
    assert await cache.aget("x", "miss") == "miss"
    assert await cache.aget_many(["x", "y"]) == {"y": 3}
    assert len(records.records) == 2
    assert await cache.aget_or_set("x", "recomputed") == "recomputed"
    assert await cache.aget("x") == "recomputed"


@pytest.mark.asyncio
async def test_many_concurrent_agets(use_caches, keyring_text, where) -> None:
    caches = use_caches(default=keyseal_cache(where, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    await cache.aset_many({f"k{i}": i for i in range(50)})
    results = await asyncio.gather(*(cache.aget(f"k{i % 60}") for i in range(2000)))
    assert results == [i % 60 if i % 60 < 50 else None for i in range(2000)]


def test_many_key_names_match_single_key_names(use_caches, keyring_text) -> None:
    """The one-pass naming of get_many/set_many/delete_many gives exactly the per-key names."""
    sets = [
        ["a", "b:c", "ключ", "emoji-\U0001f511"],
        ["a", "with space"],
        ["a", "x" * 260],
        ["a", "trailing\u3000"],
        ["a", "tab\t"],
        [],
    ]
    caches = use_caches(
        default=keyseal_cache("memory://", keyring_text),
        custom={**keyseal_cache("memory://", keyring_text), "KEY_FUNCTION": lambda k, p, v: f"K|{k}|{v}"},
    )
    for alias in ("default", "custom"):
        cache = caches[alias]
        for keys in sets:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheKeyWarning)
                for version in (None, 3):
                    expected = {cache._name(k, version): k for k in keys}
                    assert cache._names(keys, version) == expected


def test_tls_options_pass_through(use_caches, keyring_text, redis_tls) -> None:
    caches = use_caches(
        good=keyseal_cache(redis_tls.url, keyring_text, NAMESPACE=ns(), ssl_ca_certs=str(redis_tls.ca_path)),
        wrong_ca=keyseal_cache(
            redis_tls.url, keyring_text, NAMESPACE=ns(), ssl_ca_certs=str(redis_tls.other_ca_path)
        ),
    )
    caches["good"].set("k", "over TLS")
    assert caches["good"].get("k") == "over TLS"
    with pytest.raises(keyseal.StoreError):
        caches["wrong_ca"].get("k")


def test_cluster_location(use_caches, keyring_text, redis_cluster) -> None:
    caches = use_caches(default=keyseal_cache(redis_cluster.url, keyring_text, NAMESPACE=ns()))
    cache = caches["default"]
    data = {f"key-{i}": i for i in range(50)}  # spread over the cluster's slots
    assert cache.set_many(data) == []
    assert cache.get_many(list(data)) == data
    assert cache.incr("key-7", 3) == 10
    cache.delete_many(["key-1", "key-2"])
    assert cache.get_many(["key-1", "key-2", "key-3"]) == {"key-3": 3}
    cache.clear()
    assert cache.get_many(list(data)) == {}
