"""Per-event-loop plumbing for keyseal's awaitables (see ``src/py/aio.rs``)."""

from __future__ import annotations

import asyncio
import weakref

from keyseal._native import _LoopBridge

_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBridge] = weakref.WeakKeyDictionary()


def prepare() -> tuple[_LoopBridge, asyncio.Future[object]]:
    """The running loop's bridge (made on first use) and a fresh future on that loop."""
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _LoopBridge()
        loop.add_reader(bridge.fileno(), bridge.drain)
        _bridges[loop] = bridge
    return bridge, loop.create_future()
