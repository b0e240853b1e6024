"""Keyring text v2 (check value, degenerate and repeated keys), the passphrase estimator and
GitLab routable tokens."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest

from _vaults import CHEAP, SALT, b64e, key_id
from keyseal import ConfigurationError, Keyring, Redactor


def _check(body: str) -> str:
    """The documented check value: SHA-256 over the label and the text before ',check='."""
    return hashlib.sha256(b"keyseal keyring text v2\n" + body.encode()).digest()[:8].hex()


def _text(name: bytes, keys: list[bytes]) -> str:
    body = ",".join(["ks2", f"name={b64e(name)}", *(f"key={key_id(k)}:{b64e(k)}" for k in keys)])
    return f"{body},check={_check(body)}"


def test_text_carries_a_check_value_over_the_whole() -> None:
    ring = Keyring.generate().rotated()
    text = ring.export()
    body, _, check = text.rpartition(",check=")
    assert text.startswith("ks2,name=")
    assert check == _check(body)
    # A third party writing the text by hand gets the same ring.
    k1, name = os.urandom(32), os.urandom(32)
    assert Keyring.from_string(_text(name, [k1])).primary_id == key_id(k1)


def test_one_character_typo_in_the_naming_key_is_refused() -> None:
    text = Keyring.generate().export()
    pos = len("ks2,name=") + 10
    typo = text[:pos] + ("B" if text[pos] != "B" else "C") + text[pos + 1 :]
    with pytest.raises(ConfigurationError, match="check value") as info:
        Keyring.from_string(typo)
    assert text[len("ks2,name=") :][:43] not in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda k: _text(bytes(32), [k]),  # all-zero naming key
        lambda k: _text(b"\xff" * 32, [k]),
        lambda k: _text(os.urandom(32), [bytes(32)]),  # all-zero sealing key
        lambda k: _text(k, [k]),  # naming key equal to the sealing key
        lambda k: _text(os.urandom(32), [k, os.urandom(32), k]),  # the same key twice
    ],
)
def test_degenerate_or_repeated_keys_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    k = os.urandom(32)
    with pytest.raises(ConfigurationError) as info:
        Keyring.from_string(make(k))
    assert b64e(k) not in str(info.value)


def test_rotation_ids_are_distinct() -> None:
    ring = Keyring.generate()
    for _ in range(50):
        ring = ring.rotated()
    assert len(set(ring.key_ids)) == 51


# ---- point 17: passphrase strength


WEAK = ["P@ssw0rd12345", "Summer2024!!", "qwertyuiop12", "iloveyou1234", "123456789012"]


@pytest.mark.parametrize("weak", WEAK)
def test_common_passphrases_are_refused_by_the_estimator(weak: str) -> None:
    with pytest.raises(ConfigurationError, match="too weak") as info:
        Keyring.from_passphrase(weak, salt=SALT, **CHEAP)
    assert weak not in str(info.value)


def test_a_diceware_passphrase_is_accepted() -> None:
    ring = Keyring.from_passphrase("tremor gravel unwound pastel voyage", salt=SALT, **CHEAP)
    assert len(ring.key_ids) == 1


# ---- point 20: GitLab routable tokens


def _base36(n: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        out = digits[n % 36] + out
        n //= 36
    return out.rjust(width, "0")


def _routable(prefix: str, version: bool) -> str:
    payload = base64.urlsafe_b64encode(os.urandom(16) + b"o:1\nu:2" + bytes([7])).rstrip(b"=").decode()
    head = f"{prefix}{payload}." + ("01." if version else "") + _base36(len(payload), 2)
    return head + _base36(zlib.crc32(head.encode()), 7)


@pytest.mark.parametrize("prefix", ["glpat-", "glrt-", "glrtr-", "gldt-", "glcbt-", "glagent-", "glft-"])
@pytest.mark.parametrize("version", [True, False])
def test_gitlab_routable_tokens_in_both_framings(prefix: str, version: bool) -> None:
    red = Redactor(use_known=False)
    tok = _routable(prefix, version)
    out = red.redact(f"token {tok} sent")
    assert tok not in out
    assert out.startswith("token [REDACTED:gitlab_")
    # A wrong CRC is not a GitLab token (the last digit changed).
    bad = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    assert red.redact(f"token {bad} sent") == f"token {bad} sent"
