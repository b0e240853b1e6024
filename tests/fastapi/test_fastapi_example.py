"""examples/fastapi/app.py through FastAPI's TestClient and httpx.AsyncClient, on a real redis-server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from keyseal import Keyring, Vault

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keyseal_example_fastapi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def signature(key: str, city: str) -> str:
    return hmac.new(key.encode(), city.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, str]:
    key = "sk-live-" + uuid.uuid4().hex
    monkeypatch.setenv("SERVICE_A_API_KEY", key)
    return load_example(), key


def test_example_with_test_client(redis_plain: Any, example: tuple[ModuleType, str]) -> None:
    module, key = example
    ring = Keyring.generate()
    # A database of its own (db 7), emptied first: the test inspects every key the example wrote.
    url = redis_plain.url.rsplit("/", 1)[0] + "/7"
    raw = redis_plain.client(db=7)
    raw.flushdb()
    app = module.create_app(url=url, keyring=ring.export())
    with TestClient(app) as client:
        reply = client.get("/forecast/paris")
        assert reply.status_code == 200
        assert reply.json() == {"city": "paris", "forecast": "sunny", "signature": signature(key, "paris")}
        assert key not in reply.text
    # The key was cached in Redis, sealed, with the example's TTL.
    keys = list(raw.scan_iter())
    assert keys
    for name in keys:
        assert key.encode() not in raw.get(name)
        assert b"service_a" not in name
    with Vault(url, keyring=ring, namespace="example") as vault:
        ttl = vault.ttl(module.KEY_NAME)
        assert ttl is not None
        assert 3000 < ttl <= 3600


def test_example_uses_the_cached_key(
    redis_plain: Any, example: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, key = example
    ring = Keyring.generate()
    app = module.create_app(url=redis_plain.url, keyring=ring.export())
    with TestClient(app) as client:
        # The provider is not asked again while the sealed copy lives.
        monkeypatch.setenv("SERVICE_A_API_KEY", "sk-rotated-at-provider")
        assert client.get("/forecast/oslo").json()["signature"] == signature(key, "oslo")
        with Vault(redis_plain.url, keyring=ring, namespace="example") as vault:
            vault.delete(module.KEY_NAME)
        assert client.get("/forecast/oslo").json()["signature"] == signature("sk-rotated-at-provider", "oslo")


@pytest.mark.asyncio
async def test_example_async_client(redis_plain: Any, example: tuple[ModuleType, str]) -> None:
    module, key = example
    app = module.create_app(url=redis_plain.url, keyring=Keyring.generate().export())
    cities = [f"city{i}" for i in range(50)]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            replies = await asyncio.gather(*(client.get(f"/forecast/{c}") for c in cities))
    assert [r.json()["signature"] for r in replies] == [signature(key, c) for c in cities]
