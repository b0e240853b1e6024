"""``EncryptedRedisCache``: a Django cache backend whose values are sealed by a ``keyseal.Vault``.

Thin on purpose: Django's key rules and timeouts are applied here, values are pickled (or JSON)
here, and everything else (sealing, opaque names, atomic ``incr`` on sealed integers, ``SET NX``,
namespace-only ``clear``) is the Vault's. One Vault per process serves every thread and every
alias with the same settings; it connects on first use.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    default_key_func,
)
from django.core.exceptions import ImproperlyConfigured

from keyseal._native import Vault, redactor
from keyseal.django.conf import CacheSettings, cache_settings, is_keyseal_backend
from keyseal.django.serializers import serializer_for
from keyseal.exceptions import ConfigurationError, DecryptionError
from keyseal.logging import RedactingFilter

__all__ = ["EncryptedRedisCache", "shared_vault"]

logger = logging.getLogger("keyseal.django")
logger.addFilter(RedactingFilter())

_VAULTS: dict[tuple[str, ...], Vault] = {}
_VAULTS_LOCK = threading.Lock()
# A Django key is passed to the Vault as its name when the Vault accepts it as it is (at most
# 1,024 UTF-8 bytes, no control characters, no surrounding whitespace); any other key (Django
# only warns about such keys) is replaced by a digest, so every key Django accepts works.
_MAX_PLAIN_CHARS = 256
_HASHED_PREFIX = "keyseal-sha256:"
_MISSING = object()
# The characters Django's memcache_key_warnings() flags: controls, space and DEL.
_MEMCACHE_UNFRIENDLY = re.compile(r"[\x00-\x20\x7f]")


def shared_vault(conf: CacheSettings, alias: str | None = None) -> Vault:
    """The process's Vault for these settings (made on first call; it connects on first use)."""
    ident = conf.identity()
    vault = _VAULTS.get(ident)
    if vault is not None:
        return vault
    with _VAULTS_LOCK:
        vault = _VAULTS.get(ident)
        if vault is None:
            try:
                vault = Vault(
                    conf.location, keyring=conf.keyring, namespace=conf.namespace, **conf.vault_options
                )
            except (ValueError, TypeError, ConfigurationError) as exc:
                # Vault messages hold no secrets; the redactor is a second guard (URL credentials).
                where = f"CACHES[{alias!r}]" if alias else "a keyseal cache"
                raise ImproperlyConfigured(f"{where}: {redactor().redact(str(exc))}") from None
            _VAULTS[ident] = vault
    return vault


def vault_name(key: str) -> str:
    if (
        len(key) <= _MAX_PLAIN_CHARS
        and key.isprintable()
        and key
        and not key[0].isspace()
        and not key[-1].isspace()
    ):
        return key
    return _HASHED_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _alias_of(location: object, params: Mapping[str, Any]) -> str:
    """Which CACHES alias this backend serves (Django does not tell a backend its alias)."""
    try:
        configured: Mapping[str, Mapping[str, Any]] = settings.CACHES
    except ImproperlyConfigured:
        return "?"
    found = [
        alias
        for alias, conf in configured.items()
        if is_keyseal_backend(conf.get("BACKEND"))
        and conf.get("LOCATION", "") == location
        and {k: v for k, v in conf.items() if k not in ("BACKEND", "LOCATION")} == params
    ]
    return ",".join(found) or "?"


