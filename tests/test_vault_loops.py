"""Event loops closed with keyseal futures still pending or cancelled (asyncio.run per call,
pytest-asyncio's loop per test) release their descriptors and the loop itself."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import weakref
from typing import Any

import pytest

from keyseal import Keyring, Vault


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def run_many(vault: Vault, runs: int, loops: list[weakref.ref[asyncio.AbstractEventLoop]]) -> None:
    async def one() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(vault.aget("k"), timeout=0.001)
        # A future left pending when the loop closes (never awaited to the end).
        vault.aexists("k")

    for _ in range(runs):
        asyncio.run(one())


def test_cancelled_and_pending_futures_on_memory_leak_nothing() -> None:
    vault = Vault("memory://", keyring=Keyring.generate())
    vault.put("k", "v")
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    run_many(vault, 20, loops)  # warm up: first-use allocations
    before = open_fds()
    run_many(vault, 200, loops)
    gc.collect()
    after = open_fds()
    alive = sum(1 for r in loops if r() is not None)
    print(f"\n200 asyncio.run(), one future cancelled, one pending: fds {before} -> {after}, alive {alive}")
    assert after - before <= 4
    assert alive <= 3


def test_futures_pending_on_a_silent_server_leak_nothing(redis_blackhole: Any) -> None:
    """The Rust work outlives the loop (it waits on a server that never answers): the loop's
    descriptors are released at once and the loop when the work ends."""
    vault = Vault(
        redis_blackhole.url, keyring=Keyring.generate(), socket_timeout=0.5, socket_connect_timeout=0.5
    )
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    run_many(vault, 5, loops)
    before = open_fds()
    run_many(vault, 100, loops)
    gc.collect()
    after = open_fds()
    print(f"\n100 asyncio.run() against a silent server: fds {before} -> {after}")
    assert after - before <= 8


@pytest.mark.parametrize("run", range(3))
@pytest.mark.asyncio
async def test_a_loop_per_test_works_each_time(run: int) -> None:
    """pytest-asyncio gives each test its own loop; each gets a working bridge."""
    vault = Vault("memory://", keyring=Keyring.generate())
    await vault.aput("k", str(run))
    assert await vault.aget_bytes("k") == str(run).encode()


_THREADS_SCRIPT = """
import asyncio, os, keyseal
v = keyseal.Vault("memory://", keyring=keyseal.Keyring.generate())
v.put("k", "v")
async def main():
    return await v.aget("k")
got = asyncio.run(main())
assert got is not None and got.reveal() == "v"
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(sum(1 for n in names if n.startswith("keyseal-io")))
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("1", 1), ("3", 3), ("0", None), ("lots", None)],
)
def test_io_thread_count_can_be_set(setting: str, expected: int | None) -> None:
    """KEYSEAL_IO_THREADS sets the async runtime's worker count; an unusable value is ignored (one
    per core, 2 to 8), never an error at the first await."""
    import subprocess
    import sys

    env = {**os.environ, "KEYSEAL_IO_THREADS": setting}
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    default = min(max(os.cpu_count() or 2, 2), 8)
    assert int(out.stdout) == (default if expected is None else expected)
