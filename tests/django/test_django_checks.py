"""The keyseal app's system checks: each id has a test that triggers it and one that does not."""

from __future__ import annotations

import pytest
from _django_helpers import BACKEND, keyseal_cache
from django.core.checks import Tags, run_checks
from django.test.utils import override_settings

from keyseal.django import checks


def ids(messages) -> list[str]:
    return sorted(m.id for m in messages)


def keyseal_ids(messages) -> list[str]:
    return [i for i in ids(messages) if i.startswith("keyseal.")]


# -- E001 keyring
def test_e001_no_keyring(monkeypatch) -> None:
    monkeypatch.delenv("KEYSEAL_KEYS", raising=False)
    with override_settings(CACHES={"default": {"BACKEND": BACKEND, "LOCATION": "memory://"}}):
        messages = checks.check_keyseal_caches()
    assert ids(messages) == ["keyseal.E001"]
    assert messages[0].hint
    assert "KEYSEAL_KEYS" in messages[0].hint


def test_e001_bad_keyring_not_echoed(keyring_text) -> None:
    bad = keyring_text.replace("key=", "key=zz", 1)
    with override_settings(CACHES={"default": keyseal_cache("memory://", bad)}):
        messages = checks.check_keyseal_caches()
    assert ids(messages) == ["keyseal.E001"]
    assert bad not in messages[0].msg + messages[0].hint


def test_e001_not_raised_with_a_keyring(monkeypatch, keyring_text) -> None:
    with override_settings(CACHES={"default": keyseal_cache("memory://", keyring_text)}):
        assert checks.check_keyseal_caches() == []
    monkeypatch.setenv("KEYSEAL_KEYS", keyring_text)
    with override_settings(CACHES={"default": {"BACKEND": BACKEND, "LOCATION": "memory://"}}):
        assert checks.check_keyseal_caches() == []


# -- E002 other configuration errors
def test_e002_bad_option(keyring_text) -> None:
    with override_settings(CACHES={"c": keyseal_cache("memory://", keyring_text, SERIALIZER="marshal")}):
        messages = checks.check_keyseal_caches()
    assert ids(messages) == ["keyseal.E002"]
    assert "SERIALIZER" in messages[0].hint


def test_e002_not_raised_for_json(keyring_text) -> None:
    with override_settings(CACHES={"c": keyseal_cache("memory://", keyring_text, SERIALIZER="json")}):
        assert checks.check_keyseal_caches() == []


# -- W001 TLS verification off
@pytest.mark.parametrize("option", [{"ssl_cert_reqs": "none"}, {"ssl_check_hostname": False}])
def test_w001_tls_verification_off(keyring_text, option) -> None:
    conf = keyseal_cache("rediss://cache.internal:6380/0", keyring_text, **option)
    with override_settings(CACHES={"default": conf}):
        messages = checks.check_keyseal_caches()
    assert ids(messages) == ["keyseal.W001"]
    assert "ssl_ca_certs" in messages[0].hint


def test_w001_not_raised_with_verification(keyring_text) -> None:
    conf = keyseal_cache(
        "rediss://cache.internal:6380/0", keyring_text, ssl_cert_reqs="required", ssl_check_hostname=True
    )
    with override_settings(CACHES={"default": conf}):
        assert checks.check_keyseal_caches() == []


# -- W002 plaintext to a remote host
@pytest.mark.parametrize(
    "location",
    [
        "redis://10.0.0.5:6379/0",
        "redis://:pw@cache.internal:6379/0",
        "redis+cluster://127.0.0.1:7000,10.0.0.6:7000",
    ],
)
def test_w002_plaintext_remote(keyring_text, location) -> None:
    with override_settings(CACHES={"default": keyseal_cache(location, keyring_text, allow_plaintext=True)}):
        messages = checks.check_keyseal_caches()
    assert ids(messages) == ["keyseal.W002"]
    assert "pw" not in messages[0].msg
    assert "rediss://" in messages[0].hint


