"""keyseal.ApiKeys on memory://, a real redis-server and a real cluster: issue, verify, scopes, expiry,
revocation, rotation, listing, certificate binding, key rotation and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import zlib
from typing import Any

import pytest

import keyseal
from conftest import fresh_namespace

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INVALID = "invalid API key"
FP = "ab:CD:" * 14 + "ef:01:23:45"  # 32 bytes with colons, mixed case
FP_NORM = FP.replace(":", "").lower()


def base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def with_crc(body: str) -> str:
    """The documented checksum, computed independently: CRC-32 of the body in 6 base62 digits."""
    return body + base62(zlib.crc32(body.encode()), 6)


def flip(token: str, i: int) -> str:
    c = "A" if token[i] != "A" else "B"
    return token[:i] + c + token[i + 1 :]


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_token_format(keys: keyseal.ApiKeys) -> None:
    issued = keys.issue("alice", scopes=["read"])
    token = issued.token.reveal()
    assert re.fullmatch(r"ks_[0-9A-Za-z]{46}", token)
    assert token == with_crc(token[:-6])
    assert token[3:11] == issued.key.key_id
    assert repr(issued).count("*") >= 8
    assert token not in repr(issued)
    assert token not in repr(issued.key)
    assert token[11:43] not in str(issued.key)


def test_verify_metadata_and_scopes(keys: keyseal.ApiKeys) -> None:
    before = dt.datetime.now(dt.UTC)
    issued = keys.issue("alice", scopes=["read", "write", "read"], ttl=3600, label="ci runner")
    k = keys.verify(issued.token, scopes=["read"])
    assert (k.key_id, k.owner, k.scopes, k.label) == (
        issued.key.key_id,
        "alice",
        frozenset({"read", "write"}),
        "ci runner",
    )
    assert k.created_at.tzinfo is dt.UTC or k.created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= k.created_at <= dt.datetime.now(dt.UTC)
    assert k.expires_at is not None
    assert abs((k.expires_at - k.created_at).total_seconds() - 3600) < 0.01
    assert k.revoked is False
    assert k.client_cert is None
    # str token works as well as the Secret
    assert keys.verify(issued.token.reveal(), scopes=("read", "write")).owner == "alice"
    with pytest.raises(keyseal.InsufficientScope) as info:
        keys.verify(issued.token, scopes=["read", "admin", "billing"])
    assert str(info.value) == "API key lacks required scope(s): admin, billing"
    assert info.value.missing_scopes == ("admin", "billing")
    assert not isinstance(info.value, keyseal.InvalidApiKey)
    assert isinstance(info.value, keyseal.ApiKeyError)
    assert isinstance(info.value, keyseal.KeysealError)


def test_every_invalid_case_has_one_message(keys: keyseal.ApiKeys, vault: keyseal.Vault) -> None:
    good = keys.issue("alice").token.reveal()
    other_prefix = keyseal.ApiKeys(vault, prefix="zz", namespace=keys.namespace).issue("alice").token.reveal()
    bad = [
        flip(good, 20),  # secret changed: checksum fails
        flip(good, len(good) - 1),  # checksum changed
        with_crc(flip(good, 20)[:-6]),  # right checksum, wrong secret
        with_crc("ks_" + "Q" * 8 + good[11:-6]),  # unknown key id
        good[:-1],
        good + "x",
        "",
        "ks_",
        "Bearer " + good,
        good.replace("ks_", "KS_"),
        other_prefix,  # another prefix's token
        "ks_" + "\u00e9" * 46,
    ]
    for token in bad:
        with pytest.raises(keyseal.InvalidApiKey) as info:
            keys.verify(token)
        assert str(info.value) == INVALID
        assert info.value.args == (INVALID,)
        assert good not in repr(info.value)
        assert not token or token not in repr(info.value)


def test_expiry(keys: keyseal.ApiKeys) -> None:
    issued = keys.issue("alice", ttl=0.3)
    assert keys.verify(issued.token).owner == "alice"
    time.sleep(0.45)
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(issued.token)
    assert keys.get(issued.key.key_id) is None


def test_revoke(keys: keyseal.ApiKeys) -> None:
    issued = keys.issue("alice", ttl=60)
    kid = issued.key.key_id
    assert keys.revoke(kid) is True
    assert keys.revoke(kid) is False
    assert keys.revoke("Zzzzzzzz") is False
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(issued.token)
    got = keys.get(kid)
    assert got is not None
    assert got.revoked is True
    assert got.owner == "alice"
    assert keys.list("alice") == []
    assert [k.key_id for k in keys.list("alice", include_revoked=True)] == [kid]


def test_rotate_with_and_without_grace(keys: keyseal.ApiKeys) -> None:
    old = keys.issue("alice", scopes=["a", "b"], ttl=1000, label="L", client_cert=FP)
    time.sleep(0.05)
    new = keys.rotate(old.key.key_id, grace=0.4)
    assert new.key.key_id != old.key.key_id
    assert (new.key.owner, new.key.scopes, new.key.label, new.key.client_cert) == (
        "alice",
        frozenset({"a", "b"}),
        "L",
        FP_NORM,
    )
    assert new.key.expires_at is not None
    assert abs((new.key.expires_at - new.key.created_at).total_seconds() - 1000) < 0.01
    assert new.key.created_at > old.key.created_at
    # during the grace period both verify
    assert keys.verify(old.token, client_cert=FP).key_id == old.key.key_id
    assert keys.verify(new.token, client_cert=FP).key_id == new.key.key_id
    time.sleep(0.55)
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(old.token, client_cert=FP)
    assert keys.verify(new.token, client_cert=FP).key_id == new.key.key_id
    got = keys.get(old.key.key_id)
    assert got is not None
    assert got.revoked
    # grace 0: the old token fails at once; a revoked or unknown id cannot be rotated
    newer = keys.rotate(new.key.key_id)
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(new.token, client_cert=FP)
    assert keys.verify(newer.token, client_cert=FP).owner == "alice"
    for kid in (new.key.key_id, old.key.key_id, "Zzzzzzzz", "bad id"):
        with pytest.raises(keyseal.InvalidApiKey):
            keys.rotate(kid)
    with pytest.raises(ValueError, match="grace"):
        keys.rotate(newer.key.key_id, grace=-1)


def test_list_newest_first_and_per_owner(keys: keyseal.ApiKeys) -> None:
    ids = []
    for i in range(4):
        ids.append(keys.issue("alice", label=f"k{i}").key.key_id)
        time.sleep(0.005)
    bob = keys.issue("bob").key.key_id
    short = keys.issue("alice", ttl=0.2).key.key_id
    listed = [k.key_id for k in keys.list("alice")]
    assert listed == [short, *reversed(ids)]
    assert [k.key_id for k in keys.list("bob")] == [bob]
    assert keys.list("carol") == []
    time.sleep(0.3)
    assert [k.key_id for k in keys.list("alice")] == list(reversed(ids))


def test_client_certificate_binding(keys: keyseal.ApiKeys) -> None:
    bound = keys.issue("alice", client_cert=FP)
    assert bound.key.client_cert == FP_NORM

    class Cert:
        fingerprint_sha256 = FP_NORM

    assert keys.verify(bound.token, client_cert=FP.upper()).owner == "alice"
    assert keys.verify(bound.token, client_cert=Cert()).owner == "alice"
    other = "00" * 32
    for presented in (None, other, "not hex"):
        with pytest.raises(keyseal.InvalidApiKey) as info:
            keys.verify(bound.token, client_cert=presented)
        assert str(info.value) == INVALID
        assert info.value._certificate_mismatch is True
    # an unbound key ignores the certificate
    free = keys.issue("alice")
    assert keys.verify(free.token, client_cert=other).owner == "alice"
    with pytest.raises(ValueError, match="fingerprint"):
        keys.issue("alice", client_cert="abc")
    with pytest.raises(TypeError, match="client_cert"):
        keys.verify(free.token, client_cert=42)  # type: ignore[arg-type]


def test_last_used_at_written_once_a_minute(keys: keyseal.ApiKeys) -> None:
    issued = keys.issue("alice")
    kid = issued.key.key_id
    assert issued.key.last_used_at is None
    first = keys.verify(issued.token)
    assert first.last_used_at is not None
    wait_for(lambda: (k := keys.get(kid)) is not None and k.last_used_at is not None)
    stored = keys.get(kid)
    assert stored is not None
    assert stored.last_used_at == first.last_used_at
    time.sleep(0.01)
    again = keys.verify(issued.token)
    assert again.last_used_at == first.last_used_at  # within the minute: no new write
    time.sleep(0.1)
    stored = keys.get(kid)
    assert stored is not None
    assert stored.last_used_at == first.last_used_at


def test_keys_survive_keyring_rotation_but_not_another_naming_key(
    keys: keyseal.ApiKeys, url: str, ring: keyseal.Keyring
) -> None:
    issued = keys.issue("alice", scopes=["read"])
    rotated = keyseal.Vault(url, keyring=ring.rotated())
    again = keyseal.ApiKeys(rotated, namespace=keys.namespace)
    assert again.verify(issued.token, scopes=["read"]).owner == "alice"
    # a key issued under the rotated ring verifies under it too, and new keys seal under the new primary
    assert again.verify(again.issue("bob").token).owner == "bob"
    stranger = keyseal.ApiKeys(
        keyseal.Vault(url, keyring=keyseal.Keyring.generate()), namespace=keys.namespace
    )
    with pytest.raises(keyseal.InvalidApiKey):
        stranger.verify(issued.token)


def test_bad_arguments(keys: keyseal.ApiKeys, vault: keyseal.Vault) -> None:
    for prefix in ("", "k", "KS", "1ks", "ks_", "abcdefghijk", "k-s"):
        with pytest.raises(ValueError, match="prefix"):
            keyseal.ApiKeys(vault, prefix=prefix)
    with pytest.raises(TypeError, match="Vault"):
        keyseal.ApiKeys("memory://")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="namespace"):
        keyseal.ApiKeys(vault, namespace="has space")
    for owner in ("", " lead", "a\nb"):
        with pytest.raises(ValueError, match="owner"):
            keys.issue(owner)
    with pytest.raises(TypeError, match="single str"):
        keys.issue("alice", scopes="read")
    with pytest.raises(TypeError, match="scopes"):
        keys.issue("alice", scopes=[1])  # type: ignore[list-item]
    for scope in ("", "has space", "x" * 129):
        with pytest.raises(ValueError, match="scope"):
            keys.issue("alice", scopes=[scope])
    for ttl in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="ttl"):
            keys.issue("alice", ttl=ttl)
    with pytest.raises(ValueError, match="label"):
        keys.issue("alice", label="a\x00b")
    with pytest.raises(TypeError, match="token"):
        keys.verify(b"ks_x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single str"):
        keys.verify("ks_x", scopes="read")
    for kid in ("short", "has_underscore", "x" * 9):
        with pytest.raises(ValueError, match="key_id"):
            keys.get(kid)
        with pytest.raises(ValueError, match="key_id"):
            keys.revoke(kid)
    with pytest.raises(TypeError):
        keyseal.ApiKey()
    with pytest.raises(TypeError):
        keyseal.IssuedKey()


def test_issued_key_refuses_pickling(keys: keyseal.ApiKeys) -> None:
    import pickle

    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(keys.issue("alice"))


def test_async_twins(keys: keyseal.ApiKeys) -> None:
    async def main() -> None:
        issued = await keys.aissue("alice", scopes=["read"], ttl=100, label="async")
        k = await keys.averify(issued.token, scopes=["read"])
        assert k.owner == "alice"
        with pytest.raises(keyseal.InsufficientScope):
            await keys.averify(issued.token, scopes=["write"])
        with pytest.raises(keyseal.InvalidApiKey):
            await keys.averify(flip(issued.token.reveal(), 20))
        got = await keys.aget(issued.key.key_id)
        assert got is not None
        assert got.label == "async"
        assert [x.key_id for x in await keys.alist("alice")] == [issued.key.key_id]
        new = await keys.arotate(issued.key.key_id)
        with pytest.raises(keyseal.InvalidApiKey):
            await keys.averify(issued.token)
        assert await keys.arevoke(new.key.key_id) is True
        assert await keys.alist("alice") == []
        # many at once on one loop
        tokens = [(await keys.aissue("carol")).token for _ in range(5)]
        found = await asyncio.gather(*(keys.averify(t) for t in tokens * 4))
        assert {f.owner for f in found} == {"carol"}

    asyncio.run(main())


def test_same_namespace_other_prefix_are_separate(vault: keyseal.Vault) -> None:
    ns = fresh_namespace()
    a = keyseal.ApiKeys(vault, prefix="acme", namespace=ns)
    token = a.issue("alice").token.reveal()
    assert token.startswith("acme_")
    assert a.verify(token).owner == "alice"
    assert keyseal.ApiKeys(vault, namespace=fresh_namespace()).get(token[5:13]) is None
