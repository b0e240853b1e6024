"""Helpers shared by the keyring, envelope and vault tests (not fixtures: see conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import keyseal

# Argon2id parameters cheap enough for tests; they need the explicit weak-parameter opt-in.
CHEAP: dict[str, Any] = {"memory_cost": 64, "time_cost": 1, "parallelism": 1, "allow_weak_parameters": True}
SALT = b"0123456789abcdef"
PASSPHRASE = "correct horse battery staple"

# The one fixed message of every DecryptionError (src/core/error.rs, DECRYPTION_FAILED).
DECRYPTION_FAILED = (
    "decryption failed: the data is corrupt, was tampered with, belongs to another slot, "
    "or no key in the keyring can open it"
)


def b64d(text: str) -> bytes:
    """base64url without padding, as export() writes it."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(key: bytes) -> str:
    """The documented key id: the first 4 bytes of HMAC-SHA256(key, b"keyseal key id"), as hex."""
    return hmac.new(key, b"keyseal key id", hashlib.sha256).digest()[:4].hex()


@dataclass(frozen=True)
class Exported:
    name_key: bytes
    keys: list[tuple[str, bytes]]  # (key id, key bytes), primary first

    def key(self, kid: str) -> bytes:
        return dict(self.keys)[kid]


def text_check(body: str) -> str:
    """The documented check value: SHA-256 over a label and the text before ``,check=``, 8 bytes hex."""
    return hashlib.sha256(b"keyseal keyring text v2\n" + body.encode()).digest()[:8].hex()


def parse_export(text: str) -> Exported:
    """Parse ``ks2,name=<b64>,key=<id>:<b64>,...,check=<hex>`` independently of the Rust parser."""
    body, _, check = text.rpartition(",check=")
    assert check == text_check(body), "export() must end with the documented check value"
    parts = body.split(",")
    assert parts[0] == "ks2", "export() must start with the format tag ks2"
    name_key: bytes | None = None
    keys: list[tuple[str, bytes]] = []
    for part in parts[1:]:
        field, _, value = part.partition("=")
        if field == "name":
            assert name_key is None
            name_key = b64d(value)
        elif field == "key":
            kid, _, raw = value.partition(":")
            keys.append((kid, b64d(raw)))
        else:
            raise AssertionError(f"unknown field in export(): {field!r}")
    assert name_key is not None
    return Exported(name_key, keys)


def build_export(name_key: bytes, keys: list[bytes]) -> str:
    """The text form for raw keys, written the documented way (primary first)."""
    body = ",".join(["ks2", f"name={b64e(name_key)}", *(f"key={key_id(k)}:{b64e(k)}" for k in keys)])
    return f"{body},check={text_check(body)}"


def cheap_keyring(passphrase: str = PASSPHRASE, salt: bytes = SALT) -> keyseal.Keyring:
    return keyseal.Keyring.from_passphrase(passphrase, salt=salt, **CHEAP)


def decrypt_error_is_clean(exc: BaseException, *forbidden: bytes) -> None:
    """A DecryptionError carries the fixed message and none of the input bytes."""
    assert type(exc) is keyseal.DecryptionError
    assert str(exc) == DECRYPTION_FAILED
    assert exc.args == (DECRYPTION_FAILED,)
    shown = str(exc) + repr(exc)
    for data in forbidden:
        if len(data) >= 4:
            assert data.hex() not in shown
            assert repr(data) not in shown
            text = data.decode("latin-1")
            assert text not in shown or text in DECRYPTION_FAILED


def redis_key(ring: keyseal.Keyring, prefix: str, namespace: str, name: str) -> bytes:
    """The documented opaque Redis key of ``name`` (README, "Redis key names"), computed independently."""
    name_key = parse_export(ring.export()).name_key
    ns = namespace.encode()
    ns_tag = hmac.new(name_key, b"keyseal ns\0" + ns, hashlib.sha256).digest()[:8]
    msg = b"keyseal name\0" + len(ns).to_bytes(4, "big") + ns + name.encode()
    name_tag = hmac.new(name_key, msg, hashlib.sha256).digest()[:16]
    return f"{prefix}:{b64e(ns_tag)}:{b64e(name_tag)}".encode()
