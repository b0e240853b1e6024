"""The exception hierarchy, secure connection defaults and clear, password-free errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

import keyseal
import keyseal.exceptions
from keyseal import (
    ConfigurationError,
    DecryptionError,
    Keyring,
    KeysealError,
    StoreAuthError,
    StoreConnectionError,
    StoreError,
    StoreTimeoutError,
    Vault,
)

PASSWORD = "sup3rs3cret-PW"
TEST_NET = "192.0.2.1"  # RFC 5737 TEST-NET-1: never routed, and never connected to here


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


def shown(exc: BaseException) -> str:
    return f"{exc}|{exc!r}|{exc.args!r}"


# ---------------------------------------------------------------------------------------------
# hierarchy


def test_hierarchy() -> None:
    for cls in (DecryptionError, ConfigurationError, StoreError):
        assert issubclass(cls, KeysealError)
    assert issubclass(KeysealError, Exception)
    for cls in (StoreConnectionError, StoreAuthError, StoreTimeoutError):
        assert issubclass(cls, StoreError)
        assert issubclass(cls, KeysealError)
    assert issubclass(StoreConnectionError, ConnectionError)
    assert issubclass(StoreTimeoutError, TimeoutError)
    assert issubclass(StoreAuthError, PermissionError)


def test_subclasses_are_distinct() -> None:
    base = [DecryptionError, ConfigurationError, StoreError]
    for a in base:
        for b in base:
            if a is not b:
                assert not issubclass(a, b)
    assert not issubclass(StoreConnectionError, StoreTimeoutError)
    assert not issubclass(StoreTimeoutError, StoreConnectionError)
    assert not issubclass(StoreAuthError, ConnectionError)
    assert not issubclass(DecryptionError, ValueError)
    assert not issubclass(ConfigurationError, ValueError)


def test_public_names_are_the_exceptions_module_classes() -> None:
    for name in keyseal.exceptions.__all__:
        assert getattr(keyseal, name) is getattr(keyseal.exceptions, name)
        assert name in keyseal.__all__


def test_native_errors_are_the_python_classes(ring: Keyring) -> None:
    with pytest.raises(KeysealError) as info:
        ring.open(b"garbage")
    assert type(info.value) is DecryptionError
    with pytest.raises(KeysealError) as info2:
        Keyring.from_string("nonsense")
    assert type(info2.value) is ConfigurationError


# ---------------------------------------------------------------------------------------------
# plaintext to remote hosts


@pytest.mark.parametrize(
    "url",
    [
        f"redis://{TEST_NET}:6379",
        f"redis://{TEST_NET}",
        f"redis://:{PASSWORD}@{TEST_NET}:6379/0",
        f"redis://user:{PASSWORD}@{TEST_NET}:6379",
        "redis://cache.example.invalid:6379",
        "redis://[2001:db8::1]:6379",
        f"redis+cluster://127.0.0.1:7000,{TEST_NET}:7001",
        "REDIS://192.0.2.1",
    ],
)
def test_plaintext_to_a_remote_host_is_refused(ring: Keyring, url: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigurationError) as info:
        Vault(url, keyring=ring)
    assert time.perf_counter() - started < 0.5, "refused before any connection attempt"
    assert PASSWORD not in shown(info.value)
    assert "allow_plaintext" in str(info.value)
    with pytest.raises(ConfigurationError):
        Vault(url, keyring=ring, password=PASSWORD)


def test_allow_plaintext_is_the_explicit_opt_in(ring: Keyring) -> None:
    started = time.perf_counter()
    v = Vault(f"redis://:{PASSWORD}@{TEST_NET}:6379", keyring=ring, allow_plaintext=True, namespace="remote")
    # no method that would connect: only the constructor, properties, repr and close
    assert v.namespace == "remote"
    assert PASSWORD not in repr(v)
    assert TEST_NET in repr(v)
    v.close()
    assert time.perf_counter() - started < 1.0, "constructing a Vault must not connect"
    cluster = Vault(f"redis+cluster://{TEST_NET}:7000", keyring=ring, allow_plaintext=True)
    cluster.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:1",
        "redis://localhost:1",
        "redis://LOCALHOST:1",
        "redis://[::1]:1",
        "redis://127.3.2.1:1",
    ],
)
def test_loopback_needs_no_opt_in(ring: Keyring, url: str) -> None:
    Vault(url, keyring=ring).close()


def test_tls_options_on_a_plaintext_url_are_refused(ring: Keyring) -> None:
    with pytest.raises(ConfigurationError):
        Vault("redis://127.0.0.1:1", keyring=ring, ssl_cert_reqs="none")
    with pytest.raises(ConfigurationError):
        Vault("redis://127.0.0.1:1", keyring=ring, ssl_ca_certs="/nonexistent/ca.pem")


def test_memory_store_takes_no_credentials(ring: Keyring) -> None:
    with pytest.raises(ConfigurationError):
        Vault("memory://", keyring=ring, password=PASSWORD)


# ---------------------------------------------------------------------------------------------
# URL parse errors never echo the password


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:notaport",
        f"redis://:{PASSWORD}@127.0.0.1:99999",
        f"bogus://:{PASSWORD}@127.0.0.1",
        f"redis://:{PASSWORD}@127.0.0.1?x=1",
        f"redis://:{PASSWORD}@127.0.0.1?db=abc",
        f"redis://:{PASSWORD}@127.0.0.1/notadb",
        f"redis://:{PASSWORD}@",
        f"redis://:{PASSWORD}@[::1",
        f"redis://:{PASSWORD}%zz@127.0.0.1",
        f"redis://user%:{PASSWORD}@127.0.0.1",
        f"redis://:{PASSWORD}@127.0.0.1,127.0.0.2",
        f"redis+cluster://:{PASSWORD}@127.0.0.1:7000/3",
        f"unix://:{PASSWORD}@relative/path.sock",
        f"memory://:{PASSWORD}@x",
        f"no-scheme-{PASSWORD}",
        f"redis://:{PASSWORD}@127.0.0.1/99999",
    ],
)
def test_url_errors_never_echo_the_password(ring: Keyring, url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Vault(url, keyring=ring)
    assert PASSWORD not in shown(info.value)
    assert "s3cret" not in shown(info.value)


# ---------------------------------------------------------------------------------------------
# repr hides the password


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:6390",
        f"redis://someone:{PASSWORD}@127.0.0.1:6390/2",
        f"unix://:{PASSWORD}@/tmp/keyseal-test.sock",
    ],
)
def test_repr_hides_the_password(ring: Keyring, url: str) -> None:
    v = Vault(url, keyring=ring)
    try:
        assert PASSWORD not in repr(v)
        assert PASSWORD not in str(v)
        assert "127.0.0.1" in repr(v) or "keyseal-test.sock" in repr(v)
    finally:
        v.close()


def test_repr_with_password_option(ring: Keyring) -> None:
    v = Vault("redis://127.0.0.1:6390", keyring=ring, password=PASSWORD, username="u")
    try:
        assert PASSWORD not in repr(v)
    finally:
        v.close()


# ---------------------------------------------------------------------------------------------
# real servers: wrong credentials, refused connections, silent servers


@pytest.mark.redis
def test_wrong_password_is_auth_error_without_the_password(ring: Keyring, redis_password: Any) -> None:
    wrong = "Wr0ng-Passw0rd-XYZ"
    v = Vault(f"redis://:{wrong}@{redis_password.host}:{redis_password.port}", keyring=ring)
    try:
        with pytest.raises(StoreAuthError) as info:
            v.get("k")
        assert isinstance(info.value, StoreError)
        assert wrong not in shown(info.value)
        assert redis_password.password not in shown(info.value)
        with pytest.raises(StoreAuthError) as info2:
            v.put("k", "v")
        assert wrong not in shown(info2.value)
    finally:
        v.close()


@pytest.mark.redis
def test_wrong_password_as_option(ring: Keyring, redis_password: Any) -> None:
    wrong = "An0ther-Wr0ng-One"
    v = Vault(f"redis://{redis_password.host}:{redis_password.port}", keyring=ring, password=wrong)
    try:
        with pytest.raises(StoreAuthError) as info:
            v.exists("k")
        assert wrong not in shown(info.value)
    finally:
        v.close()


@pytest.mark.redis
def test_missing_password_is_auth_error(ring: Keyring, redis_password: Any) -> None:
    v = Vault(f"redis://{redis_password.host}:{redis_password.port}", keyring=ring)
    try:
        with pytest.raises(StoreAuthError):
            v.get("k")
    finally:
        v.close()


@pytest.mark.redis
def test_wrong_acl_password_is_auth_error(ring: Keyring, redis_acl: Any) -> None:
    wrong = "N0t-The-ACL-Pass"
    v = Vault(f"redis://{redis_acl.username}:{wrong}@{redis_acl.host}:{redis_acl.port}", keyring=ring)
    try:
        with pytest.raises(StoreAuthError) as info:
            v.get("k")
        assert wrong not in shown(info.value)
    finally:
        v.close()


@pytest.mark.redis
@pytest.mark.asyncio
async def test_wrong_password_async(ring: Keyring, redis_password: Any) -> None:
    wrong = "Async-Wr0ng-PW"
    v = Vault(f"redis://:{wrong}@{redis_password.host}:{redis_password.port}", keyring=ring)
    try:
        with pytest.raises(StoreAuthError) as info:
            await v.aget("k")
        assert wrong not in shown(info.value)
    finally:
        v.close()


@pytest.mark.redis
def test_refused_connection_fails_fast(ring: Keyring, refused_port: Any) -> None:
    v = Vault(refused_port.url, keyring=ring, password=PASSWORD)
    try:
        for call in (lambda: v.get("k"), lambda: v.put("k", "v"), lambda: v.get_many(["a", "b"])):
            started = time.perf_counter()
            with pytest.raises(StoreConnectionError) as info:
                call()
            assert time.perf_counter() - started < 1.0
            assert isinstance(info.value, ConnectionError)
            assert PASSWORD not in shown(info.value)
    finally:
        v.close()


@pytest.mark.redis
@pytest.mark.asyncio
async def test_refused_connection_fails_fast_async(ring: Keyring, refused_port: Any) -> None:
    v = Vault(refused_port.url, keyring=ring)
    try:
        started = time.perf_counter()
        with pytest.raises(StoreConnectionError):
            await v.aget("k")
        assert time.perf_counter() - started < 1.0
    finally:
        v.close()


@pytest.mark.redis
def test_silent_server_times_out(ring: Keyring, redis_blackhole: Any) -> None:
    v = Vault(redis_blackhole.url, keyring=ring, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        started = time.perf_counter()
        with pytest.raises(StoreError) as info:
            v.get("k")
        elapsed = time.perf_counter() - started
        assert elapsed < 2.0, f"took {elapsed:.2f}s"
        # a server that accepts and never answers is a timeout, not a failed connection
        assert type(info.value) is StoreTimeoutError
        assert isinstance(info.value, TimeoutError)
    finally:
        v.close()


@pytest.mark.redis
def test_silent_server_put_fails_in_time(ring: Keyring, redis_blackhole: Any) -> None:
    v = Vault(redis_blackhole.url, keyring=ring, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        started = time.perf_counter()
        with pytest.raises(StoreError) as info:
            v.put("k", "v")
        assert time.perf_counter() - started < 2.0
        # a server that accepts but never answers is a timeout (a refused port, tested above, is
        # a failed connection): both are retryable store errors, never a hang
        assert type(info.value) is StoreTimeoutError
        assert isinstance(info.value, TimeoutError)
    finally:
        v.close()


@pytest.mark.redis
@pytest.mark.asyncio
async def test_silent_server_times_out_async(ring: Keyring, redis_blackhole: Any) -> None:
    v = Vault(redis_blackhole.url, keyring=ring, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        started = time.perf_counter()
        with pytest.raises(StoreTimeoutError):
            await v.aget("k")
        assert time.perf_counter() - started < 2.5
    finally:
        v.close()


@pytest.mark.parametrize("bad", [0, -1, "1", float("nan")])
def test_bad_timeouts_are_refused(ring: Keyring, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        Vault("redis://127.0.0.1:1", keyring=ring, socket_timeout=bad)
    with pytest.raises((ValueError, TypeError)):
        Vault("redis://127.0.0.1:1", keyring=ring, socket_connect_timeout=bad)


def test_non_utf8_password_and_url_credentials_are_refused_without_echo() -> None:
    """Both refusals happen before any copy of the bytes outlives the check (issue 8.18)."""
    import keyseal

    ring = keyseal.Keyring.generate()
    with pytest.raises(TypeError, match="password must be UTF-8") as info:
        keyseal.Vault("redis://127.0.0.1:1/0", keyring=ring, password=b"hunter2\xff")
    assert "hunter2" not in str(info.value)
    with pytest.raises(keyseal.ConfigurationError, match="not valid UTF-8") as info2:
        keyseal.Vault("redis://user:hunter2%FF@127.0.0.1:1/0", keyring=ring)
    assert "hunter2" not in str(info2.value)
