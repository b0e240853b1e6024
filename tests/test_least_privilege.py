"""The least-privilege ACL rule in docs/redis.md is enough for the whole Vault, no command in it is
superfluous, and it denies everything else."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import redis

from _extra_servers import CLUSTER_RULE, OTHER_DB_EXTRA, SINGLE_NODE_RULE
from keyseal import ApiKeys, Keyring, StoreAuthError, StoreError, Vault


def _add_user(clients: list[Any], rule: str) -> str:
    password = secrets.token_hex(16)
    for c in clients:
        c.execute_command("ACL", "SETUSER", "app", "reset", "on", f">{password}", *rule.split())
    return password


def _exercise(url: str, ns: str) -> None:
    """Every Vault operation, sync and async, including the paths behind misses and rewrap."""
    ring = Keyring.generate()
    vault = Vault(url, keyring=ring, namespace=ns)
    vault.put("a", "1", ttl=60)
    vault.put_many({f"m{i}": str(i) for i in range(20)})
    assert vault.get("a") == "1"
    assert vault.get("missing") is None
    assert len(vault.get_many([f"m{i}" for i in range(20)] + ["missing"])) == 20  # TYPE behind the miss
    assert vault.add("b", "2")
    assert not vault.add("b", "3")
    assert vault.touch("b", ttl=30)
    assert vault.touch("b", ttl=None)
    assert vault.exists("a")
    assert vault.ttl("a") is not None
    assert vault.delete("b")

    async def run() -> None:
        await vault.aput("c", "3")
        assert await vault.aget("c") == "3"
        assert await vault.aget("missing") is None
        assert len(await vault.aget_many(["a", "c", "missing"])) == 2
        assert await vault.attl("c") is not None

    asyncio.run(run())
    rotated = Vault(url, keyring=ring.rotated(), namespace=ns)
    assert rotated.rewrap() == 22  # SCAN, GET, EVAL (compare-and-swap)
    assert rotated.rewrap() == 0
    assert rotated.clear() == 22


def _single_url(server: Any, password: str, db: int = 0) -> str:
    return f"redis://app:{password}@127.0.0.1:{server.port}/{db}"


def _cluster_url(server: Any, password: str) -> str:
    return f"redis+cluster://app:{password}@{','.join(f'{h}:{p}' for h, p in server.nodes)}/"


def test_single_node_rule_is_sufficient(redis_acl: Any) -> None:
    password = _add_user([redis_acl.admin_client()], SINGLE_NODE_RULE)
    _exercise(_single_url(redis_acl, password), "lp")


def test_single_node_rule_covers_api_keys(redis_acl: Any) -> None:
    """Issue, verify, revoke (its capped-TTL compare-and-swap runs PTTL/PEXPIRE in a script), list."""
    password = _add_user([redis_acl.admin_client()], SINGLE_NODE_RULE)
    ring = Keyring.generate()
    keys = ApiKeys(Vault(_single_url(redis_acl, password), keyring=ring), namespace="lp-keys")
    issued = keys.issue("owner")
    assert keys.verify(issued.token).owner == "owner"
    assert keys.revoke(issued.key.key_id)
    left = Vault(_single_url(redis_acl, password), keyring=ring, namespace="lp-keys").ttl(
        f"k:{issued.key.key_id}"
    )
    assert left is not None
    assert left < float("inf")
    assert [k.revoked for k in keys.list("owner", include_revoked=True)] == [True]


def test_another_database_needs_select(redis_acl: Any) -> None:
    admin = redis_acl.admin_client()
    password = _add_user([admin], SINGLE_NODE_RULE)
    with pytest.raises(StoreError):
        Vault(_single_url(redis_acl, password, db=1), keyring=Keyring.generate()).put("a", "1")
    password = _add_user([admin], f"{SINGLE_NODE_RULE} {OTHER_DB_EXTRA}")
    _exercise(_single_url(redis_acl, password, db=1), "lp-db1")


def test_every_single_node_command_is_needed(redis_acl: Any) -> None:
    admin = redis_acl.admin_client()
    commands = [w for w in SINGLE_NODE_RULE.split() if w.startswith("+")]
    unneeded = []
    for i, drop in enumerate(commands):
        password = _add_user([admin], " ".join(w for w in SINGLE_NODE_RULE.split() if w != drop))
        try:
            _exercise(_single_url(redis_acl, password), f"drop{i}")
        except StoreError:
            continue
        unneeded.append(drop)
    assert unneeded == []


def test_single_node_rule_denies_everything_else(redis_acl: Any) -> None:
    password = _add_user([redis_acl.admin_client()], SINGLE_NODE_RULE)
    app = redis.Redis(host="127.0.0.1", port=redis_acl.port, username="app", password=password)
    for command in (
        ["KEYS", "*"],
        ["FLUSHDB"],
        ["CONFIG", "GET", "*"],
        ["GET", "not-ours"],
        ["DEL", "ks:x"],
        ["PUBLISH", "ch", "x"],
        ["SELECT", "1"],
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    # A prefix outside ~ks:* is refused to the Vault too, as an auth error.
    other = Vault(_single_url(redis_acl, password), keyring=Keyring.generate(), key_prefix="other")
    with pytest.raises(StoreAuthError):
        other.put("a", "1")


def test_cluster_rule_is_sufficient(redis_cluster_acl: Any) -> None:
    nodes = [redis_cluster_acl.node_client(i) for i in range(len(redis_cluster_acl.nodes))]
    password = _add_user(nodes, CLUSTER_RULE)
    _exercise(_cluster_url(redis_cluster_acl, password), "lp-cluster")


def test_every_cluster_command_is_needed(redis_cluster_acl: Any) -> None:
    nodes = [redis_cluster_acl.node_client(i) for i in range(len(redis_cluster_acl.nodes))]
    # ASKING only matters while a slot migrates, which this suite does not do.
    commands = [w for w in CLUSTER_RULE.split() if w.startswith("+") and w != "+asking"]
    unneeded = []
    for i, drop in enumerate(commands):
        password = _add_user(nodes, " ".join(w for w in CLUSTER_RULE.split() if w != drop))
        try:
            _exercise(_cluster_url(redis_cluster_acl, password), f"cdrop{i}")
        except StoreError:
            continue
        unneeded.append(drop)
    assert unneeded == []
