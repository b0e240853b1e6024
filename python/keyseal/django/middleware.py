"""Django middleware for client certificates forwarded by a TLS-terminating proxy (mutual TLS).

Configured by the ``KEYSEAL_CLIENT_CERT`` setting; see docs/certificates.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from keyseal._cert_policy import CertPolicy
from keyseal.exceptions import ConfigurationError

__all__ = ["SETTING", "ClientCertificateMiddleware", "policy_from_settings"]

SETTING = "KEYSEAL_CLIENT_CERT"

# Setting keys and the CertPolicy argument each one feeds.
_KEYS = {
    "PROXY": "proxy",
    "HEADER": "header",
    "VERIFY_HEADER": "verify_header",
    "TRUSTED_PROXIES": "trusted_proxies",
    "CA_BUNDLE": "ca_bundle",
    "ALLOWED_FINGERPRINTS": "allowed_fingerprints",
    "ALLOWED_SUBJECTS": "allowed_subjects",
    "ALLOWED_SANS": "allowed_sans",
    "REQUIRED": "required",
    "EXEMPT_PATHS": "exempt_paths",
}

FORBIDDEN_BODY = "client certificate required"

logger = logging.getLogger("keyseal.django")

_lock = threading.Lock()
_cached: CertPolicy | None = None


def policy_from_settings() -> CertPolicy:
    """The policy KEYSEAL_CLIENT_CERT describes; ConfigurationError for a bad value."""
    conf: Any = getattr(settings, SETTING, None)
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        raise ConfigurationError(f"{SETTING} must be a dict")
    unknown = sorted(set(conf) - set(_KEYS))
    if unknown:
        raise ConfigurationError(f"{SETTING} has unknown keys: {', '.join(map(str, unknown))}")
    kwargs = {_KEYS[k]: v for k, v in conf.items() if v is not None or k in ("HEADER", "VERIFY_HEADER")}
    return CertPolicy(**kwargs)


def _policy() -> CertPolicy:
    """Built once, rebuilt when the setting changes (override_settings sends setting_changed)."""
    global _cached
    with _lock:
        if _cached is None:
            try:
                _cached = policy_from_settings()
            except ConfigurationError as exc:
                raise ImproperlyConfigured(str(exc)) from None
        return _cached


def _reset(*, setting: str, **_: Any) -> None:
    global _cached
    if setting == SETTING:
        with _lock:
            _cached = None


setting_changed.connect(_reset, dispatch_uid="keyseal.django.middleware.reset")


class ClientCertificateMiddleware:
    """Sets ``request.client_cert`` (a ``keyseal.ClientCertificate`` or None), or answers 403.

    The header is believed only from peers in TRUSTED_PROXIES; every refusal is the same 403 body
    and one WARNING on the ``keyseal.django`` logger giving the reason (never the header bytes).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        _policy()  # a bad setting fails at start-up, not at the first request

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        policy = _policy()
        request.client_cert = None
        if policy.is_exempt(request.path):
            return None
        outcome = policy.evaluate(request.META.get("REMOTE_ADDR"), request.headers.get)
        if outcome.refusal is not None:
            logger.warning(
                "client certificate refused for %s %s: %s",
                request.method,
                request.path,
                outcome.refusal,
            )
            return HttpResponseForbidden(FORBIDDEN_BODY, content_type="text/plain; charset=utf-8")
        request.client_cert = outcome.cert
        return None

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        refused = self._check(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        # Parsing is cached and verification releases the GIL, so this runs inline.
        refused = self._check(request)
        if refused is not None:
            return refused
        response: Awaitable[Any] = self.get_response(request)
        return await response
