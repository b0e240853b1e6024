"""What Redis holds for API keys: no token and no 12-character piece of one, anywhere in the keyspace;
one command per verify; none for a token whose checksum fails; the records are Vault envelopes."""

from __future__ import annotations

import time
from typing import Any

import pytest

import keyseal
from conftest import fresh_namespace


def _dump(client: Any) -> list[bytes]:
    """Every key and every value (all types) in the keyspace, as bytes."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key)
        if kind == b"string":
            out.append(client.get(key))
        elif kind == b"hash":
            for f, v in client.hgetall(key).items():
                out += [f, v]
        elif kind in (b"set",):
            out += list(client.smembers(key))
        elif kind == b"list":
            out += client.lrange(key, 0, -1)
        elif kind == b"zset":
            out += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
    return out


def _pieces(token: str, n: int = 12) -> set[bytes]:
    return {token[i : i + n].encode() for i in range(len(token) - n + 1)}


@pytest.mark.parametrize("server", ["apikeys_redis", "apikeys_cluster"])
def test_keyspace_holds_no_token_nor_any_piece(server: str, request: pytest.FixtureRequest) -> None:
    srv = request.getfixturevalue(server)
    ring = keyseal.Keyring.generate()
    keys = keyseal.ApiKeys(keyseal.Vault(srv.url, keyring=ring), namespace=fresh_namespace())
    tokens = []
    for i in range(20):
        issued = keys.issue(f"owner-{i % 3}", scopes=["read", "write"], label=f"label {i}", ttl=600)
        tokens.append(issued.token.reveal())
        keys.verify(issued.token)  # leaves a last_used_at write behind
    rotated = keys.rotate(tokens[0][3:11], grace=30)
    tokens.append(rotated.token.reveal())
    keys.revoke(tokens[1][3:11])
    keys.list("owner-0", include_revoked=True)
    time.sleep(0.2)  # the background last_used_at writes
    blobs = _dump(srv.client())
    assert blobs, "the keyspace should hold our records"
    secrets_only = [t[11:] for t in tokens]  # the part after the public key id
    for token, secret in zip(tokens, secrets_only, strict=True):
        pieces = _pieces(token)
        for blob in blobs:
            assert token.encode() not in blob
            assert secret[:32].encode() not in blob
            assert not any(p in blob for p in pieces), "a 12-character piece of a token is in Redis"
    # the owners and labels are sealed too
    for blob in blobs:
        assert b"owner-" not in blob
        assert b"label " not in blob


def _calls(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k: v["calls"] for k, v in stats.items() if not k.endswith(("info", "config|resetstat", "config"))}


def test_one_command_per_verify_and_none_on_bad_checksum(apikeys_redis: Any) -> None:
    keys = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    issued = keys.issue("alice")
    keys.verify(issued.token)
    time.sleep(0.2)  # let the first last_used_at write land
    admin = apikeys_redis.client()
    admin.config_resetstat()
    for _ in range(5):
        keys.verify(issued.token)
    time.sleep(0.1)
    calls = _calls(admin)
    # One command per verify: the Vault's bounded read is a plain GETRANGE (so a foreign value
    # larger than the limit is never read whole), with no script around it.
    assert calls == {"cmdstat_getrange": 5}, calls
    admin.config_resetstat()
    token = issued.token.reveal()
    bad = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for _ in range(5):
        with pytest.raises(keyseal.InvalidApiKey):
            keys.verify(bad)
    assert _calls(admin) == {}


def test_records_are_vault_envelopes(apikeys_redis: Any) -> None:
    """A Vault on the API keys namespace rewraps the records; keys verify after the old key retires."""
    ring = keyseal.Keyring.generate()
    ns = fresh_namespace()
    keys = keyseal.ApiKeys(keyseal.Vault(apikeys_redis.url, keyring=ring), namespace=ns)
    issued = [keys.issue("alice") for _ in range(3)]
    new_ring = ring.rotated()
    assert keyseal.Vault(apikeys_redis.url, keyring=new_ring, namespace=ns).rewrap() == 4  # 3 records + index
    retired = new_ring.without(ring.primary_id)
    after = keyseal.ApiKeys(keyseal.Vault(apikeys_redis.url, keyring=retired), namespace=ns)
    for i in issued:
        assert after.verify(i.token).owner == "alice"
    assert len(after.list("alice")) == 3


def test_layout_as_documented_and_tampering(apikeys_redis: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The record sits at the Vault name ``k:<key_id>`` with the key's TTL; a tampered record is an
    invalid key (and a warning), never a crash or a pass."""
    from _vaults import redis_key

    ring = keyseal.Keyring.generate()
    ns = fresh_namespace()
    keys = keyseal.ApiKeys(keyseal.Vault(apikeys_redis.url, keyring=ring), namespace=ns)
    issued = keys.issue("alice", ttl=100)
    kid = issued.key.key_id
    client = apikeys_redis.client()
    record = redis_key(ring, "ks", ns, f"k:{kid}")
    index = redis_key(ring, "ks", ns, "o:alice")
    assert client.exists(record)
    assert client.exists(index)
    assert 99_000 < client.pttl(record) <= 100_000
    assert client.pttl(index) == -1
    # the Vault of that namespace reads the index: the owner's key ids, 8 bytes each
    listed = keyseal.Vault(apikeys_redis.url, keyring=ring, namespace=ns).get("o:alice")
    assert listed is not None
    assert listed.reveal() == kid
    # tampering: a flipped byte, or another key's record moved here
    other = keys.issue("bob")
    moved = client.get(redis_key(ring, "ks", ns, f"k:{other.key.key_id}"))
    blob = bytearray(client.get(record))
    blob[-1] ^= 1
    for bad in (bytes(blob), moved, b"garbage"):
        client.set(record, bad, keepttl=True)
        with caplog.at_level("WARNING"), pytest.raises(keyseal.InvalidApiKey):
            keys.verify(issued.token)
    assert any("could not be opened" in r.getMessage() for r in caplog.records)


