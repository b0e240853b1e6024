"""TLS: verified by default (CA and hostname), client certificates, and loudly named opt-outs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from _extra_servers import least_privilege_server
from keyseal import ConfigurationError, Keyring, StoreConnectionError, StoreError, Vault


def _roundtrip(vault: Vault) -> None:
    vault.put("api", "sk_test_tls_value")
    got = vault.get("api")
    assert got is not None
    assert got.reveal() == "sk_test_tls_value"


def test_verified_connection_sync_and_async(redis_tls: Any) -> None:
    vault = Vault(redis_tls.url, keyring=Keyring.generate(), ssl_ca_certs=redis_tls.ca_path)
    _roundtrip(vault)

    async def run() -> str | None:
        await vault.aput("a", "async-over-tls")
        got = await vault.aget("a")
        return None if got is None else got.reveal()

    assert asyncio.run(run()) == "async-over-tls"
    vault.close()


def test_value_on_the_server_is_sealed(redis_tls: Any) -> None:
    vault = Vault(
        redis_tls.url, keyring=Keyring.generate(), namespace="tls-raw", ssl_ca_certs=redis_tls.ca_path
    )
    vault.put("api", "plaintext-must-not-appear")
    raw = redis_tls.client()
    values = [raw.get(k) for k in raw.scan_iter(count=1000)]
    assert values
    assert all(b"plaintext-must-not-appear" not in (v or b"") for v in values)


def test_wrong_ca_is_refused(redis_tls: Any) -> None:
    vault = Vault(redis_tls.url, keyring=Keyring.generate(), ssl_ca_certs=redis_tls.other_ca_path)
    with pytest.raises(StoreConnectionError, match=r"invalid peer certificate: UnknownIssuer"):
        vault.get("api")


def test_system_roots_do_not_trust_a_private_ca(redis_tls: Any) -> None:
    vault = Vault(redis_tls.url, keyring=Keyring.generate())
    with pytest.raises(StoreError, match=r"(?i)certificate|issuer"):
        vault.get("api")


def test_hostname_mismatch_is_refused(redis_tls_badhost: Any) -> None:
    vault = Vault(redis_tls_badhost.url, keyring=Keyring.generate(), ssl_ca_certs=redis_tls_badhost.ca_path)
    with pytest.raises(StoreConnectionError, match=r'certificate not valid for name "localhost"'):
        vault.get("api")


def test_hostname_check_opt_out_is_explicit(redis_tls_badhost: Any) -> None:
    vault = Vault(
        redis_tls_badhost.url,
        keyring=Keyring.generate(),
        ssl_ca_certs=redis_tls_badhost.ca_path,
        ssl_check_hostname=False,
    )
    _roundtrip(vault)


def test_certificate_checks_opt_out_is_explicit(redis_tls: Any) -> None:
    vault = Vault(redis_tls.url, keyring=Keyring.generate(), ssl_cert_reqs="none")
    _roundtrip(vault)


def test_mutual_tls_with_client_certificate(redis_tls_mutual: Any) -> None:
    vault = Vault(
        redis_tls_mutual.url,
        keyring=Keyring.generate(),
        ssl_ca_certs=redis_tls_mutual.ca_path,
        ssl_certfile=redis_tls_mutual.client_cert_path,
        ssl_keyfile=redis_tls_mutual.client_key_path,
    )
    _roundtrip(vault)


def test_mutual_tls_without_client_certificate_fails(redis_tls_mutual: Any) -> None:
    vault = Vault(redis_tls_mutual.url, keyring=Keyring.generate(), ssl_ca_certs=redis_tls_mutual.ca_path)
    with pytest.raises(StoreConnectionError, match="CertificateRequired"):
        vault.put("api", "x")


def test_mutual_tls_with_a_foreign_client_certificate_fails(redis_tls_mutual: Any) -> None:
    vault = Vault(
        redis_tls_mutual.url,
        keyring=Keyring.generate(),
        ssl_ca_certs=redis_tls_mutual.ca_path,
        ssl_certfile=redis_tls_mutual.other_client_cert_path,
        ssl_keyfile=redis_tls_mutual.other_client_key_path,
    )
    with pytest.raises(StoreError):
        vault.put("api", "x")


def test_plaintext_client_on_the_tls_port_fails_fast(redis_tls: Any) -> None:
    url = f"redis://127.0.0.1:{redis_tls.port}/0"
    vault = Vault(url, keyring=Keyring.generate(), socket_timeout=1, socket_connect_timeout=1)
    start = time.monotonic()
    with pytest.raises(StoreError):
        vault.get("api")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("redis://127.0.0.1:6379/0", {"ssl_ca_certs": "/nonexistent/ca.pem"}),
        ("rediss://localhost:6379/0", {"ssl_cert_reqs": "optional"}),
        ("rediss://localhost:6379/0", {"ssl_certfile": "/tmp/c.pem"}),
        ("rediss://localhost:6379/0", {"ssl_ca_certs": "/nonexistent/ca.pem"}),
    ],
)
def test_inconsistent_tls_settings_are_configuration_errors(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Vault(url, keyring=Keyring.generate(), **options)


def test_tls_cluster(redis_cluster_tls: Any) -> None:
    vault = Vault(redis_cluster_tls.url, keyring=Keyring.generate(), ssl_ca_certs=redis_cluster_tls.ca_path)
    names = [f"n{i}" for i in range(50)]
    vault.put_many({n: f"value-{n}" for n in names})
    got = vault.get_many(names)
    assert {n: s.reveal() for n, s in got.items()} == {n: f"value-{n}" for n in names}
    assert vault.clear() == 50


def test_mutual_tls_as_the_least_privilege_user(redis_factory: Any) -> None:
    """TLS with client certificates and the documented ACL rule together, sync and async."""
    server = least_privilege_server(redis_factory, "tls-lp", tls=True, tls_auth_clients=True)
    assert server.url.startswith("rediss://app:")
    vault = Vault(
        server.url,
        keyring=Keyring.generate(),
        ssl_ca_certs=server.ca_path,
        ssl_certfile=server.client_cert_path,
        ssl_keyfile=server.client_key_path,
    )
    vault.put_many({f"n{i}": str(i) for i in range(20)}, ttl=60)
    assert {n: s.reveal() for n, s in vault.get_many([f"n{i}" for i in range(20)]).items()} == {
        f"n{i}": str(i) for i in range(20)
    }

    async def run() -> str | None:
        await vault.aput("a", "async")
        got = await vault.aget("a")
        return None if got is None else got.reveal()

    assert asyncio.run(run()) == "async"
    assert vault.rewrap() == 0
    assert vault.clear() == 21
