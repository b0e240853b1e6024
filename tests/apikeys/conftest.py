"""Fixtures of the API key tests: an ApiKeys on memory://, a real redis-server and a real cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import keyseal


def fresh_namespace() -> str:
    return f"ak-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def apikeys_redis(redis_factory: Any) -> Any:
    """A redis-server of these tests alone: the Vault's process-wide client for it is never left
    holding connections that another area's fault test broke by restarting a shared server."""
    return redis_factory.server("redis_apikeys")


@pytest.fixture(scope="session")
def apikeys_cluster(redis_factory: Any) -> Any:
    """A 3-master cluster of these tests alone (see apikeys_redis)."""
    return redis_factory.cluster("redis_cluster_apikeys")


@pytest.fixture(params=["memory", "apikeys_redis", "apikeys_cluster"])
def backend(request: pytest.FixtureRequest) -> Any:
    """None for memory://, else the server fixture."""
    if request.param == "memory":
        return None
    return request.getfixturevalue(request.param)


@pytest.fixture
def ring() -> keyseal.Keyring:
    return keyseal.Keyring.generate()


@pytest.fixture
def url(backend: Any) -> str:
    """A named memory:// store (shared by every Vault given the same URL), or the server's URL."""
    return f"memory://{uuid.uuid4().hex}" if backend is None else str(backend.url)


@pytest.fixture
def vault(url: str, ring: keyseal.Keyring) -> Iterator[keyseal.Vault]:
    v = keyseal.Vault(url, keyring=ring)
    try:
        yield v
    finally:
        v.close()


@pytest.fixture
def keys(vault: keyseal.Vault) -> keyseal.ApiKeys:
    return keyseal.ApiKeys(vault, namespace=fresh_namespace())
