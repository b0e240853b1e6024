"""keyseal: keep API keys and other secrets sealed in Redis, and out of your logs.

The work is done in Rust (``keyseal._native``); this package holds the public names, the
exceptions and the framework shims.
"""

from __future__ import annotations

from keyseal._native import Keyring, RewrapProgress, Secret, Vault, __version__
from keyseal.exceptions import (
    ConfigurationError,
    DecryptionError,
    KeysealError,
    StoreAuthError,
    StoreConnectionError,
    StoreError,
    StoreTimeoutError,
)

__all__ = [
    "ConfigurationError",
    "DecryptionError",
    "Keyring",
    "KeysealError",
    "RewrapProgress",
    "Secret",
    "StoreAuthError",
    "StoreConnectionError",
    "StoreError",
    "StoreTimeoutError",
    "Vault",
    "__version__",
]
