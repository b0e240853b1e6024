"""Load: threads and coroutines on one Vault at once, with every value checked."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from _extra_servers import SlowProxy, least_privilege_server
from keyseal import Keyring, StoreError, Vault

DURATION = 10.0


@pytest.fixture(scope="module")
def redis_lp(redis_factory: Any) -> Any:
    """A server whose app user has only the least-privilege ACL rule."""
    return least_privilege_server(redis_factory, "load-lp")


def _thread_worker(vault: Vault, tid: int, until: float, counts: list[int], errors: list[str]) -> None:
    i = 0
    try:
        while time.monotonic() < until:
            name = f"t{tid}-{i % 50}"
            value = f"{tid}:{i}"
            vault.put(name, value)
            got = vault.get(name)
            if got is None or got.reveal() != value:
                errors.append(f"thread {tid}: mismatch on {name}")
            i += 1
    except Exception as exc:
        errors.append(f"thread {tid}: {type(exc).__name__}: {exc}")
    counts[tid] = i


async def _coroutines(vault: Vault, n: int, until: float, errors: list[str]) -> int:
    done = 0

    async def one(cid: int) -> None:
        nonlocal done
        i = 0
        while time.monotonic() < until:
            name, value = f"c{cid}", f"{cid}:{i}"
            await vault.aput(name, value)
            got = await vault.aget(name)
            if got is None or got.reveal() != value:
                errors.append(f"coroutine {cid}: mismatch")
            i += 1
            done += 1

    results = await asyncio.gather(*[one(c) for c in range(n)], return_exceptions=True)
    errors.extend(f"coroutine: {r!r}" for r in results if isinstance(r, BaseException))
    return done


@pytest.mark.slow
def test_threads_and_coroutines_together(redis_lp: Any) -> None:
    """Under the least-privilege ACL user, as an app would run."""
    vault = Vault(redis_lp.url, keyring=Keyring.generate(), namespace="load")
    until = time.monotonic() + DURATION
    counts = [0] * 8
    errors: list[str] = []
    threads = [
        threading.Thread(target=_thread_worker, args=(vault, t, until, counts, errors)) for t in range(8)
    ]
    for t in threads:
        t.start()
    coroutine_pairs = asyncio.run(_coroutines(vault, 2_000, until, errors))
    for t in threads:
        t.join()
    assert errors == []
    assert all(c > 100 for c in counts), counts
    assert coroutine_pairs > 2_000
    rate_threads, rate_coroutines = sum(counts) / DURATION, coroutine_pairs / DURATION
    print(f"\nload: {rate_threads:,.0f} thread pairs/s, {rate_coroutines:,.0f} coroutine pairs/s")


def _gets_per_second(vault: Vault, threads: int, seconds: float) -> float:
    """Blocking gets of one stored name from `threads` threads, every value checked."""
    until = time.monotonic() + seconds
    counts = [0] * threads
    errors: list[str] = []

    def worker(tid: int) -> None:
        n = 0
        try:
            while time.monotonic() < until:
                got = vault.get("slow")
                if got is None or got.reveal() != "slow-value":
                    errors.append("mismatch")
                n += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        counts[tid] = n

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    began = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    return sum(counts) / (time.monotonic() - began)


@pytest.mark.slow
def test_threads_wait_on_a_slow_server_in_parallel(redis_plain: Any) -> None:
    """Every reply is held back 20 ms (a proxy in another process): 8 threads must get ~8x one thread.

    A thread that kept the GIL while waiting would serialize the others (about 1x). Waiting, not
    CPU, dominates here, so the figure holds on a busy 2-core machine too.
    """
    with SlowProxy(redis_plain.host, redis_plain.port, 0.02) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        vault = Vault(url, keyring=Keyring.generate(), namespace="slow", max_idle_connections=16)
        vault.put("slow", "slow-value")
        one = _gets_per_second(vault, 1, 1.5)
        eight = _gets_per_second(vault, 8, 1.5)
    ratio = eight / one
    print(f"\nslow server (20 ms a reply): 1 thread {one:.0f}/s, 8 threads {eight:.0f}/s ({ratio:.1f}x)")
    assert one < 55, "the proxy must really slow every reply"
    assert eight > 4 * one


def _spin(seconds: float) -> int:
    """A pure-Python CPU loop: how many iterations fit in `seconds` of wall time."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
    return n


def test_main_thread_runs_while_others_block_in_get(redis_blackhole: Any) -> None:
    """8 threads block in vault.get on a server that never answers; Python keeps running meanwhile.

    If the GIL were held during Redis I/O, the main thread would stall for the whole timeout.
    """
    vault = Vault(
        redis_blackhole.url, keyring=Keyring.generate(), socket_timeout=1.5, socket_connect_timeout=1.5
    )
    alone = _spin(0.5)
    failures: list[str] = []
    started = threading.Barrier(9)

    def blocked() -> None:
        started.wait()
        try:
            vault.get("k")
            failures.append("get on a silent server returned")
        except StoreError:
            pass

    threads = [threading.Thread(target=blocked) for _ in range(8)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.2)  # every thread is inside vault.get now
    during = _spin(0.5)
    blocked_still = sum(t.is_alive() for t in threads)
    for t in threads:
        t.join()
    print(
        f"\nGIL: {alone:,} loop iterations alone, {during:,} while 8 threads blocked ({during / alone:.0%})"
    )
    assert failures == []
    assert blocked_still == 8, "the threads must still be waiting on Redis while we measured"
    assert during > 0.5 * alone
