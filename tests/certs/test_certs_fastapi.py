"""keyseal's FastAPI ClientCertificate dependency, through FastAPI's TestClient."""

# No `from __future__ import annotations`: FastAPI must see the Depends() of a local dependency.
import logging
from typing import Annotated

import _certs_formats as fmt
import pytest
from _certs_pki import Capture, Pki
from cryptography.hazmat.primitives import hashes
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import keyseal
from keyseal import ConfigurationError
from keyseal._fastapi_cert import ClientCertificate

TRUSTED = ["127.0.0.1/32"]


def app_with(dep: ClientCertificate) -> FastAPI:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(
        cert: Annotated[keyseal.ClientCertificate | None, Depends(dep)],
    ) -> dict[str, str | None]:
        return {"subject": None if cert is None else cert.subject}

    return app


def client(dep: ClientCertificate, peer: str = "127.0.0.1") -> TestClient:
    return TestClient(app_with(dep), client=(peer, 50000))


def nginx_headers(capture: Capture) -> dict[str, str]:
    return {
        k: v for k, v in (("X-SSL-Client-Cert", capture.cert), ("X-SSL-Client-Verify", capture.verify)) if v
    }


def test_real_nginx_capture(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    bundle = pki.path("fastapi_bundle.pem")
    bundle.write_bytes(pki.root.pem + pki.intermediate.pem)
    dep = ClientCertificate(
        proxy="nginx", verify_header="X-SSL-Client-Verify", trusted_proxies=TRUSTED, ca_bundle=bundle
    )
    with client(dep) as c:
        ok = c.get("/whoami", headers=nginx_headers(nginx_captures["client_a"]))
        assert ok.status_code == 200
        assert ok.json() == {"subject": "CN=client-a,O=Acme"}
        for name in ("unverified:expired", "unverified:wrong_ca", "unverified:v1", "none"):
            denied = c.get("/whoami", headers=nginx_headers(nginx_captures[name]))
            assert denied.status_code == 403, name
            assert denied.json() == {"detail": "client certificate required"}


def test_untrusted_peer(nginx_captures: dict[str, Capture], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="keyseal.fastapi")
    headers = nginx_headers(nginx_captures["direct"])
    dep = ClientCertificate(trusted_proxies=TRUSTED, required=False)
    with client(dep, peer="203.0.113.5") as c:
        assert c.get("/whoami", headers=headers).status_code == 403
        assert c.get("/whoami").json() == {"subject": None}
    with client(dep) as c:
        assert c.get("/whoami", headers=headers).json() == {"subject": "CN=client-direct,O=Acme"}
        assert c.get("/whoami").json() == {"subject": None}
    (record,) = [r for r in caplog.records if r.name == "keyseal.fastapi"]
    assert (
        record.getMessage()
        == "client certificate refused for GET /whoami: certificate header from an untrusted peer"
    )


def test_allowlists_and_formats(pki: Pki) -> None:
    leaf, inter = pki.leaves["spiffe"].cert, pki.intermediate.cert
    header = fmt.envoy(leaf, inter)
    dep = ClientCertificate(
        proxy="envoy",
        trusted_proxies=TRUSTED,
        ca_bundle=pki.path("root.pem"),
        allowed_sans=["spiffe://example.org/ns/prod/sa/api"],
    )
    with client(dep) as c:
        assert c.get("/whoami", headers={"X-Forwarded-Client-Cert": header}).status_code == 200
        other = fmt.envoy(pki.leaves["client_a"].cert, inter)
        assert c.get("/whoami", headers={"X-Forwarded-Client-Cert": other}).status_code == 403
        forged_hash = fmt.envoy(leaf, inter, hash_="ab" * 32)
        assert c.get("/whoami", headers={"X-Forwarded-Client-Cert": forged_hash}).status_code == 403
    dep = ClientCertificate(
        proxy="rfc9440",
        trusted_proxies=TRUSTED,
        ca_bundle=pki.path("root.pem"),
        allowed_fingerprints=[pki.leaves["client_a"].cert.fingerprint(hashes.SHA256()).hex().upper()],
    )
    with client(dep) as c:
        headers = {
            "Client-Cert": fmt.rfc9440(pki.leaves["client_a"].cert),
            "Client-Cert-Chain": fmt.rfc9440_chain(inter),
        }
        assert c.get("/whoami", headers=headers).json() == {"subject": "CN=client-a,O=Acme"}
        # Without the chain header the intermediate is missing, and the root alone does not verify.
        assert c.get("/whoami", headers={"Client-Cert": headers["Client-Cert"]}).status_code == 403
    dep = ClientCertificate(proxy="alb", trusted_proxies=TRUSTED, allowed_subjects=["CN=client-a,O=Acme"])
    with client(dep) as c:
        value = fmt.alb(pki.leaves["client_a"].cert, inter)
        assert c.get("/whoami", headers={"X-Amzn-Mtls-Clientcert": value}).status_code == 200
        wrong = fmt.alb(pki.leaves["direct"].cert)
        assert c.get("/whoami", headers={"X-Amzn-Mtls-Clientcert": wrong}).status_code == 403


def test_bad_configuration(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match=r"0\.0\.0\.0/0"):
        ClientCertificate(trusted_proxies=["0.0.0.0/0"])
    with pytest.raises(ConfigurationError, match="::/0"):
        ClientCertificate(trusted_proxies=["::/0"])
    with pytest.raises(ConfigurationError, match="unknown client certificate PROXY"):
        ClientCertificate(proxy="haproxy")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ClientCertificate(ca_bundle="/nonexistent/bundle.pem")
    with pytest.raises(ConfigurationError, match="not an IP address"):
        ClientCertificate(trusted_proxies=["proxy.internal"])
    with pytest.raises(ConfigurationError, match="not a string"):
        ClientCertificate(trusted_proxies="10.0.0.1")  # type: ignore[arg-type]
