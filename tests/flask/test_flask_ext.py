"""keyseal.flask.KeySeal through Flask's own test client, against a real redis-server on loopback."""

from __future__ import annotations

import gc
import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify

import keyseal.flask as ksflask
from keyseal import ConfigurationError, Keyring, StoreAuthError, StoreConnectionError, Vault
from keyseal.flask import KeySeal, get_vault, vault


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYSEAL_KEYS", raising=False)


def make_app(name: str = "app", **config: Any) -> Flask:
    app = Flask(name)
    app.config.update(config)

    @app.get("/secret/<name>")
    def read(name: str) -> Any:
        secret = vault.get(name)
        return jsonify(found=secret is not None, value=None if secret is None else secret.reveal())

    @app.put("/secret/<name>/<value>")
    def write(name: str, value: str) -> Any:
        vault.put(name, value)
        return jsonify(ok=True)

    return app


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def namespace() -> str:
    return f"flask-{uuid.uuid4().hex[:12]}"


def test_factory_pattern_on_real_redis(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    ks = KeySeal()
    app = make_app(KEYSEAL_URL=redis_plain.url, KEYSEAL_KEYS=ring.export(), KEYSEAL_NAMESPACE=namespace)
    ks.init_app(app)
    assert isinstance(app.extensions["keyseal"].vault, Vault)
    client = app.test_client()
    assert client.get("/secret/api_key:service_a").json == {"found": False, "value": None}
    assert client.put("/secret/api_key:service_a/s3cr3t-value").json == {"ok": True}
    assert client.get("/secret/api_key:service_a").json == {"found": True, "value": "s3cr3t-value"}
    # Sealed in Redis: the plaintext is nowhere in the server's keys or values.
    raw = redis_plain.client()
    for key in raw.scan_iter(count=1000):
        assert b"s3cr3t-value" not in (raw.get(key) or b"")
        assert b"service_a" not in key
    # An independent Vault with the same keyring and namespace reads it back.
    with Vault(redis_plain.url, keyring=ring, namespace=namespace) as other:
        got = other.get("api_key:service_a")
        assert got is not None
        assert got.reveal() == "s3cr3t-value"


def test_defaults_set_with_setdefault() -> None:
    app = make_app(TESTING=True, KEYSEAL_NAMESPACE="mine")
    KeySeal(app)
    assert app.config["KEYSEAL_URL"] == "memory://"
    assert app.config["KEYSEAL_NAMESPACE"] == "mine"
    assert app.config["KEYSEAL_REDACT_LOGS"] is True
    with app.app_context():
        assert vault.namespace == "mine"


def test_keys_from_environment(monkeypatch: pytest.MonkeyPatch, redis_plain: Any, ring: Keyring) -> None:
    monkeypatch.setenv("KEYSEAL_KEYS", ring.export())
    ns = f"env-{uuid.uuid4().hex[:8]}"
    app = make_app(KEYSEAL_URL=redis_plain.url, KEYSEAL_NAMESPACE=ns)
    KeySeal(app)
    app.test_client().put("/secret/k/v1")
    with Vault(redis_plain.url, keyring=ring, namespace=ns) as other:
        got = other.get("k")
        assert got is not None
        assert got.reveal() == "v1"


def test_keyring_object_accepted(ring: Keyring) -> None:
    app = make_app(KEYSEAL_KEYS=ring)
    KeySeal(app)
    with app.app_context():
        vault.put("x", "y")
        sealed = get_vault(app)
        assert sealed.get("x") is not None


def test_missing_keys_is_an_error_at_init_app() -> None:
    app = make_app()  # neither debug nor testing
    with pytest.raises(ConfigurationError, match="KEYSEAL_KEYS is not set"):
        KeySeal(app)
    assert "keyseal" not in app.extensions


@pytest.mark.parametrize("flag", ["TESTING", "DEBUG"])
def test_missing_keys_in_testing_or_debug_gets_a_throwaway_keyring(flag: str) -> None:
    app = make_app(**{flag: True})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    app.logger.addHandler(handler)
    try:
        KeySeal(app)
    finally:
        app.logger.removeHandler(handler)
    assert "throwaway keyring" in stream.getvalue()
    assert app.test_client().put("/secret/a/b").json == {"ok": True}
    assert app.test_client().get("/secret/a").json == {"found": True, "value": "b"}


def test_bad_keyring_text_is_a_clear_error_without_the_text() -> None:
    bad = "ks1,name=this-looks-secret-XYZ123,key=nothing"
    with pytest.raises(ConfigurationError) as info:
        KeySeal(make_app(KEYSEAL_KEYS=bad))
    assert "KEYSEAL_KEYS" in str(info.value)
    assert "this-looks-secret-XYZ123" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_bad_keyring_type() -> None:
    with pytest.raises(ConfigurationError, match=r"must be a keyseal\.Keyring"):
        KeySeal(make_app(KEYSEAL_KEYS=b"bytes"))


def test_bad_environment_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSEAL_KEYS", "garbage-garbage")
    with pytest.raises(ConfigurationError, match="environment") as info:
        KeySeal(make_app())
    assert "garbage" not in str(info.value)


def test_bad_options(ring: Keyring) -> None:
    with pytest.raises(ConfigurationError, match="KEYSEAL_OPTIONS must be a dict"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_OPTIONS=["password"]))
    with pytest.raises(ConfigurationError, match="KEYSEAL_KEYS"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_OPTIONS={"keyring": ring}))
    with pytest.raises(ConfigurationError, match="KEYSEAL_NAMESPACE"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_OPTIONS={"namespace": "x"}))
    with pytest.raises(TypeError, match="no_such_option"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_OPTIONS={"no_such_option": 1}))
    with pytest.raises(ConfigurationError, match="KEYSEAL_URL"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_URL=None))
    with pytest.raises(ValueError, match="namespace"):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_NAMESPACE="bad namespace!"))


