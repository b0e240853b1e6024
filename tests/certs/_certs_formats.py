"""Header values in each proxy's documented format (the real nginx captures are in conftest.py)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def b64(cert: x509.Certificate) -> str:
    return base64.b64encode(der(cert)).decode()


def nginx(cert: x509.Certificate) -> str:
    """$ssl_client_escaped_cert: the PEM, URL-encoded (only unreserved characters left as they are)."""
    return quote(pem(cert), safe="")


def apache(cert: x509.Certificate) -> str:
    """mod_headers with %{SSL_CLIENT_CERT}s: the PEM, every newline (the last too) turned into a space."""
    return pem(cert).replace("\n", " ")


def traefik_v3(*certs: x509.Certificate) -> str:
    """Traefik v3 passTLSClientCert pem=true: base64 DER without armour or newlines, joined by ","."""
    return ",".join(b64(c) for c in certs)


def traefik_v2(*certs: x509.Certificate) -> str:
    """Traefik v2: the same, URL-escaped as a whole (Go's url.QueryEscape)."""
    return quote(traefik_v3(*certs), safe="")


def alb(*certs: x509.Certificate) -> str:
    """X-Amzn-Mtls-Clientcert: URL-encoded PEM (leaf first) with "+", "=" and "/" left unencoded."""
    return quote("".join(pem(c) for c in certs), safe="+=/")


def envoy(leaf: x509.Certificate, *chain: x509.Certificate, hash_: str | None = None, by: str = "") -> str:
    """One XFCC element as Envoy writes it (set_current_client_cert_details: Cert, Chain, Subject)."""
    digest = hash_ if hash_ is not None else hashlib.sha256(der(leaf)).hexdigest()
    parts = [f"By={by or 'spiffe://cluster.local/ns/default/sa/api'}", f"Hash={digest}"]
    parts.append(f'Cert="{quote(pem(leaf), safe="")}"')
    if chain:
        parts.append(f'Chain="{quote("".join(pem(c) for c in (leaf, *chain)), safe="")}"')
    parts.append(f'Subject="{leaf.subject.rfc4514_string()}"')
    return ";".join(parts)


def rfc9440(cert: x509.Certificate) -> str:
    """Client-Cert: an RFC 8941 byte sequence of the DER."""
    return f":{b64(cert)}:"


def rfc9440_chain(*certs: x509.Certificate) -> str:
    """Client-Cert-Chain: a list of byte sequences."""
    return ", ".join(f":{b64(c)}:" for c in certs)
