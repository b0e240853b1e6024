"""Header values captured from a real nginx ($ssl_client_escaped_cert, $ssl_client_verify), read back."""

from __future__ import annotations

import _certs_formats as fmt
import pytest
from _certs_pki import Capture, Pki

from keyseal import CertificateError, ClientCertificate


def _read(capture: Capture) -> ClientCertificate:
    assert capture.cert is not None
    return ClientCertificate.from_header(capture.cert, "nginx")


def test_nginx_escapes_the_pem(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    raw = nginx_captures["client_a"].cert
    assert raw is not None
    assert raw.startswith("-----BEGIN%20CERTIFICATE-----%0A")
    assert "\n" not in raw
    # The benchmark's input: an RSA-2048 leaf's escaped PEM is about 1.3 KB.
    assert 1200 <= len(raw) <= 1600
    # Our own rendering of the documented format is the same as what nginx wrote.
    assert raw == fmt.nginx(pki.leaves["client_a"].cert)


@pytest.mark.parametrize("name", ["client_a", "direct", "spiffe", "many_sans"])
def test_verified_captures(nginx_captures: dict[str, Capture], pki: Pki, name: str) -> None:
    capture = nginx_captures[name]
    assert capture.verify == "SUCCESS"
    cert = _read(capture)
    # nginx forwards the leaf only, even when the client sent its intermediate.
    assert cert.der == pki.leaves[name].der
    assert cert.chain == []
    assert cert.subject == pki.leaves[name].cert.subject.rfc4514_string()


def test_verified_capture_chain(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    cert = _read(nginx_captures["client_a"])
    cert.verify(pki.root_pem + pki.intermediate.pem)
    with pytest.raises(CertificateError, match="does not chain"):
        cert.verify(pki.root_pem)
    spiffe = _read(nginx_captures["spiffe"])
    assert spiffe.spiffe_id == "spiffe://example.org/ns/prod/sa/api"
    assert len(_read(nginx_captures["many_sans"]).dns_names) == 40


def test_no_certificate_capture(nginx_captures: dict[str, Capture]) -> None:
    capture = nginx_captures["none"]
    assert capture.verify == "NONE"
    # nginx sends the header empty when the variable is empty; either way there is nothing to read.
    assert not capture.cert
    with pytest.raises(CertificateError, match="the header is empty"):
        ClientCertificate.from_header(capture.cert or "", "nginx")


@pytest.mark.parametrize(
    ("name", "nginx_verdict", "error"),
    [
        ("expired", "FAILED:certificate has expired", "has expired"),
        ("not_yet_valid", "FAILED:certificate is not yet valid", "not yet valid"),
        ("wrong_ca", "FAILED:unable to verify the first certificate", "does not chain to a trusted CA"),
        # OpenSSL (so nginx) accepts a v1 leaf; webpki, and so keyseal, does not.
        ("v1", "SUCCESS", r"not X\.509 v3"),
        ("server_auth_only", "FAILED:unsuitable certificate purpose", "not valid for client authentication"),
    ],
)
def test_unverified_captures(
    nginx_captures: dict[str, Capture], pki: Pki, name: str, nginx_verdict: str, error: str
) -> None:
    capture = nginx_captures[f"unverified:{name}"]
    assert capture.verify == nginx_verdict
    cert = _read(capture)
    assert cert.der == pki.leaves[name].der
    with pytest.raises(CertificateError, match=error):
        cert.verify(pki.root_pem)


def test_unverified_listener_still_reports_success(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    capture = nginx_captures["unverified:direct"]
    assert capture.verify == "SUCCESS"
    _read(capture).verify(pki.root_pem)
