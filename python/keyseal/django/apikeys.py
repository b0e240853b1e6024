"""``require_api_key``: a Django view decorator (sync and async views) over :class:`keyseal.ApiKeys`.

The ApiKeys comes from ``api_keys=`` or from the ``KEYSEAL_API_KEYS`` setting: a ``keyseal.ApiKeys``,
a callable returning one, a dotted path to either, or a dict (``URL``, ``PREFIX``, ``NAMESPACE``,
``KEYS_ENV`` or ``KEYRING``, ``OPTIONS`` for the Vault).
"""

from __future__ import annotations

import argparse
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, overload

from keyseal._apikey_glue import (
    DEFAULT_HEADER,
    MISSING_DETAIL,
    WWW_AUTHENTICATE,
    SettingCache,
    detail_of,
    scopes_arg,
    status_of,
)
from keyseal._native import ApiKeys
from keyseal.exceptions import ApiKeyError

__all__ = ["api_keys_from_settings", "register_apikey_command", "require_api_key"]

_V = TypeVar("_V", bound=Callable[..., Any])
_cache = SettingCache()


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    # override_settings and friends: the next request builds the ApiKeys of the new value, and the
    # old one is let go rather than kept (with its connections) for the life of the process.
    if setting == "KEYSEAL_API_KEYS":
        _cache.clear()


def _connect() -> None:
    from django.core.signals import setting_changed  # type: ignore[import-untyped,unused-ignore]

    setting_changed.connect(_setting_changed, dispatch_uid="keyseal.django.apikeys")


_connect()


def api_keys_from_settings() -> ApiKeys:
    """The ApiKeys the ``KEYSEAL_API_KEYS`` setting describes (built once per setting value)."""
    from django.conf import settings  # type: ignore[import-untyped,unused-ignore]

    return _cache.get(getattr(settings, "KEYSEAL_API_KEYS", None), lambda: "settings.KEYSEAL_API_KEYS")


def _response(status: int, detail: str) -> Any:
    from django.http import JsonResponse  # type: ignore[import-untyped,unused-ignore]

    response = JsonResponse({"detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


@overload
def require_api_key(view: _V, /) -> _V: ...
@overload
def require_api_key(
    *,
    scopes: Iterable[str] | str = (),
    header: str = DEFAULT_HEADER,
    api_keys: ApiKeys | None = None,
) -> Callable[[_V], _V]: ...
def require_api_key(
    view: _V | None = None,
    /,
    *,
    scopes: Iterable[str] | str = (),
    header: str = DEFAULT_HEADER,
    api_keys: ApiKeys | None = None,
) -> _V | Callable[[_V], _V]:
    """Admit a request only with a valid API key in ``header`` holding every scope in ``scopes``.

    Sets ``request.api_key`` (a :class:`keyseal.ApiKey`). Missing or invalid key: 401 with
    ``WWW-Authenticate: APIKey``. Missing scope, or a key bound to a client certificate other than
    ``request.client_cert`` (set by ``keyseal.django.ClientCertificateMiddleware``): 403.
    """
    needed = scopes_arg(scopes)

    def keys() -> ApiKeys:
        return api_keys if api_keys is not None else api_keys_from_settings()

    def decorate(fn: _V) -> _V:
        if inspect.iscoroutinefunction(fn):
            afn: Callable[..., Awaitable[Any]] = fn

            @functools.wraps(fn)
            async def async_view(request: Any, *args: Any, **kwargs: Any) -> Any:
                token = request.headers.get(header)
                if not token:
                    return _response(401, MISSING_DETAIL)
                try:
                    key = await keys().averify(
                        token, scopes=needed, client_cert=getattr(request, "client_cert", None)
                    )
                except ApiKeyError as exc:
                    return _response(status_of(exc), detail_of(exc))
                request.api_key = key
                return await afn(request, *args, **kwargs)

            return async_view  # type: ignore[return-value]

        @functools.wraps(fn)
        def sync_view(request: Any, *args: Any, **kwargs: Any) -> Any:
            token = request.headers.get(header)
            if not token:
                return _response(401, MISSING_DETAIL)
            try:
                key = keys().verify(token, scopes=needed, client_cert=getattr(request, "client_cert", None))
            except ApiKeyError as exc:
                return _response(status_of(exc), detail_of(exc))
            request.api_key = key
            return fn(request, *args, **kwargs)

        return sync_view  # type: ignore[return-value]

    if view is not None:
        return decorate(view)
    return decorate


def register_apikey_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``apikey issue|list|revoke|rotate`` to a parser's subcommands, on the ``KEYSEAL_API_KEYS``
    setting: what ``manage.py keyseal apikey ...`` runs (handlers take the parsed Namespace, return
    an exit status)."""
    from keyseal._apikey_cli import register

    register(subparsers, api_keys=api_keys_from_settings)
