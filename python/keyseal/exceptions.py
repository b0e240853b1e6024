"""keyseal's exception hierarchy: one base class, distinct documented subclasses."""

from __future__ import annotations

__all__ = [
    "ApiKeyError",
    "CertificateError",
    "ConfigurationError",
    "DecryptionError",
    "InsufficientScope",
    "InvalidApiKey",
    "KeysealError",
    "StoreAuthError",
    "StoreConnectionError",
    "StoreError",
    "StoreTimeoutError",
]


class KeysealError(Exception):
    """Base class of every error keyseal raises on purpose."""


class DecryptionError(KeysealError):
    """An envelope could not be opened.

    Raised for tampered, truncated, swapped (moved to another name or namespace), wrong-key,
    unknown-key-id, unknown-version and garbage input alike. The message is fixed and never holds
    any of the input bytes: telling these cases apart would help an attacker, not a caller.
    """


class ConfigurationError(KeysealError):
    """A setting is unsafe, inconsistent or missing (e.g. plaintext Redis to a remote host)."""


class StoreError(KeysealError):
    """The backing store (Redis) failed. Messages never include passwords or secret values."""


class StoreConnectionError(StoreError, ConnectionError):
    """Redis could not be reached, or the connection broke."""


class StoreAuthError(StoreError, PermissionError):
    """Redis refused the credentials, or the ACL user lacks a permission."""


class StoreTimeoutError(StoreError, TimeoutError):
    """Redis did not answer within the configured timeout."""


class CertificateError(KeysealError):
    """A client certificate header could not be read, or the certificate failed verification.

    The message is fixed: it names the proxy format and the failed check, never the header bytes.
    """


class ApiKeyError(KeysealError):
    """An API key was refused (see :class:`InvalidApiKey` and :class:`InsufficientScope`)."""


class InvalidApiKey(ApiKeyError):
    """The API key is unknown, malformed, has a bad checksum, is revoked or expired, or is bound to
    another client certificate (or presented without one).

    One fixed message for all of these, never the token: telling them apart helps an attacker.
    Answer it with 401.
    """

    # Set (not in the message) when only the client-certificate binding failed: the framework
    # glue answers that with 403, as for a scope.
    _certificate_mismatch: bool = False


class InsufficientScope(ApiKeyError):
    """A valid API key lacks a required scope; the message names the missing scopes only.

    Not an :class:`InvalidApiKey`: answer it with 403.
    """

    #: The required scopes the key lacks, sorted.
    missing_scopes: tuple[str, ...] = ()
