"""Session tests run by django_runner.py: the cache and cached_db engines on EncryptedRedisCache,
checked by reading Redis directly (no session key, no session data in any key or value)."""

from __future__ import annotations

import os
import secrets

import redis
from django.contrib.sessions.models import Session
from django.test import TestCase, override_settings


class _SealedSessionMixin:
    engine = ""

    def _redis_dump(self) -> list[bytes]:
        client = redis.Redis.from_url(os.environ["DJSUITE_REDIS_URL"])
        blobs: list[bytes] = []
        try:
            for key in client.scan_iter(count=1000):
                blobs.append(key)
                if client.type(key) == b"string":
                    blobs.append(client.get(key) or b"")
        finally:
            client.close()
        return blobs

    def test_session_round_trip_sealed_at_rest(self) -> None:
        token = "ghp_" + secrets.token_hex(18)
        with override_settings(SESSION_ENGINE=self.engine):
            response = self.client.get("/remember/", {"token": token})  # type: ignore[attr-defined]
            assert response.status_code == 200
            session_key = response.cookies["sessionid"].value
            assert session_key
            assert self.client.get("/recall/").json() == {"api_token": token}  # type: ignore[attr-defined]
            blobs = self._redis_dump()
        # The session is in Redis (sealed), under a name that reveals nothing.
        assert blobs, "the session store wrote nothing to Redis"
        for forbidden in (session_key.encode(), token.encode(), b"remembered", b"django.contrib.sessions"):
            assert not any(forbidden in blob for blob in blobs), f"{forbidden[:8]!r}... found in Redis"
        self.extra_checks(session_key)

    def extra_checks(self, session_key: str) -> None:
        pass


class CacheSessionTests(_SealedSessionMixin, TestCase):
    engine = "django.contrib.sessions.backends.cache"


class CachedDbSessionTests(_SealedSessionMixin, TestCase):
    engine = "django.contrib.sessions.backends.cached_db"

    def extra_checks(self, session_key: str) -> None:
        # cached_db also writes the database (Django's part); the cache copy is the sealed one.
        assert Session.objects.filter(session_key=session_key).exists()
