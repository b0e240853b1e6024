"""The Vault on a real 3-master Redis Cluster: no ACL, the broad ACL user, the least-privilege user."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from _extra_servers import least_privilege_cluster
from keyseal import DecryptionError, Keyring, Vault


@pytest.fixture(scope="module")
def redis_cluster_lp(redis_factory: Any) -> Any:
    """A 3-master cluster whose app user has only the least-privilege ACL rule."""
    return least_privilege_cluster(redis_factory, "cluster-lp")


@pytest.fixture(params=["redis_cluster", "redis_cluster_acl", "redis_cluster_lp"])
def cluster(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def _nodes_holding(cluster: Any) -> int:
    """How many masters hold at least one key."""
    return sum(1 for i in range(len(cluster.nodes)) if cluster.node_client(i).dbsize() > 0)


def test_whole_api_across_slots(cluster: Any) -> None:
    ring = Keyring.generate()
    vault = Vault(cluster.url, keyring=ring, namespace="cluster-api")
    names = [f"svc/{i}/token" for i in range(200)]
    vault.put_many({n: f"value-{n}" for n in names}, ttl=600)
    assert _nodes_holding(cluster) > 1, "keys should spread over the cluster's nodes"
    got = vault.get_many([*names, "missing"])
    assert {n: s.reveal() for n, s in got.items()} == {n: f"value-{n}" for n in names}
    one = vault.get("svc/7/token")
    assert one is not None
    assert one.reveal() == "value-svc/7/token"
    assert vault.exists("svc/7/token")
    ttl = vault.ttl("svc/7/token")
    assert ttl is not None
    assert 0 < ttl <= 600
    assert vault.touch("svc/7/token", ttl=None)
    assert vault.ttl("svc/7/token") == math.inf
    assert vault.add("fresh", "1")
    assert not vault.add("fresh", "2")
    assert vault.delete("fresh")
    assert not vault.exists("fresh")
    assert vault.clear() == 200
    assert vault.get_many(names) == {}


def test_async_twins_across_slots(cluster: Any) -> None:
    vault = Vault(cluster.url, keyring=Keyring.generate(), namespace="cluster-async")
    names = [f"a{i}" for i in range(100)]

    async def run() -> dict[str, str]:
        await vault.aput_many({n: n.upper() for n in names})
        await asyncio.gather(*[vault.aput(f"b{i}", str(i)) for i in range(100)])
        singles = await asyncio.gather(*[vault.aget(f"b{i}") for i in range(100)])
        assert [s.reveal() if s else None for s in singles] == [str(i) for i in range(100)]
        got = await vault.aget_many(names)
        assert await vault.attl("a1") == math.inf
        assert await vault.aexists("a1")
        assert await vault.adelete("a1")
        assert await vault.aclear() == 199
        return {n: s.reveal() for n, s in got.items()}

    assert asyncio.run(run()) == {n: n.upper() for n in names}


def test_async_rewrap_walks_every_node(cluster: Any) -> None:
    old = Keyring.generate()
    Vault(cluster.url, keyring=old, namespace="cluster-arewrap").put_many(
        {f"n{i}": f"v{i}" for i in range(120)}, ttl=900
    )
    new = old.rotated()
    rotated = Vault(cluster.url, keyring=new, namespace="cluster-arewrap")

    async def run() -> tuple[int, int]:
        return await rotated.arewrap(batch_size=25), await rotated.arewrap()

    assert asyncio.run(run()) == (120, 0)
    retired = Vault(cluster.url, keyring=new.without(old.primary_id), namespace="cluster-arewrap")
    got = retired.get_many([f"n{i}" for i in range(120)])
    assert {n: s.reveal() for n, s in got.items()} == {f"n{i}": f"v{i}" for i in range(120)}
    assert retired.clear() == 120


def test_rewrap_walks_every_node(cluster: Any) -> None:
    old = Keyring.generate()
    vault = Vault(cluster.url, keyring=old, namespace="cluster-rewrap")
    vault.put_many({f"n{i}": f"v{i}" for i in range(300)}, ttl=900)
    assert _nodes_holding(cluster) == len(cluster.nodes), "300 keys must reach every master"
    new = old.rotated()
    rotated = Vault(cluster.url, keyring=new, namespace="cluster-rewrap")
    seen: list[int] = []
    assert rotated.rewrap(batch_size=37, progress=lambda p: seen.append(p.scanned)) == 300
    assert seen == sorted(seen)
    assert seen[-1] == 300
    assert rotated.rewrap() == 0
    retired = Vault(cluster.url, keyring=new.without(old.primary_id), namespace="cluster-rewrap")
    got = retired.get_many([f"n{i}" for i in range(300)])
    assert len(got) == 300
    assert all(got[f"n{i}"] == f"v{i}" for i in range(300))
    ttl = retired.ttl("n5")
    assert ttl is not None
    assert 0 < ttl <= 900
    # Everything is sealed under the new key now: the old keyring alone opens nothing.
    with pytest.raises(DecryptionError):
        Vault(cluster.url, keyring=old, namespace="cluster-rewrap").get("n5")
    retired.clear()
