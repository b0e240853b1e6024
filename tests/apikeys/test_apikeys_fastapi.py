"""keyseal._fastapi_apikeys.RequireApiKey through FastAPI's TestClient and its OpenAPI document."""

# No `from __future__ import annotations`: FastAPI reads the Annotated dependencies of routes defined
# inside a fixture, which string annotations would hide.
import warnings
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request, Security

from conftest import fresh_namespace

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 when it finds httpx; its TestClient works with either.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

import keyseal
from keyseal._fastapi_apikeys import RequireApiKey


@pytest.fixture
def setup(apikeys_redis: Any) -> tuple[TestClient, keyseal.ApiKeys]:
    keys = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    app = FastAPI()
    app.state.keyseal_api_keys = keys

    @app.middleware("http")
    async def cert(request: Request, call_next: Any) -> Any:
        request.state.client_cert = request.headers.get("x-test-cert")
        return await call_next(request)

    Reader = Annotated[keyseal.ApiKey, Security(RequireApiKey(scopes=["read"]))]

    @app.get("/items")
    async def items(key: Reader) -> dict[str, Any]:
        return {"owner": key.owner}

    @app.get("/admin")
    def admin(key: Annotated[keyseal.ApiKey, Depends(RequireApiKey(scopes="admin", api_keys=keys))]) -> Any:
        return {"admin": key.owner}

    @app.get("/open")
    def open_() -> Any:
        return {"open": True}

    return TestClient(app), keys


def test_statuses(setup: tuple[TestClient, keyseal.ApiKeys]) -> None:
    client, keys = setup
    r = client.get("/items")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "APIKey"
    reader = keys.issue("alice", scopes=["read"]).token.reveal()
    bad = reader[:-1] + ("0" if reader[-1] != "0" else "1")
    r = client.get("/items", headers={"X-Api-Key": bad})
    assert r.status_code == 401
    assert r.json() == {"detail": "invalid API key"}
    assert client.get("/items", headers={"X-Api-Key": reader}).json() == {"owner": "alice"}
    r = client.get("/admin", headers={"X-Api-Key": reader})
    assert r.status_code == 403
    assert "admin" in r.json()["detail"]
    assert "www-authenticate" not in r.headers
    root = keys.issue("root", scopes=["admin"]).token.reveal()
    assert client.get("/admin", headers={"X-Api-Key": root}).json() == {"admin": "root"}
    assert client.get("/open").status_code == 200


def test_certificate_binding(setup: tuple[TestClient, keyseal.ApiKeys]) -> None:
    client, keys = setup
    token = keys.issue("alice", scopes=["read"], client_cert="ab" * 32).token.reveal()
    assert client.get("/items", headers={"X-Api-Key": token, "X-Test-Cert": "AB" * 32}).status_code == 200
    assert client.get("/items", headers={"X-Api-Key": token, "X-Test-Cert": "cd" * 32}).status_code == 403
    assert client.get("/items", headers={"X-Api-Key": token}).status_code == 403


def test_openapi_shows_the_scheme(setup: tuple[TestClient, keyseal.ApiKeys]) -> None:
    client, _ = setup
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["APIKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "An API key issued by keyseal.ApiKeys",
    }
    assert doc["paths"]["/items"]["get"]["security"] == [{"APIKey": []}]
    assert doc["paths"]["/admin"]["get"]["security"] == [{"APIKey": []}]
    assert "security" not in doc["paths"]["/open"]["get"]


def test_missing_configuration() -> None:
    app = FastAPI()

    @app.get("/x")
    def x(key: Annotated[keyseal.ApiKey, Security(RequireApiKey())]) -> Any:
        return {}

    with pytest.raises(keyseal.ConfigurationError, match="keyseal_api_keys"):
        TestClient(app).get("/x", headers={"X-Api-Key": "ks_x"})
