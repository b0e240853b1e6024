"""The example's tests, through Django's test client against a real Redis (REDIS_URL)."""

from __future__ import annotations

import os

import redis
from django.core.cache import cache
from django.test import SimpleTestCase, override_settings

from partner import client
from partner.views import TOKEN_KEY


class QuoteTests(SimpleTestCase):
    def setUp(self) -> None:
        cache.clear()
        client.EXCHANGES["count"] = 0

    def test_token_cached_and_sealed(self) -> None:
        first = self.client.get("/quote/abc/")
        second = self.client.get("/quote/abc/")
        self.assertEqual(first.status_code, 200)
        self.assertEqual(first.json(), second.json())
        self.assertEqual(client.EXCHANGES["count"], 1)  # the second request used the cache
        token = cache.get(TOKEN_KEY)
        self.assertTrue(token.startswith("pat_"))
        raw = redis.Redis.from_url(os.environ["REDIS_URL"])
        try:
            blobs = [b for k in raw.scan_iter() for b in (k, raw.get(k) or b"")]
        finally:
            raw.close()
        self.assertTrue(blobs)
        self.assertFalse(any(token.encode() in b or b"partner" in b for b in blobs))

    def test_tampered_token_is_fetched_again(self) -> None:
        self.client.get("/quote/abc/")
        raw = redis.Redis.from_url(os.environ["REDIS_URL"])
        try:
            for key in raw.scan_iter():
                raw.set(key, raw.get(key)[:-1] + b"\x00")
        finally:
            raw.close()
        with self.assertLogs("keyseal.django", "WARNING") as logs:
            response = self.client.get("/quote/abc/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(client.EXCHANGES["count"], 2)
        self.assertIn("'default'", logs.output[0])

    @override_settings(DEBUG=True)
    def test_error_page_hides_the_token(self) -> None:
        self.client.get("/quote/abc/")
        token = cache.get(TOKEN_KEY)
        client._ISSUED.clear()  # the partner revokes it: the view raises with the token in a local
        self.client.raise_request_exception = False
        response = self.client.get("/quote/abc/")
        self.assertEqual(response.status_code, 500)
        page = response.content.decode()
        self.assertIn("PermissionError", page)
        self.assertNotIn(token, page)
