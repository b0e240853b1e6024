"""``RequireApiKey`` for FastAPI (re-exported as ``keyseal.fastapi.RequireApiKey``).

Built on ``fastapi.security.APIKeyHeader``, so the OpenAPI document shows the ``apiKey`` security
scheme. The ApiKeys comes from ``api_keys=`` or from ``app.state.keyseal_api_keys``; a key bound to a
client certificate is checked against ``request.state.client_cert`` when set.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, Request
from fastapi.security import APIKeyHeader

from keyseal._apikey_glue import (
    DEFAULT_HEADER,
    MISSING_DETAIL,
    WWW_AUTHENTICATE,
    detail_of,
    scopes_arg,
    status_of,
)
from keyseal._native import ApiKey, ApiKeys
from keyseal.exceptions import ApiKeyError, ConfigurationError

__all__ = ["RequireApiKey"]


class RequireApiKey(APIKeyHeader):
    """A dependency returning the verified :class:`keyseal.ApiKey`.

    ``Annotated[ApiKey, Security(RequireApiKey(scopes=["read"]))]``. Missing or invalid key: 401 with
    ``WWW-Authenticate: APIKey``; missing scope or certificate mismatch: 403.
    """

    def __init__(
        self,
        *,
        scopes: Iterable[str] | str = (),
        name: str = DEFAULT_HEADER,
        api_keys: ApiKeys | None = None,
        scheme_name: str | None = "APIKey",
        description: str | None = "An API key issued by keyseal.ApiKeys",
    ) -> None:
        super().__init__(name=name, scheme_name=scheme_name, description=description, auto_error=False)
        self.scopes = scopes_arg(scopes)
        self.api_keys = api_keys

    def _keys(self, request: Request) -> ApiKeys:
        keys = (
            self.api_keys
            if self.api_keys is not None
            else getattr(request.app.state, "keyseal_api_keys", None)
        )
        if not isinstance(keys, ApiKeys):
            raise ConfigurationError(
                "RequireApiKey needs api_keys= or app.state.keyseal_api_keys (a keyseal.ApiKeys)"
            )
        return keys

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        token = request.headers.get(self.model.name)
        if not token:
            raise HTTPException(401, MISSING_DETAIL, headers={"WWW-Authenticate": WWW_AUTHENTICATE})
        try:
            return await self._keys(request).averify(
                token, scopes=self.scopes, client_cert=getattr(request.state, "client_cert", None)
            )
        except ApiKeyError as exc:
            status = status_of(exc)
            headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
            raise HTTPException(status, detail_of(exc), headers=headers) from None
