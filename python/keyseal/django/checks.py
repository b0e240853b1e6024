"""System checks of the keyseal app, under ``Tags.security``, with stable ids.

- keyseal.E001: a keyseal cache has no usable keyring.
- keyseal.E002: a keyseal cache's CACHES entry is otherwise invalid.
- keyseal.W001: a keyseal cache switches TLS verification off.
- keyseal.W002: a keyseal cache allows plaintext Redis to a host that is not loopback.
- keyseal.W003: LOGGING handlers that do not pass through ``keyseal.RedactingFilter``.
- keyseal.W004 (deploy): a plain RedisCache or django-redis cache reaches a remote host without TLS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from keyseal.django.conf import KeyringMissing, cache_settings, is_keyseal_backend

__all__ = [
    "check_keyseal_caches",
    "check_logging_redaction",
    "check_plain_redis_caches",
    "hosts_of",
    "is_loopback",
]

_PLAIN_REDIS_BACKENDS = frozenset(
    {"django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache"}
)
_FILTER_PATHS = frozenset({"keyseal.RedactingFilter", "keyseal.logging.RedactingFilter"})
_LOCAL_SCHEMES = frozenset({"unix", "memory"})


def hosts_of(url: str) -> list[str]:
    """Host names of a Redis URL; a cluster URL may list several ``host:port`` seeds."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    hosts = []
    for seed in netloc.split(","):
        seed = seed.strip()
        if seed.startswith("["):
            hosts.append(seed[1:].partition("]")[0])
        elif seed:
            hosts.append(seed.rpartition(":")[0] if seed.count(":") == 1 else seed)
    return hosts


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _urls(location: Any, *, split: bool) -> list[str]:
    """LOCATION as URLs: Django's RedisCache splits a string on ',' and ';' (a keyseal cluster URL
    keeps its commas: they separate seed nodes)."""
    if isinstance(location, str):
        return [u for u in re.split("[;,]", location) if u] if split else [location]
    if isinstance(location, list | tuple):
        return [u for u in location if isinstance(u, str)]
    return []


def _remote_plaintext(url: str) -> bool:
    scheme = urlsplit(url).scheme.lower()
    if scheme in _LOCAL_SCHEMES or scheme.startswith("rediss"):
        return False
    return any(not is_loopback(h) for h in hosts_of(url))


def _caches() -> Mapping[str, Mapping[str, Any]]:
    caches: Mapping[str, Mapping[str, Any]] = getattr(settings, "CACHES", {}) or {}
    return caches


@register(Tags.security)
def check_keyseal_caches(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, E002, W001, W002 for every keyseal cache."""
    messages: list[CheckMessage] = []
    for alias, conf in _caches().items():
        if not is_keyseal_backend(conf.get("BACKEND")):
            continue
        where = f"CACHES[{alias!r}]"
        try:
            cache_settings(conf.get("LOCATION", ""), conf, alias)
        except KeyringMissing as exc:
            messages.append(
                Error(
                    f"{where} has no usable keyring.",
                    hint=f"{exc} Keep the keyring text in your secrets manager, never in the repository.",
                    id="keyseal.E001",
                )
            )
        except ImproperlyConfigured as exc:
            messages.append(Error(f"{where} is not a valid keyseal cache.", hint=str(exc), id="keyseal.E002"))
        options = conf.get("OPTIONS") or {}
        if not isinstance(options, Mapping):
            continue
        if str(options.get("ssl_cert_reqs", "required")).lower() == "none" or (
            options.get("ssl_check_hostname", True) is False
        ):
            messages.append(
                Warning(
                    f"{where} switches TLS verification off "
                    "(ssl_cert_reqs='none' or ssl_check_hostname=False).",
                    hint="Anyone on the path can impersonate Redis. Give the server's CA with ssl_ca_certs "
                    "and leave ssl_cert_reqs and ssl_check_hostname at their defaults.",
                    id="keyseal.W001",
                )
            )
        location = conf.get("LOCATION", "")
        if options.get("allow_plaintext") and any(_remote_plaintext(u) for u in _urls(location, split=False)):
            messages.append(
                Warning(
                    f"{where} sends sealed values and Redis credentials in plaintext to a host that is not "
                    "loopback (allow_plaintext=True).",
                    hint="Use a rediss:// URL (TLS) and drop allow_plaintext.",
                    id="keyseal.W002",
                )
            )
    return messages


def _is_redacting_filter(spec: Any) -> bool:
    from keyseal.logging import RedactingFilter

    if isinstance(spec, RedactingFilter):
        return True
    if isinstance(spec, Mapping):
        factory = spec.get("()")
        if isinstance(factory, str):
            return factory in _FILTER_PATHS
        return isinstance(factory, type) and issubclass(factory, RedactingFilter)
    return False


@register(Tags.security)
def check_logging_redaction(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """W003: every handler LOGGING declares passes through keyseal.RedactingFilter."""
    config = getattr(settings, "LOGGING", None) or {}
    if not isinstance(config, Mapping):
        return []
    filters = config.get("filters") or {}
    redacting = {name for name, spec in filters.items() if _is_redacting_filter(spec)}
    bare = []
    for name, handler in (config.get("handlers") or {}).items():
        used = handler.get("filters") or [] if isinstance(handler, Mapping) else []
        if not any((f in redacting) if isinstance(f, str) else _is_redacting_filter(f) for f in used):
            bare.append(str(name))
    if not bare:
        return []
    return [
        Warning(
            f"LOGGING handlers {', '.join(sorted(bare))} do not pass through keyseal.RedactingFilter.",
            hint="Add a filter {'()': 'keyseal.RedactingFilter'} under LOGGING['filters'] and list it in "
            "each handler's 'filters', so secrets and tokens never reach a log verbatim.",
            id="keyseal.W003",
        )
    ]


@register(Tags.security, deploy=True)
def check_plain_redis_caches(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """W004: Django's RedisCache or django-redis pointed at a remote host without TLS."""
    messages: list[CheckMessage] = []
    for alias, conf in _caches().items():
        if conf.get("BACKEND") not in _PLAIN_REDIS_BACKENDS:
            continue
        if any(_remote_plaintext(u) for u in _urls(conf.get("LOCATION", ""), split=True)):
            messages.append(
                Warning(
                    f"CACHES[{alias!r}] ({conf.get('BACKEND')}) reaches a Redis host that is not loopback "
                    "without TLS: values and the Redis password cross the network in plaintext.",
                    hint="Use a rediss:// URL, or keyseal.django.EncryptedRedisCache, which also seals "
                    "every value and refuses plaintext to remote hosts.",
                    id="keyseal.W004",
                )
            )
    return messages