def test_plaintext_to_a_remote_host_refused_at_init_app(ring: Keyring) -> None:
    # Validated at init_app, before any connection: nothing is sent to 10.255.255.1.
    with pytest.raises(ConfigurationError):
        KeySeal(make_app(KEYSEAL_KEYS=ring, KEYSEAL_URL="redis://10.255.255.1:6379/0"))


def test_options_by_redis_py_names(redis_password: Any, ring: Keyring) -> None:
    ns = f"pw-{uuid.uuid4().hex[:8]}"
    good = make_app(
        "good",
        KEYSEAL_URL=f"redis://127.0.0.1:{redis_password.port}/0",
        KEYSEAL_KEYS=ring,
        KEYSEAL_NAMESPACE=ns,
        KEYSEAL_OPTIONS={"password": redis_password.password, "socket_timeout": 5},
    )
    KeySeal(good)
    assert good.test_client().put("/secret/a/b").json == {"ok": True}
    bad = make_app(
        "bad",
        KEYSEAL_URL=f"redis://127.0.0.1:{redis_password.port}/0",
        KEYSEAL_KEYS=ring,
        KEYSEAL_OPTIONS={"password": "wrong-password"},
    )
    KeySeal(bad)
    with bad.app_context(), pytest.raises(StoreAuthError) as info:
        vault.get("a")
    assert "wrong-password" not in str(info.value)


def test_several_apps_each_get_their_own_vault(ring: Keyring) -> None:
    ks = KeySeal()
    first = make_app("first", KEYSEAL_KEYS=ring)
    second = make_app("second", KEYSEAL_KEYS=ring)
    ks.init_app(first)
    ks.init_app(second)
    assert get_vault(first) is not get_vault(second)
    first.test_client().put("/secret/shared/one")
    second.test_client().put("/secret/shared/two")
    assert first.test_client().get("/secret/shared").json["value"] == "one"
    assert second.test_client().get("/secret/shared").json["value"] == "two"
    with first.app_context():
        assert get_vault() is get_vault(first)
        with second.app_context():
            assert get_vault() is get_vault(second)


