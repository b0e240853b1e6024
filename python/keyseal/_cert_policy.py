"""The client-certificate policy shared by the Django middleware and the FastAPI dependency.

One function decides, so both frameworks refuse the same requests for the same reasons: the
trusted-proxy check, the verify header, parsing, validity, chain verification and the allowlists.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from keyseal._native import ClientCertificate
from keyseal.exceptions import CertificateError, ConfigurationError

__all__ = ["DEFAULT_HEADERS", "PROXIES", "CertPolicy", "Outcome"]

PROXIES = ("nginx", "envoy", "traefik", "alb", "apache", "rfc9440")

DEFAULT_HEADERS = {
    "nginx": "X-SSL-Client-Cert",
    "apache": "X-SSL-Client-Cert",
    "envoy": "X-Forwarded-Client-Cert",
    "traefik": "X-Forwarded-Tls-Client-Cert",
    "alb": "X-Amzn-Mtls-Clientcert",
    "rfc9440": "Client-Cert",
}

# RFC 9440 section 2.3: the chain travels in its own header.
RFC9440_CHAIN_HEADER = "Client-Cert-Chain"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Values proxies send in place of a certificate when the client presented none.
_NO_CERT = ("", "(null)")


@dataclass(frozen=True)
class Outcome:
    """What the policy decided: a certificate (or None when none was needed), or a refusal reason."""

    cert: ClientCertificate | None = None
    refusal: str | None = None


def parse_networks(entries: Iterable[str]) -> tuple[_Network, ...]:
    """CIDRs (or single addresses) to networks; ConfigurationError names the bad entry's position."""
    out: list[_Network] = []
    for i, entry in enumerate(entries):
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ConfigurationError(f"TRUSTED_PROXIES entry #{i} is not an IP address or CIDR") from None
    return tuple(out)


def is_match_all(net: _Network) -> bool:
    """0.0.0.0/0 or ::/0: trusting everyone defeats the point of the check."""
    return net.prefixlen == 0


def normalize_fingerprint(value: str) -> str:
    """Lowercase hex without colons, spaces or a ``sha256:`` style prefix."""
    text = value.strip().lower()
    if ":" in text and text.split(":", 1)[0] in ("sha256", "sha-256"):
        text = text.split(":", 1)[1]
    return text.replace(":", "").replace(" ", "")


def read_ca_bundle(path: str | os.PathLike[str]) -> bytes:
    """The bundle's bytes; ConfigurationError (without the file's contents) when unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"CA_BUNDLE {os.fspath(path)!r} cannot be read: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ConfigurationError(f"CA_BUNDLE {os.fspath(path)!r} holds no PEM certificate")
    return data


class CertPolicy:
    """A validated configuration and the decision it makes for one request."""

    def __init__(
        self,
        *,
        proxy: str = "nginx",
        header: str | None = None,
        verify_header: str | None = None,
        trusted_proxies: Iterable[str] = (),
        ca_bundle: str | os.PathLike[str] | None = None,
        allowed_fingerprints: Iterable[str] = (),
        allowed_subjects: Iterable[str] = (),
        allowed_sans: Iterable[str] = (),
        required: bool = True,
        exempt_paths: Iterable[str] = (),
    ) -> None:
        if proxy not in PROXIES:
            raise ConfigurationError(
                f"unknown client certificate PROXY; expected one of {', '.join(PROXIES)}"
            )
        self.proxy = proxy
        self.header = header or DEFAULT_HEADERS[proxy]
        self.verify_header = verify_header or None
        if isinstance(trusted_proxies, str):
            raise ConfigurationError("TRUSTED_PROXIES must be a list of CIDRs, not a string")
        self.trusted = parse_networks(trusted_proxies)
        if any(is_match_all(n) for n in self.trusted):
            raise ConfigurationError("TRUSTED_PROXIES must not contain 0.0.0.0/0 or ::/0 (keyseal.E010)")
        self.ca_bundle = read_ca_bundle(ca_bundle) if ca_bundle is not None else None
        self.fingerprints = frozenset(normalize_fingerprint(f) for f in allowed_fingerprints)
        self.subjects = frozenset(allowed_subjects)
        self.sans = frozenset(allowed_sans)
        self.required = bool(required)
        paths = tuple(exempt_paths)
        self.exempt_exact = frozenset(p for p in paths if not p.endswith("/"))
        self.exempt_prefixes = tuple(p for p in paths if p.endswith("/"))

    def is_exempt(self, path: str) -> bool:
        return path in self.exempt_exact or path.startswith(self.exempt_prefixes)

    def is_trusted(self, peer: str | None) -> bool:
        """Whether the direct peer (REMOTE_ADDR, request.client.host) is one of our proxies."""
        if not peer or not self.trusted:
            return False
        try:
            addr: _Address = ipaddress.ip_address(peer.strip())
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == n.version and addr in n for n in self.trusted)

    def evaluate(self, peer: str | None, get_header: Callable[[str], str | None]) -> Outcome:
        """Decide for one request. ``get_header`` looks a header up by name (None when absent)."""
        value = get_header(self.header)
        chain = get_header(RFC9440_CHAIN_HEADER) if self.proxy == "rfc9440" else None
        sent = value is not None or chain is not None
        if not self.is_trusted(peer):
            if sent:
                # A certificate header from anyone but our proxy is forged: never anonymous.
                return Outcome(refusal="certificate header from an untrusted peer")
            if self.required:
                return Outcome(refusal="no client certificate (peer is not a trusted proxy)")
            return Outcome()
        if value is None or value.strip() in _NO_CERT:
            if self.required:
                return Outcome(refusal="no client certificate")
            return Outcome()
        if self.verify_header is not None:
            verdict = get_header(self.verify_header)
            if verdict is None or verdict.strip() != "SUCCESS":
                return Outcome(refusal=f"{self.verify_header} is not SUCCESS")
        try:
            cert = ClientCertificate.from_header(value, self.proxy, chain=chain)
        except CertificateError as exc:
            return Outcome(refusal=str(exc))
        if not cert.is_valid_now():
            return Outcome(refusal="client certificate expired or not yet valid")
        if self.ca_bundle is not None:
            try:
                cert.verify(self.ca_bundle)
            except CertificateError as exc:
                return Outcome(refusal=str(exc))
        if not self.allows(cert):
            return Outcome(refusal="client certificate not in the allowlists")
        return Outcome(cert=cert)

    def allows(self, cert: ClientCertificate) -> bool:
        """Any allowlist match admits; with every allowlist empty, any valid certificate is admitted."""
        if not (self.fingerprints or self.subjects or self.sans):
            return True
        if cert.fingerprint_sha256 in self.fingerprints:
            return True
        if cert.subject in self.subjects:
            return True
        return any(san in self.sans for san in (*cert.dns_names, *cert.uris, *cert.emails))
