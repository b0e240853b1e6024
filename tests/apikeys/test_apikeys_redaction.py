"""The process-wide redactor reports API key tokens (prefix ks and every prefix in use), never a
token whose checksum fails."""

from __future__ import annotations

import zlib

import keyseal

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def token_for(prefix: str, fill: str) -> str:
    body = f"{prefix}_{fill * 40}"
    n, crc = zlib.crc32(body.encode()), ""
    while n:
        n, r = divmod(n, 62)
        crc = B62[r] + crc
    return body + crc.rjust(6, "0")


def kinds(text: str) -> list[tuple[str, int, int]]:
    return [(f.kind, f.start, f.end) for f in keyseal.redactor().scan(text)]


def test_issued_token_is_reported_with_its_kind() -> None:
    keys = keyseal.ApiKeys(keyseal.Vault("memory://", keyring=keyseal.Keyring.generate()))
    token = keys.issue(
        "alice"
    ).token.reveal()  # revealed: also a known value; the kind still names the format
    text = f"GET /v1 X-Api-Key: {token} 200"
    start = text.index(token)
    assert kinds(text) == [("keyseal_api_key", start, start + len(token))]
    assert keyseal.redactor().redact(text) == "GET /v1 X-Api-Key: [REDACTED:keyseal_api_key] 200"


def test_unrevealed_default_prefix_token_and_bad_checksum() -> None:
    token = token_for("ks", "7")
    assert kinds(f"k={token}") == [("keyseal_api_key", 2, 2 + len(token))]
    broken = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert kinds(f"k={broken}") == []
    assert kinds(f"k={token}X") == []  # a longer run is not this token
    assert kinds(f"k=x{token}") == []
    # a fresh Redactor sees them too
    assert [f.kind for f in keyseal.Redactor().scan(token)] == ["keyseal_api_key"]


def test_custom_prefix_is_known_once_an_apikeys_uses_it() -> None:
    token = token_for("tenantx", "q")
    assert kinds(token) == []
    keyseal.ApiKeys(keyseal.Vault("memory://", keyring=keyseal.Keyring.generate()), prefix="tenantx")
    assert kinds(token) == [("keyseal_api_key", 0, len(token))]
    assert kinds(token_for("tenantx", "q")[:-2] + "zz") == []
