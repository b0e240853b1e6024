"""Flask integration: the ``KeySeal`` extension, the ``vault`` proxy and a Flask-Caching backend.

Thin shims over :class:`keyseal.Vault`: every sealing, naming and Redis decision is made by the
Rust core; this module reads configuration, keeps per-app state and translates cachelib's
calling conventions.

Extension::

    ks = KeySeal()            # or KeySeal(app)
    ks.init_app(app)          # reads KEYSEAL_* from app.config
    from keyseal.flask import vault
    vault.get("api_key:service_a")   # the current app's Vault

Flask-Caching backend::

    app.config["CACHE_TYPE"] = "keyseal.flask.EncryptedRedisCache"
    app.config["CACHE_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    app.config["CACHE_OPTIONS"] = {"keyring": os.environ["KEYSEAL_KEYS"]}
"""

from __future__ import annotations

import importlib
import logging
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from werkzeug.local import LocalProxy

from keyseal._native import Keyring, Vault
from keyseal._shims import keyring_from
from keyseal.exceptions import ConfigurationError
from keyseal.logging import RedactingFilter

if TYPE_CHECKING:
    from keyseal._flask_cache import EncryptedRedisCache as EncryptedRedisCache

# EncryptedRedisCache and require_api_key are resolved on first use by __getattr__ below.
__all__ = ["EncryptedRedisCache", "KeySeal", "get_vault", "require_api_key", "vault"]  # noqa: F822

EXTENSION_KEY = "keyseal"
DEFAULTS: dict[str, Any] = {
    "KEYSEAL_URL": "memory://",
    "KEYSEAL_KEYS": None,
    "KEYSEAL_NAMESPACE": "default",
    "KEYSEAL_OPTIONS": None,
    "KEYSEAL_REDACT_LOGS": True,
}
# Names other modules provide, resolved on first access so that importing keyseal.flask stays cheap
# and does not need them: name -> module.
_LAZY = {
    "EncryptedRedisCache": "keyseal._flask_cache",
    "require_api_key": "keyseal._flask_apikeys",
}


@dataclass(frozen=True)
class _State:
    """What one app's extension holds: its Vault (closed when the app goes away)."""

    vault: Vault
    finalizer: weakref.finalize[Any, Any]


class KeySeal:
    """The Flask extension: one Vault per app, configured from ``app.config``.

    Config keys (defaults set with ``setdefault``): ``KEYSEAL_URL`` (``memory://``),
    ``KEYSEAL_KEYS`` (a Keyring or its exported text; else the ``KEYSEAL_KEYS`` environment
    variable; a debug or testing app without keys gets a throwaway keyring, any other app an
    error at ``init_app``), ``KEYSEAL_NAMESPACE``, ``KEYSEAL_OPTIONS`` (the Vault's options by
    their redis-py names) and ``KEYSEAL_REDACT_LOGS`` (True: a RedactingFilter on ``app.logger``
    and its handlers). State lives in ``app.extensions["keyseal"]``, so one KeySeal object can
    serve several apps. The Vault is closed when the app is garbage-collected or the process
    exits, or by ``KeySeal.close(app)``; it is not closed per request, since it is a pool shared
    by every request of the app.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate the app's KEYSEAL_* config, open its Vault and register it on the app."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("KeySeal is already initialised on this app")
        config = app.config
        for key, value in DEFAULTS.items():
            config.setdefault(key, value)
        url = config["KEYSEAL_URL"]
        if not isinstance(url, str):
            raise ConfigurationError("KEYSEAL_URL must be a string such as redis://127.0.0.1:6379/0")
        options = config["KEYSEAL_OPTIONS"] or {}
        if not isinstance(options, Mapping):
            raise ConfigurationError("KEYSEAL_OPTIONS must be a dict of Vault options")
        for reserved in ("keyring", "namespace"):
            if reserved in options:
                key = "KEYSEAL_KEYS" if reserved == "keyring" else "KEYSEAL_NAMESPACE"
                raise ConfigurationError(f"set {key}, not KEYSEAL_OPTIONS[{reserved!r}]")
        keyring = self._keyring(app)
        new_vault = Vault(url, keyring=keyring, namespace=config["KEYSEAL_NAMESPACE"], **options)
        # The finalizer holds the Vault, not the app: it runs when the app is collected or at exit.
        finalizer = weakref.finalize(app, new_vault.close)
        app.extensions[EXTENSION_KEY] = _State(vault=new_vault, finalizer=finalizer)
        if config["KEYSEAL_REDACT_LOGS"]:
            _redact_logger(app.logger)

    @staticmethod
    def _keyring(app: Flask) -> Keyring:
        value = app.config["KEYSEAL_KEYS"]
        if value is not None:
            return keyring_from(value, what="KEYSEAL_KEYS")
        env = os.environ.get("KEYSEAL_KEYS")
        if env:
            return keyring_from(env, what="the KEYSEAL_KEYS environment variable")
        if app.debug or app.testing:
            app.logger.warning(
                "keyseal: no KEYSEAL_KEYS; using a throwaway keyring (values sealed now cannot be "
                "opened after a restart)"
            )
            return Keyring.generate()
        raise ConfigurationError(
            "KEYSEAL_KEYS is not set (app.config or the environment): generate one with `keyseal keygen`"
        )

    @staticmethod
    def close(app: Flask) -> None:
        """Close the app's Vault now and forget it (``init_app`` may be called again)."""
        state = app.extensions.pop(EXTENSION_KEY, None)
        if isinstance(state, _State):
            state.finalizer()


def _redact_logger(logger: logging.Logger) -> None:
    # The logger's own filter sees records logged on it; handler filters also see records that
    # propagate from child loggers (app.logger.getChild(...)), which logger filters do not.
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def get_vault(app: Flask | None = None) -> Vault:
    """The Vault of ``app`` (default: the current app). RuntimeError if KeySeal is not set up on it."""
    target = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    state = target.extensions.get(EXTENSION_KEY)
    if not isinstance(state, _State):
        raise RuntimeError("KeySeal is not initialised on this app: call KeySeal(app) or init_app(app)")
    return state.vault


#: The current app's Vault (a proxy: valid inside an application or request context).
vault: Vault = cast(Vault, LocalProxy(get_vault))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
