"""The view: a price from the partner API, with the access token cached through keyseal."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse

from partner import client

TOKEN_KEY = "partner:access_token"


def access_token() -> str:
    token = cache.get(TOKEN_KEY)
    if token is None:  # first use, expired, or an entry that failed to open (logged by keyseal)
        token, lifetime = client.exchange()
        cache.set(TOKEN_KEY, token, timeout=lifetime - 60)
    return str(token)


def quote(request: HttpRequest, sku: str) -> JsonResponse:
    return JsonResponse({"sku": sku, "price": client.price(sku, access_token())})
