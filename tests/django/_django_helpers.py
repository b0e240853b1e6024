"""Helpers of the Django tests (not fixtures: see conftest.py)."""

from __future__ import annotations

import logging
from typing import Any

BACKEND = "keyseal.django.EncryptedRedisCache"


def keyseal_cache(location: str, keyring: Any, **options: Any) -> dict[str, Any]:
    """A CACHES entry for EncryptedRedisCache."""
    return {"BACKEND": BACKEND, "LOCATION": location, "OPTIONS": {"KEYRING": keyring, **options}}


def db_url(url: str, db: int) -> str:
    """The same server, another database number (tests that scan Redis see only their own keys)."""
    return url.rsplit("/", 1)[0] + f"/{db}"


class Records(logging.Handler):
    """Collects the records of one logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [self.format(r) for r in self.records]
