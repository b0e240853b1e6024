"""Reads a keyseal cache's ``CACHES`` entry into typed settings; bad input is ImproperlyConfigured."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured

from keyseal._native import Keyring
from keyseal.exceptions import ConfigurationError

__all__ = [
    "BACKEND",
    "KEYRING_ENV_DEFAULT",
    "NAMESPACE_DEFAULT",
    "VAULT_OPTIONS",
    "CacheSettings",
    "KeyringMissing",
    "cache_settings",
    "keyseal_cache_aliases",
]

BACKEND = "keyseal.django.EncryptedRedisCache"
# Also accepted in CACHES: the module path Django would print for the class.
_BACKEND_PATHS = frozenset({BACKEND, "keyseal.django.cache.EncryptedRedisCache"})
KEYRING_ENV_DEFAULT = "KEYSEAL_KEYS"
NAMESPACE_DEFAULT = "django-cache"

# The Vault's connection options, under redis-py's names (passed through unchanged).
VAULT_OPTIONS = frozenset(
    {
        "username",
        "password",
        "ssl_ca_certs",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_check_hostname",
        "ssl_cert_reqs",
        "socket_timeout",
        "socket_connect_timeout",
        "allow_plaintext",
        "max_idle_connections",
        "max_value_size",
        "key_prefix",
    }
)
_OWN_OPTIONS = frozenset({"KEYRING", "KEYRING_ENV", "NAMESPACE", "SERIALIZER"})
SERIALIZERS = ("pickle", "json")


class KeyringMissing(ImproperlyConfigured):
    """No usable keyring for a keyseal cache (the check keyseal.E001 reports it)."""


@dataclass(frozen=True)
class CacheSettings:
    """One keyseal cache's configuration, validated."""

    location: str
    keyring: Keyring = field(repr=False)
    namespace: str
    serializer: Literal["pickle", "json"]
    vault_options: Mapping[str, Any] = field(repr=False)

    def identity(self) -> tuple[str, ...]:
        """What makes two aliases share one client: same store, keys, namespace and options."""
        opts = tuple(f"{k}={self.vault_options[k]!r}" for k in sorted(self.vault_options))
        return (self.location, self.keyring.export(), self.namespace, *opts)


def is_keyseal_backend(backend: object) -> bool:
    return isinstance(backend, str) and backend in _BACKEND_PATHS


def keyseal_cache_aliases(caches: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [alias for alias, conf in caches.items() if is_keyseal_backend(conf.get("BACKEND"))]


def _where(alias: str | None) -> str:
    return f"CACHES[{alias!r}]" if alias else "a keyseal cache"


def _keyring(options: Mapping[str, Any], where: str) -> Keyring:
    text = options.get("KEYRING")
    if isinstance(text, Keyring):
        return text
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise KeyringMissing(f"{where}: OPTIONS['KEYRING'] must be the keyring text (`keyring.export()`)")
        try:
            return Keyring.from_string(text.strip())
        except (ValueError, TypeError, ConfigurationError):
            # The parser's message is safe, but a message of our own cannot echo the text at all.
            raise KeyringMissing(
                f"{where}: OPTIONS['KEYRING'] is not a valid keyring text; make one with "
                "`manage.py keyseal keygen`"
            ) from None
    var = options.get("KEYRING_ENV", KEYRING_ENV_DEFAULT)
    if not isinstance(var, str) or not var:
        raise ImproperlyConfigured(f"{where}: OPTIONS['KEYRING_ENV'] must be an environment variable name")
    value = os.environ.get(var)
    if not value:
        raise KeyringMissing(
            f"{where}: no keyring: set OPTIONS['KEYRING'] or the environment variable {var} "
            "(make one with `manage.py keyseal keygen`)"
        )
    try:
        return Keyring.from_string(value.strip())
    except (ValueError, TypeError, ConfigurationError):
        raise KeyringMissing(
            f"{where}: the environment variable {var} does not hold a valid keyring text"
        ) from None


def cache_settings(location: object, params: Mapping[str, Any], alias: str | None = None) -> CacheSettings:
    """Validate one CACHES entry (``params`` is the entry without BACKEND/LOCATION, or with them)."""
    where = _where(alias)
    if isinstance(location, list | tuple):
        if len(location) != 1:
            raise ImproperlyConfigured(
                f"{where}: LOCATION must be one URL (for a cluster: redis+cluster://host1:port1,host2:port2)"
            )
        location = location[0]
    if not isinstance(location, str) or not location.strip():
        raise ImproperlyConfigured(
            f"{where}: LOCATION must be a URL such as rediss://cache:6380/0, redis+cluster://..., "
            "unix:///path/redis.sock or memory://"
        )
    options = params.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured(f"{where}: OPTIONS must be a dict")
    unknown = sorted(str(k) for k in options if k not in _OWN_OPTIONS and k not in VAULT_OPTIONS)
    if unknown:
        allowed = ", ".join(sorted(_OWN_OPTIONS | VAULT_OPTIONS))
        raise ImproperlyConfigured(f"{where}: unknown OPTIONS {', '.join(unknown)} (allowed: {allowed})")
    serializer = options.get("SERIALIZER", "pickle")
    if serializer not in SERIALIZERS:
        raise ImproperlyConfigured(f"{where}: OPTIONS['SERIALIZER'] must be 'pickle' or 'json'")
    namespace = options.get("NAMESPACE", NAMESPACE_DEFAULT)
    if not isinstance(namespace, str):
        raise ImproperlyConfigured(f"{where}: OPTIONS['NAMESPACE'] must be a str")
    keyring = _keyring(options, where)
    vault_options = {k: v for k, v in options.items() if k in VAULT_OPTIONS}
    return CacheSettings(location.strip(), keyring, namespace, serializer, vault_options)
