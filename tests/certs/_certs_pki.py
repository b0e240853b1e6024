"""A test PKI for the client-certificate tests: root, intermediate and leaves of every kind.

The v1 certificate comes from the openssl command line, because cryptography only writes v3.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)

_Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(*, cn: str, o: str = "Acme", ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Capture:
    """What nginx forwarded for one client: the two headers (None when nginx sent none)."""

    cert: str | None
    verify: str | None


@dataclass
class Issued:
    cert: x509.Certificate
    key: _Key

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _build(
    subject: x509.Name,
    key: _Key,
    issuer: Issued | None,
    *,
    ca: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    sans: list[x509.GeneralName] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    serial: int | None = None,
) -> Issued:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@dataclass
class Pki:
    """Every certificate the tests use, and the files nginx and curl read."""

    directory: Path
    root: Issued
    intermediate: Issued
    other_root: Issued
    leaves: dict[str, Issued] = field(default_factory=dict)
    server: Issued | None = None

    def path(self, name: str) -> Path:
        return self.directory / name

    @property
    def root_pem(self) -> bytes:
        return self.root.pem


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    root = _build(_name(cn="Keyseal Test Root", o="Keyseal Tests"), _ec(), None, ca=True)
    # RSA intermediate: with an RSA leaf under it, the nginx header is the benchmark's ~1.3 KB.
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = _build(_name(cn="Keyseal Test Intermediate", o="Keyseal Tests"), inter_key, root, ca=True)
    other = _build(_name(cn="Someone Else's Root", o="Elsewhere"), _ec(), None, ca=True)
    pki = Pki(directory, root, inter, other)
    dns = x509.DNSName
    uri = x509.UniformResourceIdentifier
    # An RSA-2048 leaf: its nginx header is about 1.3 KB, the size the benchmark is specified for.
    pki.leaves["client_a"] = _build(
        _name(cn="client-a", o="Acme"),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        inter,
        sans=[dns("client-a.example"), x509.RFC822Name("ops@example.com")],
        serial=0x0123456789ABCDEF,
    )
    pki.leaves["direct"] = _build(
        _name(cn="client-direct", o="Acme"), _ec(), root, sans=[dns("direct.example")]
    )
    pki.leaves["expired"] = _build(
        _name(cn="client-expired"), _ec(), root, not_before=NOW - 30 * DAY, not_after=NOW - 2 * DAY
    )
    pki.leaves["not_yet_valid"] = _build(
        _name(cn="client-future"), _ec(), root, not_before=NOW + 2 * DAY, not_after=NOW + 30 * DAY
    )
    pki.leaves["wrong_ca"] = _build(_name(cn="client-a", o="Acme"), _ec(), other)
    pki.leaves["spiffe"] = _build(
        _name(cn="workload", o="Acme"),
        _ec(),
        inter,
        sans=[uri("https://example.org/not-spiffe"), uri("spiffe://example.org/ns/prod/sa/api")],
    )
    many: list[x509.GeneralName] = [dns(f"host{i}.example") for i in range(40)]
    many += [uri(f"spiffe://example.org/w/{i}") for i in range(5)]
    many += [x509.RFC822Name(f"user{i}@example.com") for i in range(5)]
    pki.leaves["many_sans"] = _build(_name(cn="many", o="Acme", ou='Ops, "Tier" #1'), _ec(), root, sans=many)
    pki.leaves["server_auth_only"] = _build(
        _name(cn="server-eku"), _ec(), root, eku=[ExtendedKeyUsageOID.SERVER_AUTH]
    )
    pki.server = _build(
        _name(cn="127.0.0.1", o="Keyseal Tests"),
        _ec(),
        root,
        sans=[x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")), dns("localhost")],
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    _write(pki)
    pki.leaves["v1"] = _openssl_v1(pki)
    return pki


def _write(pki: Pki) -> None:
    d = pki.directory
    (d / "root.pem").write_bytes(pki.root.pem)
    (d / "intermediate.pem").write_bytes(pki.intermediate.pem)
    (d / "bundle.pem").write_bytes(b"# test bundle: root only\n" + pki.root.pem)
    (d / "other_root.pem").write_bytes(pki.other_root.pem)
    assert pki.server is not None
    (d / "server.pem").write_bytes(pki.server.pem)
    (d / "server.key").write_bytes(pki.server.key_pem)
    (d / "root.key").write_bytes(pki.root.key_pem)
    for name, leaf in pki.leaves.items():
        (d / f"{name}.pem").write_bytes(leaf.pem)
        (d / f"{name}.key").write_bytes(leaf.key_pem)
        # What curl presents: the leaf, then the intermediate nginx needs to build the path.
        if leaf.cert.issuer == pki.intermediate.cert.subject:
            (d / f"{name}_chain.pem").write_bytes(leaf.pem + pki.intermediate.pem)


def _openssl_v1(pki: Pki) -> Issued:
    """`openssl x509 -req` without extensions writes a version 1 certificate."""
    d = pki.directory
    key = _ec()
    (d / "v1.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    run = ["openssl"]
    subprocess.run(
        [*run, "req", "-new", "-key", "v1.key", "-subj", "/O=Acme/CN=client-v1", "-out", "v1.csr"],
        cwd=d,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-days",
            "30",
            "-set_serial",
            "4660",
            "-out",
            "v1.pem",
        ],
        cwd=d,
        check=True,
        capture_output=True,
    )
    cert = x509.load_pem_x509_certificate((d / "v1.pem").read_bytes())
    assert cert.version == x509.Version.v1, cert.version
    return Issued(cert, key)
