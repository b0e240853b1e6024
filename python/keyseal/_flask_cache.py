"""Flask-Caching backend ``keyseal.flask.EncryptedRedisCache``: cachelib's API over a sealed Vault.

Values are serialized here (pickle; ints as ASCII decimal so the Vault's atomic ``incr`` works)
and sealed, named and stored by the Vault. Nothing is unpickled before the Vault has verified
the envelope's tag: a value that fails to open is a cache miss plus one WARNING on the
``keyseal.flask`` logger, so one tampered entry cannot take a site down.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from flask_caching.backends.base import BaseCache

from keyseal._native import Keyring, Vault
from keyseal._shims import keyring_from
from keyseal.exceptions import ConfigurationError, DecryptionError

__all__ = ["EncryptedRedisCache"]

logger = logging.getLogger("keyseal.flask")

DEFAULT_NAMESPACE = "flask_cache"
# Names the Vault refuses (control characters, lone surrogates, edge whitespace, over 1024 bytes)
# and names starting with HASHED_MARK are stored under HASHED_MARK + SHA-256 hex of the name, so
# any cachelib key works and a hashed name cannot collide with a plain one.
HASHED_MARK = "~"
_MAX_NAME_BYTES = 1024
_UNFIT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# pickle's protocol 2+ output starts with PROTO (0x80); an ASCII decimal never does.
_PICKLE_MARK = 0x80
_UNREADABLE = (
    "a cached value failed to open (tampered with, or sealed under a key no longer in the keyring); "
    "treated as a miss"
)


def _dumps(value: Any) -> bytes:
    # type(), not isinstance(): True/False must come back as bools, so they are pickled.
    if type(value) is int:
        return str(value).encode("ascii")
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes) -> Any:
    if data and data[0] == _PICKLE_MARK:
        # Only reached for plaintext the Vault authenticated: it was sealed with our keyring.
        try:
            return pickle.loads(data)  # noqa: S301
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError):
            # A class that no longer exists, say: a miss, as cachelib's serializer makes it.
            logger.warning("a cached value could not be unpickled; treated as a miss")
            return None
    try:
        return int(data)
    except ValueError:
        return data  # bytes some other writer put in the namespace with the Vault


def _name_of(name: str) -> str:
    if (
        name[:1] == HASHED_MARK
        or not name
        or _UNFIT.search(name) is not None
        or name != name.strip()
        or (len(name) > _MAX_NAME_BYTES // 4 and len(name.encode("utf-8")) > _MAX_NAME_BYTES)
    ):
        return HASHED_MARK + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return name


def _store_url(host: str, port: int, db: int) -> str:
    """A keyseal store URL from RedisCache's (host, port, db), or ``host`` itself when it is a URL."""
    if "://" in host:
        parts = urlsplit(host)
        # As redis.from_url(url, db=...) does: a database in the URL wins over CACHE_REDIS_DB.
        if parts.scheme in ("redis", "rediss") and parts.path.strip("/") == "" and db:
            return urlunsplit(parts._replace(path=f"/{db}"))
        return host
    if not host:
        raise ValueError("EncryptedRedisCache host must not be empty")
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"redis://{shown}:{int(port)}/{int(db)}"


