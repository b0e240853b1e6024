"""The least-privilege ACL rule in docs/redis.md is enough for the whole Vault, and no more."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import redis

from _extra_servers import CLUSTER_EXTRA, SINGLE_NODE_RULE
from keyseal import Keyring, StoreAuthError, Vault


def _add_user(clients: list[Any], rule: str) -> str:
    password = secrets.token_hex(16)
    for c in clients:
        c.execute_command("ACL", "SETUSER", "app", "reset", "on", f">{password}", *rule.split())
    return password


def _exercise(vault: Vault) -> None:
    vault.put("a", "1", ttl=60)
    vault.put_many({f"m{i}": str(i) for i in range(20)})
    assert vault.get("a") == "1"
    assert len(vault.get_many([f"m{i}" for i in range(20)])) == 20
    assert vault.add("b", "2")
    assert vault.touch("b", ttl=30)
    assert vault.touch("b", ttl=None)
    assert vault.exists("a")
    assert vault.ttl("a") is not None
    assert vault.delete("b")

    async def run() -> None:
        await vault.aput("c", "3")
        assert await vault.aget("c") == "3"
        assert len(await vault.aget_many(["a", "c"])) == 2

    asyncio.run(run())
    assert vault.rewrap() == 0
    assert vault.clear() == 22


def test_single_node_rule_is_sufficient(redis_acl: Any) -> None:
    admin = redis_acl.admin_client()
    password = _add_user([admin], SINGLE_NODE_RULE)
    url = f"redis://app:{password}@127.0.0.1:{redis_acl.port}/0"
    ring = Keyring.generate()
    _exercise(Vault(url, keyring=ring, namespace="lp"))
    rotated = Vault(url, keyring=ring.rotated(), namespace="lp2")
    Vault(url, keyring=ring, namespace="lp2").put_many({f"r{i}": "x" for i in range(10)})
    assert rotated.rewrap() == 10
    assert rotated.clear() == 10


def test_single_node_rule_denies_everything_else(redis_acl: Any) -> None:
    admin = redis_acl.admin_client()
    password = _add_user([admin], SINGLE_NODE_RULE)
    app = redis.Redis(host="127.0.0.1", port=redis_acl.port, username="app", password=password)
    for command in (["KEYS", "*"], ["FLUSHDB"], ["CONFIG", "GET", "*"], ["GET", "not-ours"], ["DEL", "ks:x"]):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    # A prefix outside ~ks:* is refused to the Vault too, as an auth error.
    url = f"redis://app:{password}@127.0.0.1:{redis_acl.port}/0"
    other = Vault(url, keyring=Keyring.generate(), key_prefix="other")
    with pytest.raises(StoreAuthError):
        other.put("a", "1")


def test_cluster_rule_is_sufficient(redis_cluster_acl: Any) -> None:
    nodes = [redis_cluster_acl.node_client(i) for i in range(len(redis_cluster_acl.nodes))]
    password = _add_user(nodes, f"{SINGLE_NODE_RULE} {CLUSTER_EXTRA}")
    seeds = ",".join(f"{h}:{p}" for h, p in redis_cluster_acl.nodes)
    url = f"redis+cluster://app:{password}@{seeds}/"
    _exercise(Vault(url, keyring=Keyring.generate(), namespace="lp-cluster"))
