"""Fork safety (gunicorn --preload, Celery prefork, multiprocessing): after os.fork() the child gets
its own connections and async runtime, and parent and child both keep working, at the same time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from keyseal import Keyring, Vault

ROUNDS = 300


def fork_child(work: Callable[[], None]) -> tuple[int, int]:
    """Run `work` in a forked child; returns (pid, read end of a pipe carrying its outcome)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(r)
        code, msg = 0, "ok"
        try:
            work()
        except BaseException as e:
            code, msg = 1, f"{type(e).__name__}: {e}"
        os.write(w, msg.encode()[:8000])
        os._exit(code)
    os.close(w)
    return pid, r


def join_child(pid: int, r: int, timeout: float = 60.0) -> None:
    """Wait for the child; a child that hangs is killed and fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            pytest.fail(f"the forked child hung for {timeout} s")
        time.sleep(0.01)
    msg = os.read(r, 65536).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0, f"child failed: {msg}"


def both(work: Callable[[str], None], timeout: float = 60.0) -> None:
    """Fork, then run `work("child")` in the child and `work("parent")` here, concurrently."""
    pid, r = fork_child(lambda: work("child"))
    try:
        work("parent")
    finally:
        join_child(pid, r, timeout)


def sync_traffic(vault: Vault, who: str) -> None:
    """Answers that come back crossed between processes show up here as wrong values."""
    for i in range(ROUNDS):
        assert not vault.exists(f"missing-{i}"), f"{who}: exists(missing) said True"
        got = vault.get("present")
        assert got is not None, f"{who}: get(present) returned None"
        assert got.reveal() == "the value", f"{who}: wrong value"
        vault.put(f"{who}-{i % 10}", f"{who}-{i}")
        mine = vault.get(f"{who}-{i % 10}")
        assert mine is not None
        assert mine.reveal() == f"{who}-{i}", f"{who}: read another process's write"


async def async_traffic(vault: Vault, who: str) -> None:
    for i in range(ROUNDS // 3):
        got = await vault.aget("present")
        assert got is not None, f"{who}: aget(present) returned None"
        assert got.reveal() == "the value"
        assert not await vault.aexists(f"missing-{i}")
        await vault.aput(f"a{who}-{i % 5}", str(i))
        assert await vault.aget_bytes(f"a{who}-{i % 5}") == str(i).encode()


@pytest.fixture(params=["memory", "redis_plain", "redis_cluster"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://fork-{uuid.uuid4().hex}"
    return str(request.getfixturevalue(request.param).url)


def fresh(url: str, **options: Any) -> Vault:
    v = Vault(url, keyring=Keyring.generate(), namespace="fork-" + uuid.uuid4().hex[:8], **options)
    v.put("present", "the value")
    return v


def test_sync_calls_after_fork_in_both_processes(url: str) -> None:
    vault = fresh(url)
    sync_traffic(vault, "before")  # the parent's pool now holds connections
    both(lambda who: sync_traffic(vault, who))
    sync_traffic(vault, "after")
    vault.clear()


def test_async_calls_after_fork_in_both_processes(url: str) -> None:
    vault = fresh(url)
    asyncio.run(async_traffic(vault, "before"))  # the runtime and the async connection exist
    both(lambda who: asyncio.run(async_traffic(vault, who)))
    asyncio.run(async_traffic(vault, "after"))
    vault.clear()


def test_clear_and_rewrap_after_fork_in_both_processes(url: str) -> None:
    ring = Keyring.generate()
    vaults = {
        who: Vault(url, keyring=ring, namespace=f"fork-{who}-{uuid.uuid4().hex[:6]}")
        for who in ("parent", "child")
    }
    for v in vaults.values():
        v.put_many({f"n{i}": f"v{i}" for i in range(50)})
    assert vaults["parent"].rewrap() == 0  # the runtime has run blocking work before the fork
    rotated = ring.rotated()

    def work(who: str) -> None:
        v = Vault(url, keyring=rotated, namespace=vaults[who].namespace)
        assert v.rewrap(batch_size=7) == 50, who
        got = v.get("n3")
        assert got is not None
        assert got.reveal() == "v3"
        assert asyncio.run(_aclear(v)) == 50, who
        v.put("again", "x")
        assert v.clear() == 1

    both(work)
    assert vaults["parent"].get_many([f"n{i}" for i in range(50)]) == {}
    # The child's namespace was cleared by the child, in the same store (not on memory://: a copy).
    if not url.startswith("memory://"):
        assert vaults["child"].get_many([f"n{i}" for i in range(50)]) == {}


def test_a_child_of_a_child_works(url: str) -> None:
    vault = fresh(url)
    asyncio.run(async_traffic(vault, "top"))

    def grandchild_work(who: str) -> None:
        sync_traffic(vault, "g" + who)
        asyncio.run(async_traffic(vault, "g" + who))

    def middle(who: str) -> None:
        asyncio.run(async_traffic(vault, who))
        sync_traffic(vault, who)
        if who == "child":
            both(grandchild_work)

    both(middle, timeout=120)
    vault.clear()


def test_incr_after_fork_counts_every_increment(redis_plain: Any) -> None:
    vault = fresh(redis_plain.url)
    vault.put("n", "0")
    vault.incr("n")

    def work(who: str) -> None:
        for _ in range(200):
            vault.incr("n")
        asyncio.run(_aincr_many(vault, 100))

    both(work)
    assert vault.get_bytes("n") == b"601"
    vault.clear()


async def _aclear(vault: Vault) -> int:
    return await vault.aclear()


async def _aincr_many(vault: Vault, n: int) -> None:
    for _ in range(n):
        await vault.aincr("n")
