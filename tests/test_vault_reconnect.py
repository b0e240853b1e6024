"""Pooled connections that died while idle (Redis `timeout`, proxies, NAT) and servers that stop
answering: one retry on a fresh connection for the first, one socket_timeout at most for the second."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from keyseal import Keyring, StoreError, Vault


@pytest.fixture(scope="module")
def idle_server(redis_factory: Any) -> Iterator[Any]:
    """A server of our own that closes connections idle for 1 s (CONFIG SET timeout 1)."""
    server = redis_factory.server("reconnect")
    admin = server.admin_client()
    admin.config_set("timeout", 1)
    yield server
    if server.running:
        admin.config_set("timeout", 0)


def test_async_path_survives_an_idle_timeout(idle_server: Any) -> None:
    vault = Vault(idle_server.url, keyring=Keyring.generate(), namespace="idle-async", socket_timeout=3.1)

    async def run() -> None:
        await vault.aput("k", "v")
        for _ in range(2):
            await asyncio.sleep(2.2)  # the server closes the idle connection meanwhile
            got = await vault.aget("k")
            assert got is not None
            assert got.reveal() == "v"
            assert await vault.aexists("k")

    asyncio.run(run())
    vault.clear()


def test_blocking_path_survives_an_idle_timeout(idle_server: Any) -> None:
    vault = Vault(idle_server.url, keyring=Keyring.generate(), namespace="idle-sync", socket_timeout=3.2)
    vault.put("k", "v")
    time.sleep(2.2)
    got = vault.get("k")
    assert got is not None
    assert got.reveal() == "v"
    vault.clear()


@pytest.fixture
def stoppable(redis_factory: Any) -> Iterator[Any]:
    server = redis_factory.server("stoppable")
    yield server
    pid = server.process.pid
    if pid is not None:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("timeout", [0.5, 1.0])
def test_a_pooled_connection_waits_one_timeout_on_a_silent_server(stoppable: Any, timeout: float) -> None:
    """The server process is stopped (SIGSTOP): the kernel still accepts connections, nobody answers.
    The pooled connection times out; no retry on a fresh one doubles the wait."""
    vault = Vault(
        stoppable.url, keyring=Keyring.generate(), socket_timeout=timeout, socket_connect_timeout=timeout
    )
    vault.put("k", "v")  # a pooled connection now exists
    pid = stoppable.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(StoreError):
            vault.get("k")
        took = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"\nsocket_timeout={timeout}: a call on a silent server took {took:.2f} s")
    assert took < timeout * 1.5 + 0.2
    got = vault.get("k")
    assert got is not None
    assert got.reveal() == "v"


def test_clear_and_rewrap_survive_an_idle_timeout(idle_server: Any) -> None:
    """clear() and rewrap() walk the namespace with SCAN on the async client: a connection the
    server closed while idle is retried once there too (it used to fail with "broken pipe")."""
    ring = Keyring.generate()
    vault = Vault(idle_server.url, keyring=ring, namespace="idle-scan", socket_timeout=3.3)
    vault.put_many({f"k{i}": "v" for i in range(5)})
    assert vault.clear() == 5  # the async client is connected now
    vault.put_many({f"k{i}": "v" for i in range(3)})
    time.sleep(2.2)  # the server closes the idle connection meanwhile
    assert vault.rewrap() == 0  # already under the primary key: nothing re-sealed, but no error
    time.sleep(2.2)
    assert vault.clear() == 3
