"""keyseal.ClientCertificate: every proxy format, fields checked against cryptography, errors, cache."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from urllib.parse import quote

import _certs_formats as fmt
import pytest
from _certs_pki import DAY, NOW, Pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import keyseal
from keyseal import CertificateError, ClientCertificate, KeysealError


def _all_formats(pki: Pki) -> list[tuple[str, str, str | None]]:
    leaf = pki.leaves["client_a"].cert
    inter = pki.intermediate.cert
    return [
        ("nginx", fmt.nginx(leaf), None),
        ("apache", fmt.apache(leaf), None),
        ("traefik", fmt.traefik_v3(leaf, inter), None),
        ("traefik", fmt.traefik_v2(leaf, inter), None),
        ("alb", fmt.alb(leaf, inter), None),
        ("envoy", fmt.envoy(leaf, inter), None),
        ("rfc9440", fmt.rfc9440(leaf), fmt.rfc9440_chain(inter)),
    ]


def test_public_names() -> None:
    assert keyseal.ClientCertificate is ClientCertificate
    assert issubclass(CertificateError, KeysealError)
    assert "ClientCertificate" in keyseal.__all__
    assert "CertificateError" in keyseal.__all__


@pytest.mark.parametrize("index", range(7))
def test_every_format_reads_the_same_certificate(pki: Pki, index: int) -> None:
    proxy, value, chain = _all_formats(pki)[index]
    cert = ClientCertificate.from_header(value, proxy, chain=chain)
    leaf = pki.leaves["client_a"]
    assert cert.der == leaf.der
    assert cert.proxy == proxy
    if proxy != "nginx" and proxy != "apache":
        # These formats carry the intermediate, so the root alone verifies the chain.
        assert cert.chain == [pki.intermediate.der]
        cert.verify(pki.root_pem)
    else:
        assert cert.chain == []
        with pytest.raises(CertificateError, match="does not chain to a trusted CA"):
            cert.verify(pki.root_pem)
        cert.verify(pki.root_pem + pki.intermediate.pem)


def _expect(cert: ClientCertificate, ref: x509.Certificate) -> None:
    assert cert.fingerprint_sha256 == ref.fingerprint(hashes.SHA256()).hex()
    assert cert.fingerprint_sha256 == hashlib.sha256(fmt.der(ref)).hexdigest()
    assert cert.subject == ref.subject.rfc4514_string()
    assert cert.issuer == ref.issuer.rfc4514_string()
    assert cert.serial == format(ref.serial_number, "x")
    assert cert.not_before == ref.not_valid_before_utc
    assert cert.not_after == ref.not_valid_after_utc
    assert cert.not_before.tzinfo is not None
    assert cert.not_before.utcoffset() == dt.timedelta(0)
    try:
        san = ref.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        dns, uris, emails = [], [], []
    else:
        dns = san.get_values_for_type(x509.DNSName)
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        emails = san.get_values_for_type(x509.RFC822Name)
    assert cert.dns_names == dns
    assert cert.uris == uris
    assert cert.emails == emails


@pytest.mark.parametrize(
    "name", ["client_a", "direct", "expired", "not_yet_valid", "wrong_ca", "spiffe", "many_sans", "v1"]
)
def test_fields_match_cryptography(pki: Pki, name: str) -> None:
    ref = pki.leaves[name].cert
    cert = ClientCertificate.from_header(fmt.nginx(ref), "nginx")
    _expect(cert, ref)
    assert cert.version == (1 if name == "v1" else 3)


def test_named_fields(pki: Pki) -> None:
    cert = ClientCertificate.from_header(fmt.nginx(pki.leaves["client_a"].cert), "nginx")
    assert cert.subject == "CN=client-a,O=Acme"
    assert cert.issuer == "CN=Keyseal Test Intermediate,O=Keyseal Tests"
    assert cert.common_name == "client-a"
    assert cert.serial == "123456789abcdef"
    assert cert.dns_names == ["client-a.example"]
    assert cert.emails == ["ops@example.com"]
    assert cert.spiffe_id is None
    assert cert.is_valid_now()
    assert len(cert.fingerprint_sha256) == 64
    assert cert.fingerprint_sha256 == cert.fingerprint_sha256.lower()
    assert "client-a" in repr(cert)


def test_spiffe_id_is_the_first_spiffe_uri(pki: Pki) -> None:
    cert = ClientCertificate.from_header(fmt.rfc9440(pki.leaves["spiffe"].cert), "rfc9440")
    assert cert.uris == ["https://example.org/not-spiffe", "spiffe://example.org/ns/prod/sa/api"]
    assert cert.spiffe_id == "spiffe://example.org/ns/prod/sa/api"


def test_subject_escaping_matches_rfc4514(pki: Pki) -> None:
    cert = ClientCertificate.from_header(fmt.nginx(pki.leaves["many_sans"].cert), "nginx")
    assert cert.subject == 'CN=many,OU=Ops\\, \\"Tier\\" #1,O=Acme'
    assert len(cert.dns_names) == 40
    assert len(cert.uris) == 5
    assert cert.spiffe_id == "spiffe://example.org/w/0"


def test_validity_flags(pki: Pki) -> None:
    expired = ClientCertificate.from_header(fmt.nginx(pki.leaves["expired"].cert), "nginx")
    future = ClientCertificate.from_header(fmt.nginx(pki.leaves["not_yet_valid"].cert), "nginx")
    assert not expired.is_valid_now()
    assert not future.is_valid_now()


# --- verify ---------------------------------------------------------------------------------------


def test_verify_outcomes(pki: Pki) -> None:
    def load(name: str) -> ClientCertificate:
        return ClientCertificate.from_header(fmt.traefik_v3(pki.leaves[name].cert), "traefik")

    load("direct").verify(pki.root_pem)
    load("direct").verify(pki.root_pem.decode())
    with pytest.raises(CertificateError, match="has expired"):
        load("expired").verify(pki.root_pem)
    with pytest.raises(CertificateError, match="not yet valid"):
        load("not_yet_valid").verify(pki.root_pem)
    with pytest.raises(CertificateError, match="does not chain to a trusted CA"):
        load("wrong_ca").verify(pki.root_pem)
    with pytest.raises(CertificateError, match=r"not X\.509 v3"):
        load("v1").verify(pki.root_pem)
    with pytest.raises(CertificateError, match="not valid for client authentication"):
        load("server_auth_only").verify(pki.root_pem)
    # The other root admits only its own leaf.
    load("wrong_ca").verify(pki.other_root.pem)


def test_verify_at_a_given_time(pki: Pki) -> None:
    expired = ClientCertificate.from_header(fmt.traefik_v3(pki.leaves["expired"].cert), "traefik")
    expired.verify(pki.root_pem, at=NOW - 10 * DAY)
    future = ClientCertificate.from_header(fmt.traefik_v3(pki.leaves["not_yet_valid"].cert), "traefik")
    future.verify(pki.root_pem, at=NOW + 10 * DAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        future.verify(pki.root_pem, at=dt.datetime(2030, 1, 1))


def test_verify_bad_bundles(pki: Pki) -> None:
    cert = ClientCertificate.from_header(fmt.traefik_v3(pki.leaves["direct"].cert), "traefik")
    with pytest.raises(CertificateError, match="unusable CA bundle: no PEM certificate"):
        cert.verify(b"not a bundle")
    with pytest.raises(CertificateError, match="unusable CA bundle: a PEM certificate block could not be"):
        cert.verify(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateError, match="does not chain to a trusted CA"):
        cert.verify(pki.leaves["direct"].pem)  # the leaf itself is not its issuer
    with pytest.raises(CertificateError, match="unusable CA bundle: the CA bundle holds no usable CA"):
        cert.verify(b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n")
    with pytest.raises(TypeError):
        cert.verify(123)  # type: ignore[arg-type]


def test_verify_intermediate_from_each_carrier(pki: Pki) -> None:
    """The chain comes from the header: Traefik's list, ALB's PEM chain, Envoy's Chain=, RFC 9440's header."""
    for proxy, value, chain in _all_formats(pki)[2:]:
        cert = ClientCertificate.from_header(value, proxy, chain=chain)
        cert.verify(pki.root_pem)
        # The same leaf without its intermediate does not verify against the root.
        bare = ClientCertificate.from_header(fmt.rfc9440(pki.leaves["client_a"].cert), "rfc9440")
        with pytest.raises(CertificateError):
            bare.verify(pki.root_pem)


# --- envoy ----------------------------------------------------------------------------------------


def test_envoy_uses_the_last_element(pki: Pki) -> None:
    forged = fmt.envoy(pki.leaves["wrong_ca"].cert, by="spiffe://attacker")
    real = fmt.envoy(pki.leaves["direct"].cert)
    cert = ClientCertificate.from_header(f"{forged},{real}", "envoy")
    assert cert.der == pki.leaves["direct"].der
    cert = ClientCertificate.from_header(f"{real},{forged}", "envoy")
    assert cert.der == pki.leaves["wrong_ca"].der


def test_envoy_hash_must_match(pki: Pki) -> None:
    leaf = pki.leaves["direct"].cert
    ok = fmt.envoy(leaf, hash_=hashlib.sha256(fmt.der(leaf)).hexdigest().upper())
    assert ClientCertificate.from_header(ok, "envoy").der == fmt.der(leaf)
    bad = fmt.envoy(leaf, hash_="00" * 32)
    with pytest.raises(
        CertificateError, match=r"^invalid client certificate header \(envoy format\): the XFCC Hash="
    ):
        ClientCertificate.from_header(bad, "envoy")
    # Without Hash= the certificate is taken as it is.
    no_hash = ";".join(p for p in fmt.envoy(leaf).split(";") if not p.startswith("Hash="))
    assert ClientCertificate.from_header(no_hash, "envoy").der == fmt.der(leaf)


def test_envoy_needs_cert(pki: Pki) -> None:
    with pytest.raises(CertificateError, match="no Cert= field"):
        ClientCertificate.from_header('By=spiffe://x;Hash=00;Subject="CN=a";URI=spiffe://y', "envoy")
    dup = fmt.envoy(pki.leaves["direct"].cert) + ';Cert="' + fmt.nginx(pki.leaves["wrong_ca"].cert) + '"'
    with pytest.raises(CertificateError, match="envoy format"):
        ClientCertificate.from_header(dup, "envoy")
    with pytest.raises(CertificateError, match="envoy format"):
        ClientCertificate.from_header('Cert="unterminated', "envoy")


# --- errors ---------------------------------------------------------------------------------------

PROXIES = ("nginx", "envoy", "traefik", "alb", "apache", "rfc9440")


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("value", ["", "   ", "(null)"])
def test_empty_values_raise(proxy: str, value: str) -> None:
    with pytest.raises(CertificateError, match=rf"\({proxy} format\): the header is empty"):
        ClientCertificate.from_header(value, proxy)


@pytest.mark.parametrize("proxy", PROXIES)
def test_oversized_values_raise(pki: Pki, proxy: str) -> None:
    value = fmt.nginx(pki.leaves["client_a"].cert)
    big = value + "%0A" * (16 * 1024 // 3 + 1)
    assert len(big) > 16 * 1024
    with pytest.raises(CertificateError, match="larger than 16 KiB"):
        ClientCertificate.from_header(big, proxy)


def _garbage(pki: Pki) -> list[tuple[str, str]]:
    leaf = pki.leaves["direct"].cert
    not_cert_pem = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
    trailing_der = fmt.der(leaf) + b"\x00\x01"
    b64_trailing = base64.b64encode(trailing_der).decode()
    return [
        ("nginx", "%ZZnot-url-encoding"),
        ("nginx", fmt.nginx(leaf)[:-40]),
        ("nginx", quote(not_cert_pem, safe="")),
        ("nginx", fmt.nginx(leaf) + "junk"),
        ("nginx", fmt.nginx(leaf).replace("BEGIN%20CERTIFICATE", "BEGIN%20PRIVATE%20KEY")),
        ("apache", "not a pem at all"),
        ("apache", fmt.apache(leaf) + " trailing"),
        ("traefik", "!!!not-base64!!!"),
        ("traefik", b64_trailing),
        ("traefik", fmt.traefik_v3(leaf) + ",,"),
        ("alb", fmt.alb(leaf).replace("BEGIN", "BEGUN")),
        ("rfc9440", fmt.b64(leaf)),
        ("rfc9440", f":{b64_trailing}:"),
        ("rfc9440", ":aGVsbG8=:"),
        ("envoy", "Cert=%ZZ"),
    ]


@pytest.mark.parametrize("index", range(15))
def test_malformed_values_raise_without_echo(pki: Pki, index: int) -> None:
    proxy, value = _garbage(pki)[index]
    with pytest.raises(CertificateError) as info:
        ClientCertificate.from_header(value, proxy)
    message = str(info.value)
    assert message.startswith(f"invalid client certificate header ({proxy} format): ")
    # Fixed texts only: no fragment of the header reaches the message.
    for i in range(0, max(len(value) - 8, 1), 8):
        chunk = value[i : i + 8]
        if len(chunk) == 8 and chunk.strip():
            assert chunk not in message


def test_chain_only_for_rfc9440(pki: Pki) -> None:
    with pytest.raises(CertificateError, match="only read for rfc9440"):
        ClientCertificate.from_header(fmt.nginx(pki.leaves["direct"].cert), "nginx", chain=":AA==:")
    with pytest.raises(CertificateError, match="rfc9440 format"):
        ClientCertificate.from_header(fmt.rfc9440(pki.leaves["direct"].cert), "rfc9440", chain=":aGVsbG8=:")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown proxy format"):
        ClientCertificate.from_header("x", "haproxy")
    with pytest.raises(TypeError):
        ClientCertificate.from_header(b"x", "nginx")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ClientCertificate()  # type: ignore[call-arg]


# --- cache ----------------------------------------------------------------------------------------


def test_cache_parses_once_and_is_bounded(pki: Pki) -> None:
    ClientCertificate.cache_clear()
    assert ClientCertificate.cache_size() == 0
    value = fmt.nginx(pki.leaves["client_a"].cert)
    first = ClientCertificate.from_header(value, "nginx")
    for _ in range(1000):
        again = ClientCertificate.from_header(value, "nginx")
    assert ClientCertificate.cache_size() == 1
    assert again == first
    assert hash(again) == hash(first)
    # The same bytes read as another format are another entry.
    ClientCertificate.from_header(fmt.apache(pki.leaves["client_a"].cert), "apache")
    assert ClientCertificate.cache_size() == 2
    # Failures are not cached.
    with pytest.raises(CertificateError):
        ClientCertificate.from_header("%ZZ", "nginx")
    assert ClientCertificate.cache_size() == 2
    # Distinct values: the cache stops at its bound (1024), evicting the least recently used.
    leaf = pki.leaves["direct"].cert
    base = fmt.traefik_v3(leaf)
    for i in range(1100):
        ClientCertificate.from_header(base + " " * (i % 40) + "\t" * (i // 40), "traefik")
    assert ClientCertificate.cache_size() == 1024
    ClientCertificate.cache_clear()
    assert ClientCertificate.cache_size() == 0


def test_frozen(pki: Pki) -> None:
    cert = ClientCertificate.from_header(fmt.nginx(pki.leaves["client_a"].cert), "nginx")
    with pytest.raises(AttributeError):
        cert.subject = "CN=evil"  # type: ignore[misc]
