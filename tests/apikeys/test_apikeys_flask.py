"""keyseal._flask_apikeys.require_api_key through Flask's test client, a real redis-server behind it."""

from __future__ import annotations

from typing import Any

import flask
import pytest

import keyseal
from conftest import fresh_namespace
from keyseal._flask_apikeys import require_api_key


@pytest.fixture
def setup(apikeys_redis: Any) -> tuple[flask.Flask, keyseal.ApiKeys]:
    keys = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    app = flask.Flask(__name__)
    app.config["KEYSEAL_API_KEYS"] = keys

    @app.before_request
    def cert() -> None:
        fp = flask.request.headers.get("X-Test-Cert")
        if fp:
            flask.g.client_cert = fp

    @app.get("/plain")
    @require_api_key
    def plain() -> Any:
        return {"owner": flask.g.api_key.owner}

    @app.get("/write")
    @require_api_key(scopes=["write"])
    def write() -> Any:
        return {"scopes": sorted(flask.g.api_key.scopes)}

    @app.get("/async")
    @require_api_key(scopes=["read"], header="X-Key")
    async def async_view() -> Any:
        return {"owner": flask.g.api_key.owner, "async": True}

    return app, keys


def test_statuses(setup: tuple[flask.Flask, keyseal.ApiKeys]) -> None:
    app, keys = setup
    c = app.test_client()
    r = c.get("/plain")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "APIKey"
    reader = keys.issue("alice", scopes=["read"]).token.reveal()
    bad = reader[:-1] + ("0" if reader[-1] != "0" else "1")
    r = c.get("/plain", headers={"X-Api-Key": bad})
    assert r.status_code == 401
    assert r.json == {"detail": "invalid API key"}
    assert c.get("/plain", headers={"X-Api-Key": reader}).json == {"owner": "alice"}
    r = c.get("/write", headers={"X-Api-Key": reader})
    assert r.status_code == 403
    assert "write" in r.json["detail"]
    writer = keys.issue("bob", scopes=["write"]).token.reveal()
    assert c.get("/write", headers={"X-Api-Key": writer}).json == {"scopes": ["write"]}


def test_async_view_and_header(setup: tuple[flask.Flask, keyseal.ApiKeys]) -> None:
    app, keys = setup
    c = app.test_client()
    token = keys.issue("carol", scopes=["read"]).token.reveal()
    assert c.get("/async", headers={"X-Api-Key": token}).status_code == 401
    assert c.get("/async", headers={"X-Key": token}).json == {"owner": "carol", "async": True}


def test_certificate_binding(setup: tuple[flask.Flask, keyseal.ApiKeys]) -> None:
    app, keys = setup
    c = app.test_client()
    token = keys.issue("alice", client_cert="cd" * 32).token.reveal()
    assert c.get("/plain", headers={"X-Api-Key": token, "X-Test-Cert": "CD" * 32}).status_code == 200
    assert c.get("/plain", headers={"X-Api-Key": token, "X-Test-Cert": "ef" * 32}).status_code == 403
    assert c.get("/plain", headers={"X-Api-Key": token}).status_code == 403


def test_unconfigured_app_is_a_configuration_error() -> None:
    app = flask.Flask(__name__)

    @app.get("/x")
    @require_api_key
    def x() -> Any:
        return "never"

    app.testing = True
    with pytest.raises(keyseal.ConfigurationError, match="KEYSEAL_API_KEYS"):
        app.test_client().get("/x", headers={"X-Api-Key": "ks_x"})
