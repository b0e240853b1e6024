"""Header values captured from a real Apache httpd (SSL_CLIENT_CERT through mod_headers); optional."""

from __future__ import annotations

import _certs_formats as fmt
import pytest
from _certs_pki import Capture, Pki

from keyseal import CertificateError, ClientCertificate


def test_apache_turns_newlines_into_spaces(apache_captures: dict[str, Capture], pki: Pki) -> None:
    capture = apache_captures["client_a"]
    assert capture.verify == "SUCCESS"
    assert capture.cert is not None
    assert "\n" not in capture.cert
    assert capture.cert.startswith("-----BEGIN CERTIFICATE----- ")
    assert capture.cert == fmt.apache(pki.leaves["client_a"].cert)
    cert = ClientCertificate.from_header(capture.cert, "apache")
    assert cert.der == pki.leaves["client_a"].der
    cert.verify(pki.root_pem + pki.intermediate.pem)
    assert ClientCertificate.from_header(apache_captures["direct"].cert or "", "apache").subject == (
        "CN=client-direct,O=Acme"
    )


def test_apache_without_certificate(apache_captures: dict[str, Capture]) -> None:
    capture = apache_captures["none"]
    assert capture.verify == "NONE"
    assert capture.cert == "(null)"
    with pytest.raises(CertificateError, match=r"\(apache format\): the header is empty"):
        ClientCertificate.from_header(capture.cert, "apache")
