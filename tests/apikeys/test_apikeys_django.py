"""keyseal.django.apikeys.require_api_key through Django's test clients, sync and async views, with a
real redis-server behind the ApiKeys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import _django_setup  # noqa: F401  (settings first)
import pytest
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

import keyseal
from conftest import fresh_namespace
from keyseal.django.apikeys import register_apikey_command, require_api_key

FP = "12" * 32


class Cert:
    """What the client-certificate middleware puts on request.client_cert (only the fingerprint matters)."""

    def __init__(self, fp: str) -> None:
        self.fingerprint_sha256 = fp


def client_cert_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Stands in for keyseal.django.ClientCertificateMiddleware's output: request.client_cert."""

    def middleware(request: HttpRequest) -> Any:
        fp = request.headers.get("X-Test-Cert")
        request.client_cert = Cert(fp) if fp else None  # type: ignore[attr-defined]
        return get_response(request)

    return middleware


@require_api_key
def plain(request: Any) -> JsonResponse:
    return JsonResponse({"owner": request.api_key.owner})


@require_api_key(scopes=["write"], header="X-Other-Key")
def scoped(request: Any) -> JsonResponse:
    return JsonResponse({"owner": request.api_key.owner, "scopes": sorted(request.api_key.scopes)})


@require_api_key(scopes="read")
async def async_view(request: Any) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse({"owner": request.api_key.owner, "async": True})


urlpatterns = [path("plain", plain), path("scoped", scoped), path("async", async_view)]


@pytest.fixture
def keys(apikeys_redis: Any) -> Iterator[keyseal.ApiKeys]:
    ak = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    with override_settings(
        ROOT_URLCONF=__name__,
        KEYSEAL_API_KEYS=ak,
        MIDDLEWARE=[f"{__name__}.client_cert_middleware"],
    ):
        yield ak


def test_missing_invalid_and_valid(keys: keyseal.ApiKeys) -> None:
    c = Client()
    r = c.get("/plain")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "APIKey"
    token = keys.issue("alice", scopes=["read"]).token.reveal()
    bad = token[:-1] + ("0" if token[-1] != "0" else "1")
    r = c.get("/plain", headers={"X-Api-Key": bad})
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "APIKey"
    assert r.json() == {"detail": "invalid API key"}
    assert bad not in r.content.decode()
    r = c.get("/plain", headers={"X-Api-Key": token})
    assert r.status_code == 200
    assert r.json() == {"owner": "alice"}


def test_scopes_and_header_name(keys: keyseal.ApiKeys) -> None:
    c = Client()
    reader = keys.issue("alice", scopes=["read"]).token.reveal()
    writer = keys.issue("bob", scopes=["read", "write"]).token.reveal()
    assert c.get("/scoped", headers={"X-Api-Key": writer}).status_code == 401  # wrong header
    r = c.get("/scoped", headers={"X-Other-Key": reader})
    assert r.status_code == 403
    assert "write" in r.json()["detail"]
    assert "WWW-Authenticate" not in r
    r = c.get("/scoped", headers={"X-Other-Key": writer})
    assert r.status_code == 200
    assert r.json() == {"owner": "bob", "scopes": ["read", "write"]}


def test_revoked_and_rotated(keys: keyseal.ApiKeys) -> None:
    c = Client()
    issued = keys.issue("alice")
    token = issued.token.reveal()
    assert c.get("/plain", headers={"X-Api-Key": token}).status_code == 200
    new = keys.rotate(issued.key.key_id).token.reveal()
    assert c.get("/plain", headers={"X-Api-Key": token}).status_code == 401
    assert c.get("/plain", headers={"X-Api-Key": new}).status_code == 200


def test_client_certificate_binding(keys: keyseal.ApiKeys) -> None:
    c = Client()
    token = keys.issue("alice", client_cert=FP).token.reveal()
    assert c.get("/plain", headers={"X-Api-Key": token, "X-Test-Cert": FP}).status_code == 200
    r = c.get("/plain", headers={"X-Api-Key": token, "X-Test-Cert": "34" * 32})
    assert r.status_code == 403
    assert FP not in r.content.decode()
    assert c.get("/plain", headers={"X-Api-Key": token}).status_code == 403


def test_async_view_with_both_clients(keys: keyseal.ApiKeys) -> None:
    token = keys.issue("carol", scopes=["read"]).token.reveal()
    writer_only = keys.issue("dan", scopes=["write"]).token.reveal()
    r = Client().get("/async", headers={"X-Api-Key": token})
    assert r.status_code == 200
    assert r.json() == {"owner": "carol", "async": True}

    async def run() -> list[int]:
        ac = AsyncClient()
        ok = await ac.get("/async", headers={"X-Api-Key": token})
        assert ok.json()["owner"] == "carol"
        scope = await ac.get("/async", headers={"X-Api-Key": writer_only})
        missing = await ac.get("/async")
        assert missing["WWW-Authenticate"] == "APIKey"
        return [ok.status_code, scope.status_code, missing.status_code]

    assert asyncio.run(run()) == [200, 403, 401]


def test_settings_forms(apikeys_redis: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = keyseal.Keyring.generate()
    monkeypatch.setenv("KEYSEAL_APIKEYS_TEST_RING", ring.export())
    ns = fresh_namespace()
    cfg = {
        "URL": apikeys_redis.url,
        "KEYS_ENV": "KEYSEAL_APIKEYS_TEST_RING",
        "NAMESPACE": ns,
        "PREFIX": "djt",
    }
    issuer = keyseal.ApiKeys(keyseal.Vault(apikeys_redis.url, keyring=ring), namespace=ns, prefix="djt")
    token = issuer.issue("erin").token.reveal()
    with override_settings(ROOT_URLCONF=__name__, KEYSEAL_API_KEYS=cfg, MIDDLEWARE=[]):
        assert Client().get("/plain", headers={"X-Api-Key": token}).json() == {"owner": "erin"}
    with override_settings(ROOT_URLCONF=__name__, KEYSEAL_API_KEYS=lambda: issuer, MIDDLEWARE=[]):
        assert Client().get("/plain", headers={"X-Api-Key": token}).status_code == 200
    # leaving override_settings lets the ApiKeys (and its connections) go
    from keyseal.django import apikeys as glue

    assert glue._cache._keys is None
    with (
        override_settings(ROOT_URLCONF=__name__, KEYSEAL_API_KEYS=42, MIDDLEWARE=[]),
        pytest.raises(keyseal.ConfigurationError, match=r"KEYSEAL_API_KEYS|ApiKeys"),
    ):
        Client(raise_request_exception=True).get("/plain", headers={"X-Api-Key": token})


def test_management_command_group(keys: keyseal.ApiKeys, capsys: pytest.CaptureFixture[str]) -> None:
    """What ``manage.py keyseal apikey ...`` runs: the CLI group on the KEYSEAL_API_KEYS setting."""
    import argparse

    parser = argparse.ArgumentParser(prog="manage.py keyseal")
    register_apikey_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["apikey", "issue", "frank", "--scope", "read", "--json"])
    assert args.func(args) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert keys.verify(doc["token"], scopes=["read"]).owner == "frank"
    args = parser.parse_args(["apikey", "revoke", doc["key_id"]])
    assert args.func(args) == 0
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(doc["token"])
