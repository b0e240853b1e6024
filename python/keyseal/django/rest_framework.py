"""Django REST framework: ``ApiKeyAuthentication`` and ``HasScopes`` over :class:`keyseal.ApiKeys`.

The ApiKeys comes from the ``KEYSEAL_API_KEYS`` setting (see :mod:`keyseal.django.apikeys`), or from an
``api_keys`` attribute on a subclass.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.authentication import BaseAuthentication  # type: ignore[import-untyped,unused-ignore]
from rest_framework.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    AuthenticationFailed,
    PermissionDenied,
)
from rest_framework.permissions import BasePermission  # type: ignore[import-untyped,unused-ignore]

from keyseal._apikey_glue import DEFAULT_HEADER, WWW_AUTHENTICATE, detail_of, status_of
from keyseal._native import ApiKey, ApiKeys
from keyseal.django.apikeys import api_keys_from_settings
from keyseal.exceptions import InvalidApiKey

__all__ = ["ApiKeyAuthentication", "ApiKeyUser", "HasScopes"]


class ApiKeyUser:
    """``request.user`` for a request authenticated by an API key: the key's owner, not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.owner = api_key.owner
        self.username = api_key.owner

    def __str__(self) -> str:
        return self.owner

    def __repr__(self) -> str:
        return f"ApiKeyUser(owner={self.owner!r}, key_id={self.api_key.key_id!r})"


class ApiKeyAuthentication(BaseAuthentication):  # type: ignore[misc,unused-ignore]
    """``request.user`` is an :class:`ApiKeyUser`, ``request.auth`` the :class:`keyseal.ApiKey`.

    No header: not attempted (DRF answers 401 with ``WWW-Authenticate: APIKey`` if the view needs
    authentication). Invalid key: 401. Key bound to another client certificate than
    ``request.client_cert``: 403.
    """

    header: ClassVar[str] = DEFAULT_HEADER
    api_keys: ClassVar[ApiKeys | None] = None

    def _keys(self) -> ApiKeys:
        return self.api_keys if self.api_keys is not None else api_keys_from_settings()

    def authenticate(self, request: Any) -> tuple[ApiKeyUser, ApiKey] | None:
        token = request.headers.get(self.header)
        if not token:
            return None
        try:
            key = self._keys().verify(token, client_cert=getattr(request, "client_cert", None))
        except InvalidApiKey as exc:
            if status_of(exc) == 403:
                raise PermissionDenied(detail_of(exc)) from None
            raise AuthenticationFailed(detail_of(exc)) from None
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Any) -> str:
        return WWW_AUTHENTICATE


class HasScopes(BasePermission):  # type: ignore[misc,unused-ignore]
    """The request's API key holds every scope in the view's ``required_scopes`` (and the class's,
    for ``HasScopes.require("a", "b")``). Checked on the key already verified: no Redis command."""

    required_scopes: ClassVar[tuple[str, ...]] = ()
    message = "API key lacks required scope(s)"

    @classmethod
    def require(cls, *scopes: str) -> type[HasScopes]:
        """A HasScopes that asks for these scopes whatever the view says."""
        return type("HasScopes", (cls,), {"required_scopes": cls.required_scopes + scopes})

    def has_permission(self, request: Any, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = set(self.required_scopes) | set(getattr(view, "required_scopes", ()))
        missing = sorted(needed - key.scopes)
        if missing:
            self.message = f"API key lacks required scope(s): {', '.join(missing)}"
            return False
        return True
