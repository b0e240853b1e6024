"""Settings of the example: one keyseal cache, the keyseal app, redacted error reports and logs.

Environment: KEYSEAL_KEYS (from `python manage.py keyseal keygen`), REDIS_URL (default
redis://127.0.0.1:6379/0), PARTNER_CLIENT_SECRET (the long-lived credential of the partner API).
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-" + "x" * 40)
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "shop.urls"
DATABASES: dict[str, dict[str, str]] = {}  # the example needs no database
INSTALLED_APPS = ["keyseal.django", "partner"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]

CACHES = {
    "default": {
        "BACKEND": "keyseal.django.EncryptedRedisCache",
        # rediss://cache.internal:6380/0 with "ssl_ca_certs" in production
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "OPTIONS": {"NAMESPACE": "shop", "KEYRING_ENV": "KEYSEAL_KEYS"},
    }
}

# Error pages and admin emails pass through keyseal's redactor.
DEFAULT_EXCEPTION_REPORTER_FILTER = "keyseal.django.RedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "keyseal.django.RedactingExceptionReporter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"secrets": {"()": "keyseal.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["secrets"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

PARTNER_CLIENT_SECRET = os.environ.get("PARTNER_CLIENT_SECRET", "")