@pytest.mark.parametrize(
    "location",
    [
        "redis://127.0.0.1:6379/0",
        "redis://localhost:6379/0",
        "redis://[::1]:6379/0",
        "rediss://cache.internal:6380/0",
        "unix:///run/redis.sock",
        "redis+cluster://127.0.0.1:7000,127.0.0.2:7001",
    ],
)
def test_w002_not_raised_for_loopback_or_tls(keyring_text, location) -> None:
    with override_settings(CACHES={"default": keyseal_cache(location, keyring_text, allow_plaintext=True)}):
        assert checks.check_keyseal_caches() == []


# -- W003 logging without redaction
LOGGING_BARE = {
    "version": 1,
    "filters": {"secrets": {"()": "keyseal.RedactingFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["secrets"]},
        "file": {"class": "logging.FileHandler", "filename": "/dev/null"},
    },
}


def test_w003_handler_without_filter() -> None:
    with override_settings(LOGGING=LOGGING_BARE):
        messages = checks.check_logging_redaction()
    assert ids(messages) == ["keyseal.W003"]
    assert "file" in messages[0].msg
    assert "console" not in messages[0].msg
    assert "keyseal.RedactingFilter" in messages[0].hint


def test_w003_not_raised_when_every_handler_redacts() -> None:
    from keyseal.logging import RedactingFilter

    config = {
        "version": 1,
        "filters": {
            "secrets": {"()": "keyseal.RedactingFilter"},
            "by_class": {"()": RedactingFilter},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["secrets"]},
            "mail": {"class": "django.utils.log.AdminEmailHandler", "filters": ["by_class"]},
        },
    }
    with override_settings(LOGGING=config):
        assert checks.check_logging_redaction() == []
    with override_settings(LOGGING={}):
        assert checks.check_logging_redaction() == []


# -- W004 plain Redis caches without TLS (deploy)
@pytest.mark.parametrize(
    ("backend", "location"),
    [
        ("django.core.cache.backends.redis.RedisCache", "redis://10.0.0.5:6379/0"),
        (
            "django.core.cache.backends.redis.RedisCache",
            "redis://127.0.0.1:6379;redis://replica.internal:6379",
        ),
        ("django_redis.cache.RedisCache", "redis://cache.internal:6379/1"),
        ("django_redis.cache.RedisCache", ["redis://cache.internal:6379/1"]),
    ],
)
def test_w004_plain_redis_remote(backend, location) -> None:
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": location}}):
        messages = checks.check_plain_redis_caches()
    assert ids(messages) == ["keyseal.W004"]
    assert "rediss://" in messages[0].hint


@pytest.mark.parametrize(
    ("backend", "location"),
    [
        ("django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/0"),
        ("django.core.cache.backends.redis.RedisCache", "rediss://cache.internal:6380/0"),
        ("django_redis.cache.RedisCache", "unix:///run/redis.sock"),
        ("django.core.cache.backends.locmem.LocMemCache", "redis://10.0.0.5:6379/0"),
    ],
)
def test_w004_not_raised_for_tls_or_loopback(backend, location) -> None:
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": location}}):
        assert checks.check_plain_redis_caches() == []


# -- registration through the app
def test_checks_registered_under_security_tag(keyseal_app, monkeypatch) -> None:
    monkeypatch.delenv("KEYSEAL_KEYS", raising=False)
    caches = {
        "sealed": {"BACKEND": BACKEND, "LOCATION": "memory://"},
        "plain": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://10.0.0.5:6379",
        },
    }
    with override_settings(CACHES=caches, LOGGING=LOGGING_BARE):
        normal = keyseal_ids(run_checks(tags=[Tags.security]))
        deploy = keyseal_ids(run_checks(tags=[Tags.security], include_deployment_checks=True))
    assert normal == ["keyseal.E001", "keyseal.W003"]
    assert deploy == ["keyseal.E001", "keyseal.W003", "keyseal.W004"]
