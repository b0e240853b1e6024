"""CACHES parsing of EncryptedRedisCache: clear ImproperlyConfigured errors with no secret in them;
importing keyseal.django needs no settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _django_helpers import BACKEND, keyseal_cache
from django.core.exceptions import ImproperlyConfigured

import keyseal
from keyseal.django.conf import cache_settings


def _error(caches, conf) -> str:
    caches_obj = caches(default=conf)
    with pytest.raises(ImproperlyConfigured) as info:
        caches_obj["default"]
    return str(info.value)


def test_missing_keyring_names_the_env_var(use_caches, monkeypatch) -> None:
    monkeypatch.delenv("KEYSEAL_KEYS", raising=False)
    msg = _error(use_caches, {"BACKEND": BACKEND, "LOCATION": "memory://"})
    assert "CACHES['default']" in msg
    assert "KEYSEAL_KEYS" in msg
    assert "keygen" in msg


def test_keyring_from_a_named_env_var(use_caches, monkeypatch, keyring_text) -> None:
    monkeypatch.setenv("MY_CACHE_KEYS", keyring_text)
    caches = use_caches(
        default={"BACKEND": BACKEND, "LOCATION": "memory://", "OPTIONS": {"KEYRING_ENV": "MY_CACHE_KEYS"}}
    )
    assert caches["default"].settings.keyring.export() == keyring_text
    monkeypatch.delenv("MY_CACHE_KEYS")
    msg = _error(
        use_caches, {"BACKEND": BACKEND, "LOCATION": "memory://", "OPTIONS": {"KEYRING_ENV": "MY_CACHE_KEYS"}}
    )
    assert "MY_CACHE_KEYS" in msg


def test_bad_keyring_text_is_not_echoed(use_caches, keyring_text) -> None:
    bad = keyring_text[:-6] + "!!!!!!"
    msg = _error(use_caches, keyseal_cache("memory://", bad))
    assert "not a valid keyring" in msg
    assert bad not in msg
    assert keyring_text[10:30] not in msg


def test_bad_keyring_in_env_is_not_echoed(use_caches, monkeypatch) -> None:
    monkeypatch.setenv("KEYSEAL_KEYS", "ks1,name=c2VjcmV0LXZhbHVlLWxlYWtlZA")
    msg = _error(use_caches, {"BACKEND": BACKEND, "LOCATION": "memory://"})
    assert "KEYSEAL_KEYS" in msg
    assert "c2VjcmV0" not in msg


def test_keyring_object_is_accepted(use_caches) -> None:
    ring = keyseal.Keyring.generate()
    caches = use_caches(default=keyseal_cache("memory://", ring))
    assert caches["default"].settings.keyring is ring


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"SERIALIZER": "yaml"}, "SERIALIZER"),
        ({"NAMESPACE": 7}, "NAMESPACE"),
        ({"KEYRING_ENV": ""}, "KEYRING_ENV"),
        ({"CLIENT_CLASS": "django_redis.client.DefaultClient"}, "unknown OPTIONS CLIENT_CLASS"),
        ({"ssl_certs": "/tmp/x"}, "unknown OPTIONS ssl_certs"),
    ],
)
def test_bad_options(use_caches, keyring_text, options, needle) -> None:
    conf = keyseal_cache("memory://", keyring_text)
    conf["OPTIONS"].update(options)
    if options.get("KEYRING_ENV") == "":
        del conf["OPTIONS"]["KEYRING"]
    assert needle in _error(use_caches, conf)


@pytest.mark.parametrize("location", ["", None, ["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"]])
def test_bad_location(use_caches, keyring_text, location) -> None:
    assert "LOCATION" in _error(use_caches, keyseal_cache(location, keyring_text))


def test_options_must_be_a_dict(keyring_text) -> None:
    with pytest.raises(ImproperlyConfigured, match="OPTIONS must be a dict"):
        cache_settings("memory://", {"OPTIONS": ["KEYRING"]}, "x")


def test_vault_refusals_surface_as_improperly_configured(use_caches, keyring_text) -> None:
    # A remote host over plaintext Redis is refused by the Vault; the password in the URL stays out.
    conf = keyseal_cache("redis://:hunter2-password@10.11.12.13:6379/0", keyring_text)
    msg = _error(use_caches, conf)
    assert "hunter2" not in msg
    assert "plaintext" in msg.lower() or "allow_plaintext" in msg


def test_bad_vault_option_value(use_caches, keyring_text) -> None:
    msg = _error(use_caches, keyseal_cache("memory://", keyring_text, socket_timeout=-1))
    assert "socket_timeout" in msg


def test_import_needs_no_settings() -> None:
    code = (
        "import keyseal.django as d, keyseal.django.cache, keyseal.django.checks, "
        "keyseal.django.reporting, keyseal.django.apps\n"
        "assert d.EncryptedRedisCache.__name__ == 'EncryptedRedisCache'\n"
        "assert d.RedactingExceptionReporterFilter.__name__ == 'RedactingExceptionReporterFilter'\n"
        "try:\n    d.NoSuchName\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(3)\n"
        "from django.conf import settings\nassert not settings.configured\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
