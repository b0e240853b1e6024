"""FastAPI example: a third-party API key kept sealed in Redis by keyseal, used by an endpoint.

The key is fetched once (here from the environment, standing in for your provider's token
endpoint or a secrets manager), sealed into Redis with a TTL, and read back with ``VaultDep`` on
every request; every replica shares it and nobody with Redis access can read it.

    export KEYSEAL_KEYS="$(keyseal keygen)" SERVICE_A_API_KEY=sk-...
    uvicorn --factory app:create_app
    curl http://127.0.0.1:8000/forecast/paris
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from keyseal import Vault
from keyseal.fastapi import STATE_ATTR, VaultDep, compose, lifespan

KEY_NAME = "api_key:service_a"
KEY_TTL = 3600  # re-fetched from the provider after an hour
log = logging.getLogger("example.fastapi")


def fetch_key_from_provider() -> str:
    """Stands in for the provider's token endpoint (no network in the example)."""
    return os.environ["SERVICE_A_API_KEY"]


def call_upstream(api_key: str, city: str) -> dict[str, str]:
    """Stands in for the third-party API: its answer depends on the key, which it never echoes."""
    signature = hmac.new(api_key.encode(), city.encode(), hashlib.sha256).hexdigest()[:16]
    return {"city": city, "forecast": "sunny", "signature": signature}


async def service_key(vault: Vault) -> str:
    secret = await vault.aget(KEY_NAME)
    if secret is None:
        await vault.aput(KEY_NAME, fetch_key_from_provider(), ttl=KEY_TTL)
        secret = await vault.aget(KEY_NAME)
        assert secret is not None
    return secret.reveal()  # revealed values are known to the redactor: logs show a mask


def create_app(*, url: str | None = None, keyring: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def warm_up(app: FastAPI) -> AsyncIterator[None]:
        # Runs after keyseal's lifespan (see compose): the Vault is open already.
        await service_key(getattr(app.state, STATE_ATTR))
        yield

    app = FastAPI(
        title="keyseal FastAPI example",
        lifespan=compose(
            lifespan(
                url=url or os.environ.get("KEYSEAL_URL", "redis://127.0.0.1:6379/0"),
                keyring=keyring or os.environ["KEYSEAL_KEYS"],
                namespace="example",
            ),
            warm_up,
        ),
    )

    @app.get("/forecast/{city}")
    async def forecast(city: str, vault: VaultDep) -> dict[str, Any]:
        key = await service_key(vault)
        log.info("calling service A for %s with key %s", city, key)  # redacted if logging uses the filter
        return call_upstream(key, city)

    return app
