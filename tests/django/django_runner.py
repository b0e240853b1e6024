"""Runs Django test classes in a process of their own, with settings of their own (a SQLite test
database, the ``cache`` test app from Django's sdist), and writes the counts as JSON.

Used by test_django_suite.py for Django's own ``tests/cache`` BaseCacheTests against
EncryptedRedisCache (the way Django runs them against its RedisCache) and for the session tests
(the cached_db engine needs a database, which the shared pytest process may not have).

    python django_runner.py --suite cache|sessions --location URL --json OUT [--django-tests DIR]
The keyring comes from KEYSEAL_KEYS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import unittest
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def configure(location: str, with_cache_app: bool) -> dict[str, Any]:
    import django
    from django.conf import settings

    params = {
        "BACKEND": "keyseal.django.EncryptedRedisCache",
        "LOCATION": location,
        "OPTIONS": {"NAMESPACE": f"djsuite-{os.getpid()}"},
    }
    apps = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "keyseal.django",
    ]
    if with_cache_app:
        apps.append("cache")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-runner-not-a-secret",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=apps,
        CACHES={"default": params},
        USE_TZ=False,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="djsuite_urls",
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()
    return params


def cache_classes(params: dict[str, Any]) -> list[type[unittest.TestCase]]:
    from cache.tests import BaseCacheTests, caches_setting_for_tests  # Django's sdist tests/cache
    from django.test import TestCase, override_settings

    # As Django does for RedisCache: the cull aliases are left out (Redis has no MAX_ENTRIES).
    @override_settings(CACHES=caches_setting_for_tests(base=params, exclude={"cull", "zero_cull"}))
    class EncryptedRedisCacheTests(BaseCacheTests, TestCase):
        pass

    EncryptedRedisCacheTests.__module__ = "django_runner"
    return [EncryptedRedisCacheTests]


def session_classes() -> list[type[unittest.TestCase]]:
    import djsuite_sessions

    return [djsuite_sessions.CacheSessionTests, djsuite_sessions.CachedDbSessionTests]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=["cache", "sessions"], required=True)
    parser.add_argument("--location", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--django-tests", help="the tests/ directory of Django's sdist")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.django_tests:
        sys.path.insert(0, args.django_tests)
    params = configure(args.location, with_cache_app=args.suite == "cache")

    from django.test.runner import DiscoverRunner

    classes = cache_classes(params) if args.suite == "cache" else session_classes()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(cls) for cls in classes)
    runner = DiscoverRunner(verbosity=1, interactive=False)
    runner.setup_test_environment()
    old_config = runner.setup_databases()
    try:
        result = runner.run_suite(suite)
    finally:
        runner.teardown_databases(old_config)
        runner.teardown_test_environment()
    summary = {
        "classes": [cls.__name__ for cls in classes],
        "defined": sum(len(unittest.TestLoader().getTestCaseNames(cls)) for cls in classes),
        "run": result.testsRun,
        "failures": len(result.failures),
        "errors": len(result.errors),
        "skipped": [(str(test), reason) for test, reason in result.skipped],
        "expected_failures": len(result.expectedFailures),
        "unexpected_successes": len(result.unexpectedSuccesses),
    }
    Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
