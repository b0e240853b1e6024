"""The process-wide redactor reports API key tokens (prefix ks and every prefix in use), never a
token whose checksum fails; the rule is listed and disabled like a catalogue rule."""

from __future__ import annotations

import re
import zlib

import pytest

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


def test_rule_can_be_disabled_like_any_other() -> None:
    token = token_for("ks", "d")
    text = f"sent {token} to the partner"
    on = keyseal.Redactor(use_known=False)
    off = keyseal.Redactor(disable=["keyseal_api_key"], use_known=False)
    assert [f.kind for f in on.scan(text)] == ["keyseal_api_key"]
    assert off.scan(text) == []
    assert off.redact(text) == text
    assert "keyseal_api_key" in on.rule_ids
    assert "keyseal_api_key" not in off.rule_ids
    # taken while the rule is on, free for a replacement once it is disabled
    with pytest.raises(ValueError, match="already used"):
        keyseal.Redactor(custom_rules=[("keyseal_api_key", r"\bks_\w{46}\b", ["ks_"])])
    own = keyseal.Redactor(
        disable=["keyseal_api_key"],
        custom_rules=[("keyseal_api_key", r"\bks_\w{46}\b", ["ks_"])],
        use_known=False,
    )
    assert [f.kind for f in own.scan(text)] == ["keyseal_api_key"]


def test_catalogue_lists_the_rule_with_the_prefixes_in_use() -> None:
    keyseal.ApiKeys(keyseal.Vault("memory://", keyring=keyseal.Keyring.generate()), prefix="catx")
    entries = {rule_id: (anchors, pattern) for rule_id, anchors, pattern in keyseal.Redactor.catalogue()}
    anchors, pattern = entries["keyseal_api_key"]
    assert {"ks_", "catx_"} <= set(anchors)
    # The listed regex is Python-`re` compatible and finds the token (the checksum is the engine's).
    for prefix in ("ks", "catx"):
        token = token_for(prefix, "p")
        m = re.search(pattern, f"k={token};")
        assert m is not None
        assert m.group("s") == token
    assert re.search(pattern, f"k=x{token_for('ks', 'p')}") is None
