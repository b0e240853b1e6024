"""Django settings for the API key tests: configured only if nobody did it first; the rest goes in
override_settings."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="apikeys-tests-only",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        DATABASES={},
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()
