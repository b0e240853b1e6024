"""FastAPI integration: a lifespan that opens one Vault per app, and the ``VaultDep`` dependency.

::

    from fastapi import FastAPI
    from keyseal.fastapi import VaultDep, lifespan

    app = FastAPI(lifespan=lifespan(url="redis://127.0.0.1:6379/0", keyring=os.environ["KEYSEAL_KEYS"]))

    @app.get("/quote")
    async def quote(vault: VaultDep) -> dict[str, str]:
        key = await vault.aget("api_key:service_a")
        ...

Everything on the request path is async on the Vault's Rust futures (``aget``, ``aput``...);
nothing here blocks the event loop. ``compose`` runs keyseal's lifespan together with the app's own.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from keyseal._native import Keyring, Vault
from keyseal._shims import keyring_from

# ClientCertificate and RequireApiKey are resolved on first use by __getattr__ below.
__all__ = [  # noqa: F822
    "ClientCertificate",
    "Lifespan",
    "RequireApiKey",
    "VaultDep",
    "compose",
    "get_vault",
    "lifespan",
]

#: What ``FastAPI(lifespan=...)`` takes: app -> async context manager (yielding None or a state dict).
Lifespan = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]

# Where the lifespan keeps the open Vault: app.state.<STATE_ATTR>.
STATE_ATTR = "keyseal_vault"

_LAZY = {
    "ClientCertificate": "keyseal._fastapi_cert",
    "RequireApiKey": "keyseal._fastapi_apikeys",
}


def lifespan(url: str = "memory://", *, keyring: Keyring | str, **options: Any) -> Lifespan:
    """A lifespan that opens one Vault at startup (``app.state.keyseal_vault``) and closes it at shutdown.

    ``keyring`` is a Keyring or its exported text; ``options`` are the Vault's keyword options
    (``namespace``, ``password``, ``ssl_ca_certs``...). The keyring is checked now; the Vault
    itself is made at each startup, so one lifespan serves an app started several times (tests).
    """
    if not isinstance(url, str):
        raise TypeError("url must be a string such as redis://127.0.0.1:6379/0")
    ring = keyring_from(keyring, what="keyring")

    @asynccontextmanager
    async def keyseal_lifespan(app: Any) -> AsyncIterator[None]:
        vault = Vault(url, keyring=ring, **options)
        setattr(app.state, STATE_ATTR, vault)
        try:
            yield None
        finally:
            delattr(app.state, STATE_ATTR)
            await vault.aclose()

    return keyseal_lifespan


def compose(*lifespans: Lifespan) -> Lifespan:
    """One lifespan running ``lifespans`` in order at startup and in reverse at shutdown.

    ``FastAPI(lifespan=compose(keyseal.fastapi.lifespan(...), my_lifespan))``: the app's own
    lifespan, listed after keyseal's, can already use ``app.state.keyseal_vault``. State dicts
    that lifespans yield are merged (later ones win).
    """
    if not lifespans:
        raise TypeError("compose() needs at least one lifespan")
    for item in lifespans:
        if not callable(item):
            raise TypeError(f"compose() takes lifespan callables, not {type(item).__name__}")

    @asynccontextmanager
    async def composed(app: Any) -> AsyncIterator[Mapping[str, Any] | None]:
        async with AsyncExitStack() as stack:
            state: dict[str, Any] = {}
            for item in lifespans:
                result = await stack.enter_async_context(item(app))
                if result:
                    state.update(result)
            yield state or None

    return composed


async def get_vault(conn: HTTPConnection) -> Vault:
    """The Vault that ``lifespan`` opened for this app (for ``Depends``; see ``VaultDep``)."""
    vault = getattr(conn.app.state, STATE_ATTR, None)
    if not isinstance(vault, Vault):
        raise RuntimeError(
            "keyseal.fastapi.lifespan is not running on this app: "
            "FastAPI(lifespan=keyseal.fastapi.lifespan(...))"
        )
    return vault


#: ``async def endpoint(vault: VaultDep)``: the app's Vault.
VaultDep = Annotated[Vault, Depends(get_vault)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
