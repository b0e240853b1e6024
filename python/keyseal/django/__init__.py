"""keyseal for Django: the ``EncryptedRedisCache`` backend, the app (checks, ``manage.py keyseal``),
``RedactingExceptionReporterFilter``, and the certificate and API key helpers.

Names resolve lazily, so ``import keyseal.django`` needs neither configured settings nor the
optional parts: add ``"keyseal.django"`` to INSTALLED_APPS and point settings at the names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # ClientCertificateMiddleware and require_api_key come from modules other work adds; they
    # resolve through __getattr__ (typed Any) so this file type-checks with or without them.
    from keyseal.django.cache import EncryptedRedisCache
    from keyseal.django.reporting import RedactingExceptionReporter, RedactingExceptionReporterFilter

__all__ = [
    "ClientCertificateMiddleware",
    "EncryptedRedisCache",
    "RedactingExceptionReporter",
    "RedactingExceptionReporterFilter",
    "require_api_key",
]

# public name -> module that defines it (middleware: certs work; apikeys: API key work)
_LAZY = {
    "EncryptedRedisCache": "keyseal.django.cache",
    "RedactingExceptionReporterFilter": "keyseal.django.reporting",
    "RedactingExceptionReporter": "keyseal.django.reporting",
    "ClientCertificateMiddleware": "keyseal.django.middleware",
    "require_api_key": "keyseal.django.apikeys",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keyseal.django' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
