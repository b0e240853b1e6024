"""keyseal.fastapi: lifespan, compose and VaultDep through FastAPI's TestClient and httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

import keyseal.fastapi as ksfastapi
from keyseal import ConfigurationError, Keyring, StoreConnectionError, StoreTimeoutError, Vault
from keyseal.fastapi import STATE_ATTR, VaultDep, compose, get_vault, lifespan


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def namespace() -> str:
    return f"fastapi-{uuid.uuid4().hex[:12]}"


def make_app(**lifespan_args: Any) -> FastAPI:
    app = FastAPI(lifespan=lifespan(**lifespan_args))
    add_routes(app)
    return app


def add_routes(app: FastAPI) -> None:
    @app.get("/secret/{name}")
    async def read(name: str, vault: VaultDep) -> dict[str, Any]:
        secret = await vault.aget(name)
        return {"found": secret is not None, "value": None if secret is None else secret.reveal()}

    @app.put("/secret/{name}/{value}")
    async def write(name: str, value: str, vault: VaultDep) -> dict[str, bool]:
        await vault.aput(name, value)
        return {"ok": True}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}


def test_lifespan_opens_at_startup_and_closes_at_shutdown(
    redis_plain: Any, ring: Keyring, namespace: str
) -> None:
    with Vault(redis_plain.url, keyring=ring, namespace=namespace) as seeded:
        seeded.put("api_key:service_a", "sk-test-value-1")
    app = make_app(url=redis_plain.url, keyring=ring.export(), namespace=namespace)
    assert not hasattr(app.state, STATE_ATTR)
    with TestClient(app) as client:
        held = getattr(app.state, STATE_ATTR)
        assert isinstance(held, Vault)
        assert held.namespace == namespace
        assert client.get("/secret/api_key:service_a").json() == {"found": True, "value": "sk-test-value-1"}
        assert client.get("/secret/missing").json() == {"found": False, "value": None}
        assert client.put("/secret/written/v2").json() == {"ok": True}
    assert not hasattr(app.state, STATE_ATTR)
    with pytest.raises(StoreConnectionError):
        held.get("written")
    # Written through the app, sealed in Redis, readable by another Vault with the keyring.
    with Vault(redis_plain.url, keyring=ring, namespace=namespace) as other:
        got = other.get("written")
        assert got is not None
        assert got.reveal() == "v2"
    # The same lifespan starts the app again with a fresh Vault.
    with TestClient(app) as client:
        assert getattr(app.state, STATE_ATTR) is not held
        assert client.get("/secret/written").json()["value"] == "v2"


def test_keyring_object_and_memory_url(ring: Keyring) -> None:
    app = make_app(keyring=ring)
    with TestClient(app) as client:
        client.put("/secret/a/b")
        assert client.get("/secret/a").json() == {"found": True, "value": "b"}


def test_compose_with_the_apps_own_lifespan(ring: Keyring) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        vault = getattr(app.state, STATE_ATTR)  # keyseal's lifespan ran first
        await vault.aput("seeded", "by-own-lifespan")
        events.append("own up")
        yield {"greeting": "hello"}
        events.append("own down")
        # keyseal's Vault is still open while the app's own lifespan shuts down
        assert (await vault.aget("seeded")) is not None

    app = FastAPI(lifespan=compose(lifespan(keyring=ring), own))
    add_routes(app)

    @app.get("/state")
    async def state(request: Request, vault: VaultDep) -> dict[str, Any]:
        return {"greeting": request.state.greeting, "namespace": vault.namespace}

    with TestClient(app) as client:
        assert client.get("/secret/seeded").json() == {"found": True, "value": "by-own-lifespan"}
        assert client.get("/state").json() == {"greeting": "hello", "namespace": "default"}
    assert events == ["own up", "own down"]
    assert not hasattr(app.state, STATE_ATTR)


def test_missing_lifespan_is_a_clear_error() -> None:
    app = FastAPI()
    add_routes(app)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="lifespan is not running"):
        client.get("/secret/x")


def test_bad_arguments(ring: Keyring) -> None:
    with pytest.raises(ConfigurationError, match="keyring") as info:
        lifespan(keyring="not-a-keyring-secret-text")
    assert "not-a-keyring-secret-text" not in str(info.value)
    with pytest.raises(ConfigurationError, match="keyring"):
        lifespan(keyring=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="url"):
        lifespan(url=b"redis://127.0.0.1/0", keyring=ring)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one"):
        compose()
    with pytest.raises(TypeError, match="lifespan callables"):
        compose(lifespan(keyring=ring), "nope")  # type: ignore[arg-type]


def test_bad_vault_option_fails_at_startup(ring: Keyring) -> None:
    app = make_app(url="redis://10.255.255.1:6379/0", keyring=ring)  # plaintext to a remote host
    with pytest.raises(ConfigurationError), TestClient(app):
        pass


def test_vault_dependency_is_async_and_hidden_from_openapi(ring: Keyring) -> None:
    assert inspect.iscoroutinefunction(get_vault)
    app = make_app(keyring=ring)
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
    params = schema["paths"]["/secret/{name}"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["name"]


def test_lazy_exports() -> None:
    assert {"ClientCertificate", "RequireApiKey", "VaultDep", "lifespan", "compose"} <= set(ksfastapi.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = ksfastapi.no_such_name  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_async_client_concurrent_requests(redis_plain: Any, ring: Keyring, namespace: str) -> None:
    values = {f"svc{i}": f"value-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)}
    app = make_app(url=redis_plain.url, keyring=ring, namespace=namespace)
    async with app.router.lifespan_context(app):
        vault = getattr(app.state, STATE_ATTR)
        await vault.aput_many(values)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            names = list(values) * 10
            replies = await asyncio.gather(*(client.get(f"/secret/{n}") for n in names))
    assert [r.json()["value"] for r in replies] == [values[n] for n in names]
    with pytest.raises(StoreConnectionError):
        await vault.aget("svc0")


@pytest.mark.asyncio
async def test_a_slow_store_does_not_block_the_event_loop(redis_blackhole: Any, ring: Keyring) -> None:
    # The blackhole accepts connections and never answers: the Vault waits for its socket timeout.
    # If any call on the request path blocked, /ping could not be answered meanwhile.
    app = make_app(url=redis_blackhole.url, keyring=ring, socket_timeout=2.0, socket_connect_timeout=2.0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            slow = asyncio.ensure_future(client.get("/secret/x"))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            pong = await client.get("/ping")
            elapsed = time.monotonic() - started
            assert pong.json() == {"pong": True}
            assert not slow.done()
            assert elapsed < 1.0  # slack for a loaded machine; the slow call takes 2 s
            with pytest.raises(StoreTimeoutError):
                await slow


def test_vault_dep_with_client_certificate_dependency(ring: Keyring) -> None:
    # keyseal._fastapi_cert comes from the client-certificate branch; on this branch alone it is absent.
    pytest.importorskip(
        "keyseal._fastapi_cert", reason="the client-certificate module is merged from its branch"
    )
    # Dependencies as defaults, not inside Annotated: with postponed annotations FastAPI evaluates
    # the endpoint's hints in the module's globals, where these local instances are not.
    anonymous_ok = ksfastapi.ClientCertificate(required=False)
    required = ksfastapi.ClientCertificate(required=True)
    app = make_app(keyring=ring)

    @app.get("/open")
    async def open_(vault: VaultDep, cert: Any = Depends(anonymous_ok)) -> dict[str, Any]:  # noqa: B008
        await vault.aput("seen", "yes")
        return {"cert": cert is None, "seen": (await vault.aget("seen")) is not None}

    @app.get("/closed")
    async def closed(vault: VaultDep, cert: Any = Depends(required)) -> dict[str, Any]:  # noqa: B008
        return {"namespace": vault.namespace}

    with TestClient(app) as client:
        assert client.get("/open").json() == {"cert": True, "seen": True}
        assert client.get("/closed").status_code == 403  # TestClient is not a trusted proxy
