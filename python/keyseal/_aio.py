"""Per-event-loop plumbing for keyseal's awaitables (see ``src/py/aio.rs``)."""

from __future__ import annotations

import asyncio
import weakref

from keyseal._native import _LoopBridge

_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBridge] = weakref.WeakKeyDictionary()


def _release_closed() -> None:
    """Close the bridges of loops that were closed.

    A keyseal future still pending when its loop closed (a ``wait_for`` timeout, a cancelled task)
    is held by the bridge until its Rust work finishes, and it holds the loop: the weak key would
    never die, and the bridge's two descriptors would stay open. Closing the bridge lets both go.
    """
    for loop in [lp for lp in list(_bridges.keys()) if lp.is_closed()]:
        bridge = _bridges.pop(loop, None)
        if bridge is not None:
            bridge.close()


def prepare() -> tuple[_LoopBridge, asyncio.Future[object]]:
    """The running loop's bridge (made on first use) and a fresh future on that loop."""
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        _release_closed()
        bridge = _LoopBridge()
        loop.add_reader(bridge.fileno(), bridge.drain)
        _bridges[loop] = bridge
    return bridge, loop.create_future()