class EncryptedRedisCache(BaseCache):
    """A Flask-Caching/cachelib cache whose values are sealed (AES-256-GCM) by a :class:`keyseal.Vault`.

    ``host`` is a host name (with ``port`` and ``db``, like RedisCache) or a keyseal store URL
    (``redis://``, ``rediss://``, ``redis+cluster://``, ``unix://``, ``memory://``). ``keyring`` is a
    Keyring or its exported text; ``vault_options`` are the Vault's (``namespace``, default
    ``"flask_cache"``; ``ssl_ca_certs``, ``socket_timeout``...). ``key_prefix`` is prepended to
    every key; ``clear()`` empties the whole namespace (SCAN + UNLINK, never FLUSHDB), so caches
    that must be cleared apart get their own ``namespace``. A timeout of 0 means forever.

    With Flask-Caching: ``CACHE_TYPE = "keyseal.flask.EncryptedRedisCache"``, the ``CACHE_REDIS_*``
    keys as RedisCache reads them, and ``CACHE_OPTIONS = {"keyring": ..., ...}``.
    """

    def __init__(
        self,
        host: Any = "localhost",
        port: int = 6379,
        password: str | None = None,
        db: int = 0,
        default_timeout: int | timedelta = 300,
        key_prefix: str | None = None,
        ignore_delete_many_errors: bool = False,
        *,
        keyring: Keyring | str,
        **vault_options: Any,
    ) -> None:
        super().__init__(
            default_timeout=default_timeout,  # type: ignore[arg-type]
            ignore_delete_many_errors=ignore_delete_many_errors,
        )
        if host is None:
            raise ValueError("EncryptedRedisCache host parameter may not be None")
        if not isinstance(host, str):
            raise TypeError(
                "EncryptedRedisCache host must be a host name or a keyseal store URL, not a client object"
            )
        if key_prefix is not None and not isinstance(key_prefix, str):
            raise TypeError("key_prefix must be a string")
        if password is not None:
            vault_options["password"] = password
        vault_options.setdefault("namespace", DEFAULT_NAMESPACE)
        self.key_prefix: str = key_prefix or ""
        self._vault = Vault(
            _store_url(host, port, db), keyring=keyring_from(keyring, what="keyring"), **vault_options
        )

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> EncryptedRedisCache:
        """Build from Flask-Caching's config, reading the CACHE_* keys as its RedisCache does."""
        kwargs.update(
            host=config.get("CACHE_REDIS_HOST", "localhost"),
            port=config.get("CACHE_REDIS_PORT", 6379),
            db=config.get("CACHE_REDIS_DB", 0),
        )
        password = config.get("CACHE_REDIS_PASSWORD")
        if password:
            kwargs["password"] = password
        key_prefix = config.get("CACHE_KEY_PREFIX")
        if key_prefix:
            kwargs["key_prefix"] = key_prefix
        url = config.get("CACHE_REDIS_URL")
        if url:
            kwargs["host"] = url
        if "keyring" not in kwargs:
            raise ConfigurationError(
                "keyseal.flask.EncryptedRedisCache needs a keyring: CACHE_OPTIONS = {'keyring': ...}"
            )
        return cls(*args, **kwargs)

    @property
    def vault(self) -> Vault:
        """The Vault holding this cache's values."""
        return self._vault

    def _name(self, key: str) -> str:
        return _name_of(f"{self.key_prefix}{key}")

    def _ttl(self, timeout: int | timedelta | None) -> int | None:
        seconds = self._normalize_timeout(timeout)
        return None if seconds == 0 else seconds

    # ---- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        try:
            data = self._vault.get_bytes(self._name(key))
        except DecryptionError:
            logger.warning(_UNREADABLE)
            return None
        return None if data is None else _loads(data)

    def get_many(self, *keys: str) -> list[Any]:
        if not keys:
            return []
        names = [self._name(k) for k in keys]
        found = self._vault.get_many_bytes(names, skip_undecryptable=True)
        values: list[Any] = []
        for name in names:
            data = found.get(name)
            if data is None:
                if name in found:
                    logger.warning(_UNREADABLE)
                values.append(None)
            else:
                values.append(_loads(data))
        return values

    def has(self, key: str) -> bool:
        return self._vault.exists(self._name(key))

    # ---- writes --------------------------------------------------------------------------------

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        self._vault.put(self._name(key), _dumps(value), ttl=self._ttl(timeout))
        return True

    def add(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        return self._vault.add(self._name(key), _dumps(value), ttl=self._ttl(timeout))

    def set_many(self, mapping: Mapping[str, Any], timeout: int | timedelta | None = None) -> list[Any]:
        if not mapping:
            return []
        self._vault.put_many({self._name(k): _dumps(v) for k, v in mapping.items()}, ttl=self._ttl(timeout))
        return list(mapping.keys())

    def delete(self, key: str) -> bool:
        return self._vault.delete(self._name(key))

    def delete_many(self, *keys: str) -> list[Any]:
        # One DEL/UNLINK of every name: a key is gone afterwards (missing keys count as deleted, as in
        # cachelib), so ignore_delete_many_errors has nothing to report.
        if not keys:
            return []
        self._vault.delete_many([self._name(k) for k in keys])
        return list(keys)

    def unlink(self, *keys: str) -> int:
        """Delete ``keys``; how many existed (Flask-Caching calls this on Redis backends)."""
        if not keys:
            return 0
        return self._vault.delete_many([self._name(k) for k in keys])

    def clear(self) -> bool:
        self._vault.clear()
        return True

    def inc(self, key: str, delta: int = 1) -> int:
        """Atomically add ``delta`` (a missing key starts at 0 and never expires, as with Redis INCRBY)."""
        name = self._name(key)
        while True:
            try:
                value = self._vault.incr(name, delta)
            except DecryptionError:
                # Like a miss: start again from 0, so the tampered entry is overwritten.
                logger.warning(_UNREADABLE)
                self._vault.put(name, str(delta).encode("ascii"), ttl=None)
                return delta
            if value is not None:
                return value
            if self._vault.add(name, str(delta).encode("ascii"), ttl=None):
                return delta
            # Another writer created it between our incr and add: increment that value.

    def dec(self, key: str, delta: int = 1) -> int:
        return self.inc(key, -delta)

    def close(self) -> None:
        """Close the Vault's connections."""
        self._vault.close()
