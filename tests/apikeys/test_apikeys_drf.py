"""keyseal.django.rest_framework through DRF's APIClient, a real redis-server behind the ApiKeys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _django_setup  # noqa: F401  (settings first)
import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

import keyseal
from conftest import fresh_namespace
from keyseal.django.rest_framework import ApiKeyAuthentication, ApiKeyUser, HasScopes


class Whoami(APIView):
    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Any) -> Response:
        assert isinstance(request.user, ApiKeyUser)
        return Response({"owner": request.user.owner, "key_id": request.auth.key_id})


class Billing(APIView):
    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = (IsAuthenticated, HasScopes)
    required_scopes = ("billing:read",)

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class Admin(APIView):
    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = (HasScopes.require("admin"),)

    def get(self, request: Any) -> Response:
        return Response({"admin": True})


urlpatterns = [
    path("whoami", Whoami.as_view()),
    path("billing", Billing.as_view()),
    path("admin", Admin.as_view()),
]


@pytest.fixture
def keys(apikeys_redis: Any) -> Iterator[keyseal.ApiKeys]:
    ak = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    with override_settings(ROOT_URLCONF=__name__, KEYSEAL_API_KEYS=ak, MIDDLEWARE=[]):
        yield ak


def test_authentication(keys: keyseal.ApiKeys) -> None:
    client = APIClient()
    r = client.get("/whoami")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "APIKey"
    issued = keys.issue("alice")
    token = issued.token.reveal()
    r = client.get("/whoami", HTTP_X_API_KEY=token)
    assert r.status_code == 200
    assert r.json() == {"owner": "alice", "key_id": issued.key.key_id}
    bad = token[:-1] + ("0" if token[-1] != "0" else "1")
    r = client.get("/whoami", HTTP_X_API_KEY=bad)
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "APIKey"
    assert bad not in r.content.decode()
    keys.revoke(issued.key.key_id)
    assert client.get("/whoami", HTTP_X_API_KEY=token).status_code == 401


def test_has_scopes(keys: keyseal.ApiKeys) -> None:
    client = APIClient()
    reader = keys.issue("alice", scopes=["billing:read"]).token.reveal()
    other = keys.issue("bob", scopes=["orders:read"]).token.reveal()
    admin = keys.issue("root", scopes=["admin"]).token.reveal()
    assert client.get("/billing", HTTP_X_API_KEY=reader).status_code == 200
    r = client.get("/billing", HTTP_X_API_KEY=other)
    assert r.status_code == 403
    assert "billing:read" in r.json()["detail"]
    assert client.get("/admin", HTTP_X_API_KEY=admin).json() == {"admin": True}
    assert client.get("/admin", HTTP_X_API_KEY=reader).status_code == 403
    assert client.get("/admin").status_code == 401


def test_certificate_mismatch_is_403(keys: keyseal.ApiKeys) -> None:
    token = keys.issue("alice", client_cert="ab" * 32).token.reveal()
    r = APIClient().get("/whoami", HTTP_X_API_KEY=token)
    assert r.status_code == 403
