"""What the API key glue for Django, Flask, FastAPI and the CLI shares: settings, statuses, bodies."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from keyseal._native import ApiKeys, Keyring, Vault
from keyseal.exceptions import ApiKeyError, ConfigurationError, InsufficientScope

__all__ = [
    "DEFAULT_HEADER",
    "WWW_AUTHENTICATE",
    "api_keys_from",
    "detail_of",
    "scopes_arg",
    "status_of",
]

DEFAULT_HEADER = "X-Api-Key"
#: The challenge sent with every 401 (RFC 9110 section 11.6.1 asks for one).
WWW_AUTHENTICATE = "APIKey"
MISSING_DETAIL = "API key required"
INVALID_DETAIL = "invalid API key"
CERT_DETAIL = "API key not valid with this client certificate"

_SETTING_HELP = (
    "must be a keyseal.ApiKeys, a callable returning one, a dotted path to either, "
    'or a dict such as {"URL": "rediss://...", "PREFIX": "ks", "NAMESPACE": "apikeys"}'
)


def scopes_arg(scopes: Iterable[str] | str) -> tuple[str, ...]:
    """``scopes="read"`` means one scope, not four one-letter ones."""
    if isinstance(scopes, str):
        return (scopes,)
    out = tuple(scopes)
    if not all(isinstance(s, str) for s in out):
        raise TypeError("scopes must be str or an iterable of str")
    return out


def status_of(exc: ApiKeyError) -> int:
    """401 for a key that is not valid; 403 for a valid key lacking scopes or the bound certificate."""
    if isinstance(exc, InsufficientScope) or getattr(exc, "_certificate_mismatch", False):
        return 403
    return 401


def detail_of(exc: ApiKeyError) -> str:
    """A response body that says no more than the status: never the token."""
    if isinstance(exc, InsufficientScope):
        return str(exc)
    if getattr(exc, "_certificate_mismatch", False):
        return CERT_DETAIL
    return INVALID_DETAIL


def _from_mapping(cfg: Mapping[str, Any]) -> ApiKeys:
    url = cfg.get("URL")
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"the API keys setting has no URL; it {_SETTING_HELP}")
    keyring = cfg.get("KEYRING")
    if keyring is None:
        keyring = Keyring.from_env(cfg.get("KEYS_ENV", "KEYSEAL_KEYS"))
    elif isinstance(keyring, str):
        keyring = Keyring.from_string(keyring)
    options = dict(cfg.get("OPTIONS", {}))
    if "password" not in options and os.environ.get("KEYSEAL_REDIS_PASSWORD"):
        options["password"] = os.environ["KEYSEAL_REDIS_PASSWORD"]
    vault = Vault(url, keyring=keyring, **options)
    return ApiKeys(vault, prefix=cfg.get("PREFIX", "ks"), namespace=cfg.get("NAMESPACE", "apikeys"))


def _import(path: str) -> object:
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    if not module or not attr:
        raise ConfigurationError(f"the API keys setting {path!r} is not a dotted path")
    return getattr(importlib.import_module(module), attr)


def api_keys_from(config: object) -> ApiKeys:
    """Build (or find) the ApiKeys a setting describes."""
    if isinstance(config, ApiKeys):
        return config
    if isinstance(config, str):
        return api_keys_from(_import(config))
    if isinstance(config, Mapping):
        return _from_mapping(config)
    if callable(config):
        made = config()
        if isinstance(made, ApiKeys):
            return made
    raise ConfigurationError(f"the API keys setting {_SETTING_HELP}")


class SettingCache:
    """One ApiKeys per setting value: a test's override_settings gets its own, a process reuses one."""

    def __init__(self) -> None:
        self._config: object = None
        self._keys: ApiKeys | None = None

    def clear(self) -> None:
        """Forget the ApiKeys (and so let go of its Vault's connections once nothing else holds them)."""
        self._config = None
        self._keys = None

    def get(self, config: object, what: Callable[[], str]) -> ApiKeys:
        if config is None:
            raise ConfigurationError(f"no API keys configured: set {what()}")
        if self._keys is None or self._config is not config:
            self._keys = api_keys_from(config)
            self._config = config
        return self._keys