def test_concurrent_issues_for_one_owner_all_listed(backend: Any) -> None:
    """The owner index is a compare-and-swap: threads issuing for the same owner lose nothing."""
    import threading
    import uuid

    url = f"memory://{uuid.uuid4().hex}" if backend is None else backend.url
    keys = keyseal.ApiKeys(
        keyseal.Vault(url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    issued: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            kid = keys.issue("shared").key.key_id
            with lock:
                issued.append(kid)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(k.key_id for k in keys.list("shared")) == sorted(issued)
    assert len(issued) == 60


RETENTION = 30 * 24 * 3600  # docs/apikeys.md: a revoked key's record is kept 30 days


def test_revoked_records_get_a_finite_ttl(backend: Any) -> None:
    """A key issued without ttl and revoked expires RETENTION later (a shorter own ttl is kept);
    a rotated key's retention starts when its grace ends."""
    import uuid

    url = f"memory://{uuid.uuid4().hex}" if backend is None else backend.url
    ring = keyseal.Keyring.generate()
    ns = fresh_namespace()
    keys = keyseal.ApiKeys(keyseal.Vault(url, keyring=ring), namespace=ns)
    raw = keyseal.Vault(url, keyring=ring, namespace=ns)  # the same records, by their Vault names
    forever = keys.issue("erin").key.key_id
    assert raw.ttl(f"k:{forever}") == float("inf")
    assert keys.revoke(forever)
    left = raw.ttl(f"k:{forever}")
    assert left is not None
    assert RETENTION - 60 < left <= RETENTION
    short = keys.issue("erin", ttl=100).key.key_id
    assert keys.revoke(short)
    left = raw.ttl(f"k:{short}")
    assert left is not None
    assert 90 < left <= 100
    rotated = keys.issue("erin").key.key_id
    keys.rotate(rotated, grace=3600)
    left = raw.ttl(f"k:{rotated}")
    assert left is not None
    assert RETENTION + 3600 - 60 < left <= RETENTION + 3600
    # still listed while retained, and still refused
    listed = {k.key_id: k.revoked for k in keys.list("erin", include_revoked=True)}
    assert listed[forever] is True
    assert listed[short] is True


def test_list_prunes_index_entries_whose_record_vanished(backend: Any) -> None:
    import uuid

    url = f"memory://{uuid.uuid4().hex}" if backend is None else backend.url
    ring = keyseal.Keyring.generate()
    ns = fresh_namespace()
    keys = keyseal.ApiKeys(keyseal.Vault(url, keyring=ring), namespace=ns)
    raw = keyseal.Vault(url, keyring=ring, namespace=ns)
    a, b, c = (keys.issue("frank").key.key_id for _ in range(3))
    assert keys.revoke(a)

    def index() -> str:
        secret = raw.get("o:frank")
        assert secret is not None
        return secret.reveal()

    assert index() == a + b + c
    # a's retention ran out, b's record was lost some other way
    assert raw.delete(f"k:{a}")
    assert raw.delete(f"k:{b}")
    assert index() == a + b + c
    assert [k.key_id for k in keys.list("frank", include_revoked=True)] == [c]
    assert index() == c
