"""Django for the in-process tests: settings configured once if nobody did (the certs and API key
tests share this process), everything test-specific through override_settings/modify_settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.test.utils import modify_settings, override_settings

import keyseal

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="keyseal-tests-not-a-secret",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "keyseal.django"],
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        USE_TZ=True,
    )
    django.setup()


@pytest.fixture(scope="session")
def keyring_text() -> str:
    return keyseal.Keyring.generate().export()


@pytest.fixture
def keyseal_app() -> Iterator[None]:
    """keyseal.django in INSTALLED_APPS (whatever the process-wide settings hold)."""
    if "keyseal.django" in settings.INSTALLED_APPS:
        yield
        return
    with modify_settings(INSTALLED_APPS={"append": "keyseal.django"}):
        yield


@pytest.fixture
def use_caches() -> Iterator[Callable[..., Any]]:
    """``use_caches(default={...}, other={...})``: CACHES for the rest of the test; returns caches."""
    from django.core.cache import caches

    stack: list[override_settings] = []

    def apply(**aliases: dict[str, Any]) -> Any:
        ctx = override_settings(CACHES=aliases)
        ctx.enable()
        stack.append(ctx)
        return caches

    yield apply
    while stack:
        stack.pop().disable()
