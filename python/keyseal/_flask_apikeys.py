"""``require_api_key`` for Flask views (re-exported as ``keyseal.flask.require_api_key``).

The ApiKeys comes from ``api_keys=`` or from ``app.config["KEYSEAL_API_KEYS"]`` (a ``keyseal.ApiKeys``,
a callable returning one, a dotted path to either, or a dict as for Django).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, overload

from flask import Response, current_app, g, jsonify, request

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

__all__ = ["require_api_key"]

_V = TypeVar("_V", bound=Callable[..., Any])
_EXTENSION = "keyseal.apikeys"


def _app_keys() -> ApiKeys:
    cache: SettingCache = current_app.extensions.setdefault(_EXTENSION, SettingCache())
    return cache.get(current_app.config.get("KEYSEAL_API_KEYS"), lambda: 'app.config["KEYSEAL_API_KEYS"]')


def _refuse(status: int, detail: str) -> Response:
    response = jsonify(detail=detail)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
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
    """Admit a request only with a valid API key in ``header`` holding every scope in ``scopes``;
    sets ``flask.g.api_key``. 401 (with ``WWW-Authenticate: APIKey``) or 403 otherwise, as for Django.
    A key bound to a client certificate is checked against ``g.client_cert`` when set."""
    needed = scopes_arg(scopes)

    def keys() -> ApiKeys:
        return api_keys if api_keys is not None else _app_keys()

    def decorate(fn: _V) -> _V:
        if inspect.iscoroutinefunction(fn):
            afn: Callable[..., Awaitable[Any]] = fn

            @functools.wraps(fn)
            async def async_view(*args: Any, **kwargs: Any) -> Any:
                token = request.headers.get(header)
                if not token:
                    return _refuse(401, MISSING_DETAIL)
                try:
                    g.api_key = await keys().averify(token, scopes=needed, client_cert=g.get("client_cert"))
                except ApiKeyError as exc:
                    return _refuse(status_of(exc), detail_of(exc))
                return await afn(*args, **kwargs)

            return async_view  # type: ignore[return-value]

        @functools.wraps(fn)
        def sync_view(*args: Any, **kwargs: Any) -> Any:
            token = request.headers.get(header)
            if not token:
                return _refuse(401, MISSING_DETAIL)
            try:
                g.api_key = keys().verify(token, scopes=needed, client_cert=g.get("client_cert"))
            except ApiKeyError as exc:
                return _refuse(status_of(exc), detail_of(exc))
            return fn(*args, **kwargs)

        return sync_view  # type: ignore[return-value]

    if view is not None:
        return decorate(view)
    return decorate