class EncryptedRedisCache(BaseCache):
    """Django cache backend: ``"BACKEND": "keyseal.django.EncryptedRedisCache"``.

    LOCATION: any Vault URL (``rediss://``, ``redis://``, ``unix://``, ``redis+cluster://``,
    ``memory://``). OPTIONS: ``KEYRING`` or ``KEYRING_ENV`` (default ``KEYSEAL_KEYS``),
    ``NAMESPACE``, ``SERIALIZER`` (``"pickle"`` or ``"json"``) and the Vault's connection
    options under redis-py's names. A value that fails to open is a miss plus one WARNING on
    logger ``keyseal.django`` naming the alias.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.alias = _alias_of(server, params)
        self.settings = cache_settings(server, params, self.alias)
        self._serializer = serializer_for(self.settings.serializer)
        # Made (or found) now, so a bad URL or option fails at startup; it connects on first use.
        self.vault: Vault = shared_vault(self.settings, self.alias)

    # -- plumbing

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> float | None:
        """None: keep forever; 0: do not keep (negative counts as 0); else seconds."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        seconds: float = max(0, timeout)
        return seconds

    def validate_key(self, key: str) -> None:
        """Django's memcached-compatibility warnings, with a fast path for the usual clean key
        (Django's check walks the key in Python, one character at a time)."""
        if len(key) <= MEMCACHE_MAX_KEY_LENGTH and not _MEMCACHE_UNFRIENDLY.search(key):
            return
        super().validate_key(key)

    def _names(self, keys: Iterable[Any], version: int | None) -> dict[str, Any]:
        """{Vault name: key} for many keys. With Django's default key function and clean keys
        (the usual case) this is one pass in C over all keys instead of several Python calls each;
        the result is the same as ``_name`` per key."""
        keys = list(keys)
        if self.key_func is not default_key_func:
            return {self._name(key, version): key for key in keys}
        v = self.version if version is None else version
        made = ["%s:%s:%s" % (self.key_prefix, v, key) for key in keys]  # noqa: UP031 - as Django does
        joined = "".join(made)
        # No control character, space or DEL anywhere, nothing Python deems unprintable (so no
        # whitespace at either end of any key), no key over Django's warning length: every key
        # passes validate_key silently and is a valid Vault name as it is.
        if (
            _MEMCACHE_UNFRIENDLY.search(joined)
            or not joined.isprintable()
            or max(map(len, made), default=0) > MEMCACHE_MAX_KEY_LENGTH
        ):
            return {self._name(key, version): key for key in keys}
        return dict(zip(made, keys, strict=True))

    def _name(self, key: Any, version: int | None) -> str:
        return vault_name(self.make_and_validate_key(key, version=version))

    def _warn(self, count: int = 1) -> None:
        # The alias only: keys and values may themselves be sensitive.
        what = "a stored value failed" if count == 1 else f"{count} stored values failed"
        logger.warning(
            "cache %r: %s to open (tampered, moved, or sealed under a key no longer in the keyring); "
            "treated as a miss",
            self.alias,
            what,
        )

    def _load(self, data: bytes | None, default: Any) -> Any:
        if data is None:
            return default
        try:
            return self._serializer.loads(data)
        except ValueError:
            # Sealed under our keys but not in our format (e.g. written through the Vault API).
            self._warn()
            return default

    def _loads_many(self, found: Mapping[str, bytes | None], names: Mapping[str, Any]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        failed = 0
        for name, key in names.items():
            if name not in found:
                continue
            data = found[name]
            if data is None:
                failed += 1
                continue
            try:
                result[key] = self._serializer.loads(data)
            except ValueError:
                failed += 1
        if failed:
            self._warn(failed)
        return result

    def _incr_result(self, value: int | None) -> int:
        if value is None:
            raise ValueError("Key not found.")
        return value

    # -- the BaseCache contract, sync
    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        name = self._name(key, version)
        data = self._serializer.dumps(value)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            # Like Django's RedisCache: report whether the key was free, keep nothing.
            added = self.vault.add(name, data, ttl=1)
            if added:
                self.vault.delete(name)
            return added
        return self.vault.add(name, data, ttl=ttl)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value, _ = self._fetch(self._name(key, version), default)
        return value

    def _fetch(self, name: str, default: Any) -> tuple[Any, bool]:
        """(value or default, whether a stored value failed to open)."""
        try:
            data = self.vault.get_bytes(name)
        except DecryptionError:
            self._warn()
            return default, True
        value = self._load(data, _MISSING)
        if value is _MISSING:
            return default, data is not None
        return value, False

    def get_or_set(
        self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> Any:
        """Django's get_or_set, except that an entry that fails to open is overwritten with the
        fresh value (``add`` would leave it in place and recompute on every call)."""
        value, failed = self._fetch(self._name(key, version), _MISSING)
        if value is not _MISSING:
            return value
        if callable(default):
            default = default()
        if failed:
            self.set(key, default, timeout=timeout, version=version)
            return default
        self.add(key, default, timeout=timeout, version=version)
        # Read again: another caller may have added a value between the get and the add.
        return self.get(key, default, version=version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        name = self._name(key, version)
        data = self._serializer.dumps(value)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            self.vault.delete(name)
        else:
            self.vault.put(name, data, ttl=ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        name = self._name(key, version)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            return self.vault.delete(name)
        return self.vault.touch(name, ttl=ttl)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self.vault.delete(self._name(key, version))

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        names = self._names(keys, version)
        if not names:
            return {}
        found = self.vault.get_many_bytes(list(names), skip_undecryptable=True)
        return self._loads_many(found, names)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self.vault.exists(self._name(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        name = self._name(key, version)
        try:
            value = self.vault.incr(name, delta)
        except DecryptionError:
            self._warn()
            value = None
        except ValueError as exc:
            raise TypeError(f"cannot increment: {exc}") from None
        return self._incr_result(value)

    def set_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        if not data:
            return []
        dumps = self._serializer.dumps
        sealed = {name: dumps(data[key]) for name, key in self._names(data, version).items()}
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            self.vault.delete_many(list(sealed))
        else:
            self.vault.put_many(sealed, ttl=ttl)
        return []

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        names = list(self._names(keys, version))
        if names:
            self.vault.delete_many(names)

    def clear(self) -> None:
        """Delete this cache's namespace only (SCAN + UNLINK; never FLUSHDB)."""
        self.vault.clear()

    def close(self, **kwargs: Any) -> None:
        """Nothing to do: Django calls this after every request, and the client is shared by the
        process (as with Django's RedisCache, connections stay pooled)."""

    # -- async twins on the Vault's Rust futures (Django's defaults would use a thread per call)
    async def aadd(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        name = self._name(key, version)
        data = self._serializer.dumps(value)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            added = await self.vault.aadd(name, data, ttl=1)
            if added:
                await self.vault.adelete(name)
            return added
        return await self.vault.aadd(name, data, ttl=ttl)

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value, _ = await self._afetch(self._name(key, version), default)
        return value

    async def _afetch(self, name: str, default: Any) -> tuple[Any, bool]:
        try:
            data = await self.vault.aget_bytes(name)
        except DecryptionError:
            self._warn()
            return default, True
        value = self._load(data, _MISSING)
        if value is _MISSING:
            return default, data is not None
        return value, False

    async def aget_or_set(
        self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> Any:
        """See ``get_or_set``."""
        value, failed = await self._afetch(self._name(key, version), _MISSING)
        if value is not _MISSING:
            return value
        if callable(default):
            default = default()
        if failed:
            await self.aset(key, default, timeout=timeout, version=version)
            return default
        await self.aadd(key, default, timeout=timeout, version=version)
        return await self.aget(key, default, version=version)

    async def aset(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        name = self._name(key, version)
        data = self._serializer.dumps(value)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            await self.vault.adelete(name)
        else:
            await self.vault.aput(name, data, ttl=ttl)

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        name = self._name(key, version)
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            return await self.vault.adelete(name)
        return await self.vault.atouch(name, ttl=ttl)

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        return await self.vault.adelete(self._name(key, version))

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        names = self._names(keys, version)
        if not names:
            return {}
        found = await self.vault.aget_many_bytes(list(names), skip_undecryptable=True)
        return self._loads_many(found, names)

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        return await self.vault.aexists(self._name(key, version))

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        name = self._name(key, version)
        try:
            value = await self.vault.aincr(name, delta)
        except DecryptionError:
            self._warn()
            value = None
        except ValueError as exc:
            raise TypeError(f"cannot increment: {exc}") from None
        return self._incr_result(value)

    async def aset_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        if not data:
            return []
        dumps = self._serializer.dumps
        sealed = {name: dumps(data[key]) for name, key in self._names(data, version).items()}
        ttl = self.get_backend_timeout(timeout)
        if ttl == 0:
            await self.vault.adelete_many(list(sealed))
        else:
            await self.vault.aput_many(sealed, ttl=ttl)
        return []

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        names = list(self._names(keys, version))
        if names:
            await self.vault.adelete_many(names)

    async def aclear(self) -> None:
        await self.vault.aclear()

    async def aclose(self, **kwargs: Any) -> None:
        """Nothing to do (see ``close``)."""
