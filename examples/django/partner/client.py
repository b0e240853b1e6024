"""A stand-in for a third-party pricing API with OAuth-style access tokens (no network needed).

``exchange()`` trades the long-lived client secret for a short-lived access token, the way most
partner APIs work; the token is what the app caches, so it must not sit in Redis in plaintext.
"""

from __future__ import annotations

import secrets

from django.conf import settings

EXCHANGES = {"count": 0}
_ISSUED: set[str] = set()


def exchange() -> tuple[str, int]:
    """A fresh access token and its lifetime in seconds (one network round trip, in real life)."""
    if not settings.PARTNER_CLIENT_SECRET:
        raise RuntimeError("PARTNER_CLIENT_SECRET is not set")
    EXCHANGES["count"] += 1
    token = "pat_" + secrets.token_urlsafe(24)
    _ISSUED.add(token)
    return token, 3600


def price(sku: str, token: str) -> int:
    if token not in _ISSUED:
        raise PermissionError("partner API: invalid access token")
    return 100 + sum(sku.encode()) % 900