def test_same_namespace_on_one_redis_is_shared(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    config = {"KEYSEAL_URL": redis_plain.url, "KEYSEAL_KEYS": ring, "KEYSEAL_NAMESPACE": namespace}
    a, b = make_app("a", **config), make_app("b", **config)
    c = make_app("c", **(config | {"KEYSEAL_NAMESPACE": namespace + "-other"}))
    for app in (a, b, c):
        KeySeal(app)
    a.test_client().put("/secret/k/from-a")
    assert b.test_client().get("/secret/k").json["value"] == "from-a"
    assert c.test_client().get("/secret/k").json["found"] is False


def test_init_twice_is_an_error(ring: Keyring) -> None:
    app = make_app(KEYSEAL_KEYS=ring)
    KeySeal(app)
    with pytest.raises(RuntimeError, match="already initialised"):
        KeySeal().init_app(app)


def test_proxy_errors() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        vault.get("x")
    bare = Flask("bare")
    with bare.app_context(), pytest.raises(RuntimeError, match="KeySeal is not initialised"):
        vault.get("x")


def test_vault_closed_when_app_is_collected(ring: Keyring) -> None:
    app = make_app(KEYSEAL_KEYS=ring)
    KeySeal(app)
    held = get_vault(app)
    held.put("k", "v")
    assert held.get("k") is not None
    del app
    gc.collect()
    with pytest.raises(StoreConnectionError):
        held.get("k")


def test_close_explicitly(ring: Keyring) -> None:
    app = make_app(KEYSEAL_KEYS=ring)
    ks = KeySeal(app)
    held = get_vault(app)
    ks.close(app)
    assert "keyseal" not in app.extensions
    with pytest.raises(StoreConnectionError):
        held.get("k")
    ks.init_app(app)  # a fresh Vault
    with app.app_context():
        assert vault.get("k") is None


def test_vault_survives_requests_and_app_contexts(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    app = make_app(KEYSEAL_URL=redis_plain.url, KEYSEAL_KEYS=ring, KEYSEAL_NAMESPACE=namespace)
    KeySeal(app)
    client = app.test_client()
    for i in range(5):
        client.put(f"/secret/n{i}/v{i}")
    assert [client.get(f"/secret/n{i}").json["value"] for i in range(5)] == [f"v{i}" for i in range(5)]


@pytest.fixture
def captured_app(ring: Keyring) -> Iterator[tuple[Flask, io.StringIO]]:
    # app.logger is logging.getLogger(app.name): a name of its own, so no earlier test's filter is on it.
    app = make_app(f"app_{uuid.uuid4().hex}", KEYSEAL_KEYS=ring)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    app.logger.addHandler(handler)
    app.logger.setLevel(logging.INFO)

    @app.get("/leak/<name>")
    def leak(name: str) -> Any:
        secret = vault.get(name)
        assert secret is not None
        plain = secret.reveal()
        app.logger.info("calling upstream with key=%s", plain)
        app.logger.getChild("upstream").info("Authorization header was %s", plain)
        return jsonify(ok=True)

    yield app, stream
    app.logger.removeHandler(handler)


@pytest.mark.parametrize("redact", [True, False])
def test_redacting_filter_on_app_logger(captured_app: tuple[Flask, io.StringIO], redact: bool) -> None:
    app, stream = captured_app
    app.config["KEYSEAL_REDACT_LOGS"] = redact
    KeySeal(app)
    value = "zq-" + uuid.uuid4().hex  # no token format: only the known-value matcher can catch it
    with app.app_context():
        vault.put("upstream", value)
    assert app.test_client().get("/leak/upstream").json == {"ok": True}
    logged = stream.getvalue()
    assert "calling upstream" in logged
    assert "Authorization header was" in logged
    if redact:
        assert value not in logged
        assert any(isinstance(f, ksflask.RedactingFilter) for f in app.logger.filters)
    else:
        # The control: without the filter the same records carry the value (so the test can fail).
        assert logged.count(value) == 2


def test_redacting_filter_added_once(ring: Keyring) -> None:
    app = make_app(f"once_{uuid.uuid4().hex}", KEYSEAL_KEYS=ring)
    KeySeal(app)
    KeySeal.close(app)
    KeySeal(app)
    count = sum(isinstance(f, ksflask.RedactingFilter) for f in app.logger.filters)
    assert count == 1


def test_lazy_exports() -> None:
    assert "require_api_key" in ksflask.__all__
    assert "EncryptedRedisCache" in ksflask.__all__
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = ksflask.no_such_name  # type: ignore[attr-defined]
