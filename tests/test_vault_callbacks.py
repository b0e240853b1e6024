"""Python code that Rust calls (logging filters through pyo3-log, rewrap progress callbacks): its
exceptions surface as themselves, Ctrl-C stops a blocking rewrap between batches, callbacks may call
blocking Vault methods, and every awaitable resolves."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from keyseal import Keyring, RewrapProgress, Vault


class Boom(Exception):
    pass


class RaisingFilter(logging.Filter):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc
        self.calls = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.calls += 1
        raise self.exc


class Quiet(logging.Handler):
    """Runs its filters like any handler (NullHandler skips them), then drops the record."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


@pytest.fixture
def raising_handler() -> Iterator[RaisingFilter]:
    """A handler on the `keyseal` logger whose filter raises, with the logger at DEBUG."""
    logger = logging.getLogger("keyseal")
    handler = Quiet()
    flt = RaisingFilter(Boom("from a logging filter"))
    handler.addFilter(flt)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield flt
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def shared_store() -> str:
    return f"memory://callbacks-{uuid.uuid4().hex}"


def filled(url: str, ring: Keyring, n: int, **options: Any) -> Vault:
    v = Vault(url, keyring=ring, namespace="cb", **options)
    for start in range(0, n, 5000):
        v.put_many({f"n{i}": f"v{i}" for i in range(start, min(n, start + 5000))})
    return v


# ---------------------------------------------------------------------------------------------
# logging filters that raise


def test_a_raising_log_filter_surfaces_from_rewrap(raising_handler: RaisingFilter) -> None:
    ring = Keyring.generate()
    url = shared_store()
    filled(url, ring, 10)
    v2 = Vault(url, keyring=ring.rotated(), namespace="cb")
    with pytest.raises(Boom, match="from a logging filter"):
        v2.rewrap()  # logs "rewrap finished" at INFO
    assert raising_handler.calls >= 1
    # The vault still works, and nothing is left set: the next call returns normally.
    got = v2.get("n1")
    assert got is not None
    assert got.reveal() == "v1"


def test_a_raising_log_filter_surfaces_from_a_redis_call(
    redis_plain: Any, raising_handler: RaisingFilter
) -> None:
    # Its own settings, so its own client: the first call opens a connection and logs it at DEBUG.
    v = Vault(redis_plain.url, keyring=Keyring.generate(), socket_timeout=4.321)
    with pytest.raises(Boom):
        v.get("x")
    assert raising_handler.calls >= 1


def test_keyboard_interrupt_from_a_log_filter_is_itself(raising_handler: RaisingFilter) -> None:
    raising_handler.exc = KeyboardInterrupt()
    ring = Keyring.generate()
    url = shared_store()
    filled(url, ring, 3)
    with pytest.raises(KeyboardInterrupt):
        Vault(url, keyring=ring.rotated(), namespace="cb").rewrap()


def test_a_raising_log_filter_on_a_runtime_thread_does_not_break_awaitables(
    redis_plain: Any, raising_handler: RaisingFilter
) -> None:
    """Async work logs on runtime threads, where no caller waits: the exception goes to
    sys.unraisablehook and the awaitable still resolves."""
    seen: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        v = Vault(redis_plain.url, keyring=Keyring.generate(), socket_timeout=4.322)

        async def run() -> None:
            await asyncio.wait_for(v.aput("k", "v"), 10)
            got = await asyncio.wait_for(v.aget("k"), 10)
            assert got is not None
            assert got.reveal() == "v"
            assert await asyncio.wait_for(v.adelete("k"), 10)

        asyncio.run(run())
    finally:
        sys.unraisablehook = old_hook
    assert any(isinstance(s.exc_value, Boom) for s in seen)


# ---------------------------------------------------------------------------------------------
# Ctrl-C between batches


def test_ctrl_c_stops_a_blocking_rewrap_between_batches() -> None:
    ring = Keyring.generate()
    url = shared_store()
    n = 60_000
    filled(url, ring, n)
    v2 = Vault(url, keyring=ring.rotated(), namespace="cb")
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            v2.rewrap(batch_size=20)
    finally:
        timer.cancel()
    took = time.monotonic() - start
    left = v2.rewrap(batch_size=5000)
    print(f"\nCtrl-C: rewrap stopped after {took:.2f} s with {left} of {n} values still to re-seal")
    # Stopped part-way: the second run still had work to do.
    assert 0 < left < n


# ---------------------------------------------------------------------------------------------
# progress callbacks


def test_progress_callback_may_call_blocking_methods() -> None:
    ring = Keyring.generate()
    url = shared_store()
    filled(url, ring, 50)
    v2 = Vault(url, keyring=ring.rotated(), namespace="cb")
    other = Vault(url, keyring=ring, namespace="other")
    seen: list[int] = []

    def progress(p: RewrapProgress) -> None:
        other.put("x", "y")
        assert other.clear() == 1  # clear runs on the runtime: nested inside rewrap's
        got = v2.get("n1")
        assert got is not None
        seen.append(p.scanned)

    assert v2.rewrap(batch_size=10, progress=progress) == 50
    assert seen
    assert seen[-1] == 50


def test_async_progress_callback_may_call_blocking_methods_and_the_awaitable_resolves() -> None:
    ring = Keyring.generate()
    url = shared_store()
    filled(url, ring, 50)
    v2 = Vault(url, keyring=ring.rotated(), namespace="cb")
    other = Vault(url, keyring=ring, namespace="other")
    calls = 0

    def progress(p: RewrapProgress) -> None:
        nonlocal calls
        calls += 1
        other.put("x", "y")
        assert other.clear() == 1
        assert v2.rewrap(batch_size=100) >= 0  # a whole blocking rewrap from inside

    async def run() -> int:
        return await asyncio.wait_for(v2.arewrap(batch_size=10, progress=progress), 30)

    assert asyncio.run(run()) >= 0
    assert calls >= 1
    assert v2.rewrap() == 0


@pytest.mark.parametrize("exc", [Boom("cb"), KeyboardInterrupt(), SystemExit(3)], ids=type)
def test_callback_exceptions_propagate_as_themselves(exc: BaseException) -> None:
    ring = Keyring.generate()
    url = shared_store()
    filled(url, ring, 30)
    v2 = Vault(url, keyring=ring.rotated(), namespace="cb")

    def progress(p: RewrapProgress) -> None:
        raise exc

    with pytest.raises(type(exc)):
        v2.rewrap(batch_size=10, progress=progress)

    async def run() -> int:
        return await asyncio.wait_for(v2.arewrap(batch_size=10, progress=progress), 30)

    with pytest.raises(type(exc)):
        asyncio.run(run())
