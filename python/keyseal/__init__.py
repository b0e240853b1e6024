"""keyseal: keep API keys and other secrets sealed in Redis, and out of your logs.

The work is done in Rust (``keyseal._native``); this package holds the public names, the
exceptions and the framework shims.
"""

from __future__ import annotations

import logging as _logging

from keyseal._native import (
    ApiKey,
    ApiKeys,
    ClientCertificate,
    Finding,
    IssuedKey,
    Keyring,
    Redactor,
    RewrapProgress,
    Secret,
    Vault,
    __version__,
    redactor,
)
from keyseal.exceptions import (
    ApiKeyError,
    CertificateError,
    ConfigurationError,
    DecryptionError,
    InsufficientScope,
    InvalidApiKey,
    KeysealError,
    StoreAuthError,
    StoreConnectionError,
    StoreError,
    StoreTimeoutError,
)
from keyseal.logging import RedactingFilter

__all__ = [
    "ApiKey",
    "ApiKeyError",
    "ApiKeys",
    "CertificateError",
    "ClientCertificate",
    "ConfigurationError",
    "DecryptionError",
    "Finding",
    "InsufficientScope",
    "InvalidApiKey",
    "IssuedKey",
    "Keyring",
    "KeysealError",
    "RedactingFilter",
    "Redactor",
    "RewrapProgress",
    "Secret",
    "StoreAuthError",
    "StoreConnectionError",
    "StoreError",
    "StoreTimeoutError",
    "Vault",
    "__version__",
    "redactor",
]

# keyseal's own log records (Python and, through pyo3-log, Rust) pass through the redactor before
# any handler sees them. Filters on a logger apply only to records logged on that very logger, so
# each logger keyseal writes to gets one.
_OWN_LOGGERS = (
    "keyseal",
    "keyseal.core",
    "keyseal.core.store.redis",
    "keyseal.core.vault",
    "keyseal.core.redact",
    "keyseal.py",
)
for _name in _OWN_LOGGERS:
    _logging.getLogger(_name).addFilter(RedactingFilter())
del _name
