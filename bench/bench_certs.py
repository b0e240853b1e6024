"""Client-certificate benchmark: keyseal.ClientCertificate vs Python's cryptography, same run.

The work measured, on a ~1.3 KB nginx ``$ssl_client_escaped_cert`` header (RSA-2048 leaf under an
RSA-2048 intermediate, as in tests/certs):

* keyseal, uncached: ``ClientCertificate.from_header(value, "nginx")`` then ``fingerprint_sha256``
  and ``subject``, with the parse cache emptied before every call (the emptying is counted
  against keyseal);
* keyseal, cached: the same without emptying (a client sending the same header again);
* peer: ``load_pem_x509_certificate(unquote(value).encode())``, ``fingerprint(SHA256()).hex()``
  and ``subject.rfc4514_string()``;
* for information, the peer handed the PEM already unescaped (Python's ``unquote`` is a large part
  of the peer's time, so this shows how the parsers alone compare).

Rounds alternate between contenders; each ratio is peer time over keyseal time, by medians.
Run: ``nice python bench/bench_certs.py [--rounds 15] [--calls 2000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import Row, finish, record
from keyseal import ClientCertificate


def make_header() -> str:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keyseal Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Keyseal Test Intermediate"),
        ]
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "client-a"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("client-a.example"), x509.RFC822Name("ops@example.com")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # nginx's $ssl_client_escaped_cert: the PEM with everything but unreserved characters escaped.
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode(), safe="")


def timed(calls: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", help="append the rows to this JSON file (for bench/chart.py)")
    args = parser.parse_args()

    value = make_header()
    sha256 = hashes.SHA256()

    def peer() -> tuple[str, str]:
        cert = x509.load_pem_x509_certificate(unquote(value).encode())
        return cert.fingerprint(sha256).hex(), cert.subject.rfc4514_string()

    pem = unquote(value).encode()

    def peer_no_unquote() -> tuple[str, str]:
        cert = x509.load_pem_x509_certificate(pem)
        return cert.fingerprint(sha256).hex(), cert.subject.rfc4514_string()

    def uncached() -> tuple[str, str]:
        ClientCertificate.cache_clear()
        cert = ClientCertificate.from_header(value, "nginx")
        return cert.fingerprint_sha256, cert.subject

    def cached() -> tuple[str, str]:
        cert = ClientCertificate.from_header(value, "nginx")
        return cert.fingerprint_sha256, cert.subject

    # Same answers, or the comparison means nothing.
    assert peer() == uncached() == cached(), (peer(), uncached())

    contenders = {
        "cryptography": peer,
        "cryptography, PEM": peer_no_unquote,
        "keyseal uncached": uncached,
        "keyseal cached": cached,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(2):  # warm-up
        for fn in contenders.values():
            timed(args.calls // 10 or 1, fn)
    for i in range(args.rounds):
        order = list(contenders.items())
        if i % 2:
            order.reverse()
        for name, fn in order:
            times[name].append(timed(args.calls, fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"nginx header: {len(value)} bytes; {args.rounds} alternating rounds of {args.calls} calls")
    for name, t in med.items():
        print(f"  {name:<18} {t * 1e6:8.2f} us/call  ({1 / t:>10,.0f}/s)")
    uncached_ratio = med["cryptography"] / med["keyseal uncached"]
    cached_ratio = med["cryptography"] / med["keyseal cached"]
    print(f"ratio uncached (cryptography time / keyseal time): {uncached_ratio:.2f}x  (target >= 1.0x)")
    print(f"ratio cached   (cryptography time / keyseal time): {cached_ratio:.2f}x  (target >= 10x)")
    parse_ratio = med["cryptography, PEM"] / med["keyseal uncached"]
    print(f"for information, cryptography given unescaped PEM / keyseal uncached: {parse_ratio:.2f}x")
    peer_rate = 1 / med["cryptography"]
    for name, target in (("keyseal uncached", 1.0), ("keyseal cached", 10.0)):
        record(
            Row(
                "certs",
                f"from_header, {name}",
                1 / med[name],
                peer_rate,
                "cryptography + unquote",
                target,
                "calls/s",
            )
        )
    return finish(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
