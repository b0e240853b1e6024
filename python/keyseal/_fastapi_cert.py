"""FastAPI dependency for proxied client certificates (exported as keyseal.fastapi.ClientCertificate).

The trusted-proxy check reads ``request.client``. Behind uvicorn started with ``--proxy-headers``
(and ``--forwarded-allow-ips`` covering the proxy), uvicorn replaces ``request.client`` with the
address from ``X-Forwarded-For``, which the client controls: the check would then trust whatever
address the client claims. Run uvicorn without ``--proxy-headers`` in front of this dependency (or
with ``--forwarded-allow-ips`` empty), so ``request.client`` stays the proxy's own address; see
docs/certificates.md for the safe setup.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from fastapi import HTTPException, Request

from keyseal._cert_policy import CertPolicy
from keyseal._native import ClientCertificate as _Certificate

__all__ = ["ClientCertificate"]

logger = logging.getLogger("keyseal.fastapi")

FORBIDDEN_DETAIL = "client certificate required"


class ClientCertificate:
    """A dependency returning the caller's ``keyseal.ClientCertificate`` (None when optional and absent).

    Every refusal raises ``HTTPException(403, "client certificate required")`` and logs one WARNING
    on ``keyseal.fastapi`` with the reason. Bad configuration raises ConfigurationError here, at
    import time of the app, not at the first request.
    """

    def __init__(
        self,
        proxy: str = "nginx",
        header: str | None = None,
        verify_header: str | None = None,
        trusted_proxies: Iterable[str] = (),
        ca_bundle: str | os.PathLike[str] | None = None,
        allowed_fingerprints: Iterable[str] = (),
        allowed_subjects: Iterable[str] = (),
        allowed_sans: Iterable[str] = (),
        required: bool = True,
    ) -> None:
        self.policy = CertPolicy(
            proxy=proxy,
            header=header,
            verify_header=verify_header,
            trusted_proxies=trusted_proxies,
            ca_bundle=ca_bundle,
            allowed_fingerprints=allowed_fingerprints,
            allowed_subjects=allowed_subjects,
            allowed_sans=allowed_sans,
            required=required,
        )

    async def __call__(self, request: Request) -> _Certificate | None:
        peer = request.client.host if request.client is not None else None
        outcome = self.policy.evaluate(peer, request.headers.get)
        if outcome.refusal is not None:
            logger.warning(
                "client certificate refused for %s %s: %s",
                request.method,
                request.url.path,
                outcome.refusal,
            )
            raise HTTPException(status_code=403, detail=FORBIDDEN_DETAIL)
        return outcome.cert
