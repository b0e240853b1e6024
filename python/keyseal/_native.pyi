"""Type stubs for the compiled core, ``keyseal._native``. Import the names from ``keyseal``."""

import builtins
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from os import PathLike
from typing import Any, Literal, NoReturn, Protocol, final

__version__: str
__all__ = [
    "ApiKey",
    "ApiKeys",
    "ClientCertificate",
    "Finding",
    "IssuedKey",
    "Keyring",
    "Redactor",
    "RewrapProgress",
    "Secret",
    "Vault",
    "_LoopBridge",
    "__version__",
    "audit_probe",
    "redactor",
]

_SecretLike = str | bytes | "Secret"
_Seconds = float | int | timedelta

@final
class Secret:
    """A secret value: masked in str/repr/format, constant-time ``==``, refuses pickling."""

    def __new__(cls, value: _SecretLike) -> Secret: ...
    def reveal(self) -> str:
        """The value as text (registered with the process-wide redactor). ValueError if not UTF-8."""

    def reveal_bytes(self) -> bytes:
        """The value as bytes (registered with the process-wide redactor)."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> NoReturn: ...
    def __bool__(self) -> bool: ...
    def __format__(self, spec: str, /) -> str: ...
    def __reduce__(self) -> NoReturn: ...

@final
class Keyring:
    """Ordered AES-256-GCM keys (the first seals, all open) and a long-lived naming key."""

    @staticmethod
    def generate() -> Keyring: ...
    @staticmethod
    def from_string(text: str) -> Keyring: ...
    @staticmethod
    def from_env(var: str = "KEYSEAL_KEYS") -> Keyring: ...
    @staticmethod
    def from_passphrase(
        passphrase: str | bytes | Secret,
        *,
        salt: bytes | str,
        memory_cost: int = 65536,
        time_cost: int = 3,
        parallelism: int = 4,
        allow_weak_parameters: bool = False,
    ) -> Keyring: ...
    def export(self) -> str: ...
    def rotated(self) -> Keyring: ...
    def without(self, key_id: str) -> Keyring: ...
    def only(self, key_id: str) -> Keyring:
        """A keyring of ``key_id`` alone, same naming key: opens only what that key sealed."""

    @property
    def primary_id(self) -> str: ...
    @property
    def key_ids(self) -> list[str]: ...
    def seal(self, plaintext: _SecretLike, *, context: bytes | str | None = None) -> bytes: ...
    def open(self, envelope: bytes, *, context: bytes | str | None = None) -> bytes: ...
    def __reduce__(self) -> NoReturn: ...

@final
class RewrapProgress:
    """Counters passed to a ``rewrap(progress=...)`` callback after every batch."""

    @property
    def scanned(self) -> int: ...
    @property
    def rewrapped(self) -> int: ...
    @property
    def current(self) -> int: ...
    @property
    def raced(self) -> int: ...
    @property
    def failed(self) -> int: ...

@final
class Vault:
    """Sealed secrets in a store: ``memory://``, ``redis://``, ``rediss://``, ``redis+cluster://``,
    ``rediss+cluster://`` or ``unix://``."""

    def __new__(
        cls,
        url: str = "memory://",
        *,
        keyring: Keyring,
        namespace: str = "default",
        default_ttl: _Seconds | None = None,
        key_prefix: str = "ks",
        max_value_size: int = 1048576,
        username: str | None = None,
        password: str | bytes | Secret | None = None,
        ssl_ca_certs: str | PathLike[str] | None = None,
        ssl_certfile: str | PathLike[str] | None = None,
        ssl_keyfile: str | PathLike[str] | None = None,
        ssl_check_hostname: bool | None = None,
        ssl_cert_reqs: str | None = None,
        socket_timeout: _Seconds | None = None,
        socket_connect_timeout: _Seconds | None = None,
        allow_plaintext: bool = False,
        max_idle_connections: int | None = None,
    ) -> Vault: ...
    @property
    def namespace(self) -> str: ...
    @property
    def default_ttl(self) -> float | None: ...
    @property
    def max_value_size(self) -> int: ...
    def put(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> None:
        """Seal and store ``secret`` under ``name``.

        ``ttl``: seconds (int, float or timedelta) until it expires; left out, the vault's
        ``default_ttl``; ``None``, never. ``ttl`` must be positive and at most 100 years: ``0``, a
        negative number, NaN or anything longer raises ``ValueError`` and nothing is written (the same
        on every store, and for ``put_many``, ``add``, ``touch`` and the async twins). A cache that
        maps "timeout 0" to "do not keep" must delete instead.
        """

    def aput(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> Awaitable[None]: ...
    def put_many(self, mapping: Mapping[str, _SecretLike], *, ttl: _Seconds | None = ...) -> None: ...
    def aput_many(
        self, mapping: Mapping[str, _SecretLike], *, ttl: _Seconds | None = ...
    ) -> Awaitable[None]: ...
    def get(self, name: str) -> Secret | None: ...
    def aget(self, name: str) -> Awaitable[Secret | None]: ...
    def get_many(self, names: Iterable[str]) -> dict[str, Secret]: ...
    def aget_many(self, names: Iterable[str]) -> Awaitable[dict[str, Secret]]: ...
    def get_bytes(self, name: str) -> bytes | None:
        """The plaintext as ``bytes``, or None when ``name`` is missing or expired.

        Meant for caches: unlike ``get``, the value is not registered with the process-wide redactor
        (cache payloads would flood it). Raises ``DecryptionError`` when the stored value fails to open.
        """

    def aget_bytes(self, name: str) -> Awaitable[bytes | None]: ...
    def get_many_bytes(
        self, names: Iterable[str], *, skip_undecryptable: bool = False
    ) -> dict[str, bytes | None]:
        """``{name: plaintext bytes}`` for the names found; missing names are left out.

        A present value that fails to open raises ``DecryptionError``; with ``skip_undecryptable=True``
        it maps to ``None`` instead (a cache counts it as a miss, logs a warning and overwrites it).
        Not registered with the redactor, as for ``get_bytes``.
        """

    def aget_many_bytes(
        self, names: Iterable[str], *, skip_undecryptable: bool = False
    ) -> Awaitable[dict[str, bytes | None]]: ...
    def incr(self, name: str, delta: int = 1) -> int | None:
        """Atomically add ``delta`` to the sealed ASCII decimal integer under ``name``; the new value.

        The value must be ``-?[0-9]+`` fitting a signed 64-bit integer. Open, add, seal, then a
        compare-and-swap on the envelope (retried when another writer won), keeping the TTL.
        None when ``name`` is missing; ``ValueError`` (without the value) when it is not such an
        integer or the sum overflows; ``DecryptionError`` when it fails to open.
        """

    def aincr(self, name: str, delta: int = 1) -> Awaitable[int | None]: ...
    def delete_many(self, names: Iterable[str]) -> int:
        """Delete several names; returns how many existed."""

    def adelete_many(self, names: Iterable[str]) -> Awaitable[int]: ...
    def add(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> bool:
        """Store only if ``name`` is absent (atomic on Redis: SET NX); True if stored."""

    def aadd(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> Awaitable[bool]: ...
    def touch(self, name: str, *, ttl: _Seconds | None = ...) -> bool:
        """Give ``name`` a new expiry (``ttl=None``: never expire); True if ``name`` exists."""

    def atouch(self, name: str, *, ttl: _Seconds | None = ...) -> Awaitable[bool]: ...
    def clear(self) -> int:
        """Delete every secret of this namespace (SCAN + UNLINK, never FLUSHDB); returns how many."""

    def aclear(self) -> Awaitable[int]: ...
    def delete(self, name: str) -> bool: ...
    def adelete(self, name: str) -> Awaitable[bool]: ...
    def exists(self, name: str) -> bool: ...
    def aexists(self, name: str) -> Awaitable[bool]: ...
    def ttl(self, name: str) -> float | None:
        """Seconds left; ``math.inf`` when the secret never expires; ``None`` when it is missing."""

    def attl(self, name: str) -> Awaitable[float | None]: ...
    def rewrap(
        self, *, batch_size: int = 1000, progress: Callable[[RewrapProgress], Any] | None = None
    ) -> int: ...
    def arewrap(
        self, *, batch_size: int = 1000, progress: Callable[[RewrapProgress], Any] | None = None
    ) -> Awaitable[int]: ...
    def close(self) -> None: ...
    def aclose(self) -> Awaitable[None]: ...
    def __enter__(self) -> Vault: ...
    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool: ...
    def __reduce__(self) -> NoReturn: ...

@final
class _LoopBridge:
    """Internal: hands results from Rust tasks to one asyncio loop (see ``keyseal._aio``)."""

    def __new__(cls) -> _LoopBridge: ...
    def fileno(self) -> int: ...
    def drain(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None:
        """Drop pending results and close the descriptors (the loop was closed)."""

@final
class Finding:
    """Where a secret is: rule id and span (code points for str input, bytes for bytes). Never the secret."""

    kind: str
    start: int
    end: int
    def __new__(cls, kind: str, start: int, end: int) -> Finding: ...
    def __iter__(self) -> Iterator[str | int]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Redactor:
    """Replaces secrets in text, bytes and nested objects: token formats, URL credentials,
    auth headers, ``key=value`` pairs and exact known values (also base64-, URL- and JSON-encoded).
    """

    def __new__(
        cls,
        *,
        mode: Literal["mask", "partial", "fingerprint"] = "mask",
        partial_tail: int = 4,
        fingerprint_key: bytes | None = None,
        disable: Iterable[str] | None = None,
        custom_rules: Iterable[tuple[str, str] | tuple[str, str, list[str]]] | None = None,
        use_known: bool = True,
    ) -> Redactor: ...
    def redact(self, text: str) -> str:
        """``text`` with secrets replaced; the same object when nothing was found."""

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with secrets replaced; the same object when nothing was found."""

    def redact_obj(self, obj: Any) -> Any:
        """A redacted copy of dicts, lists, tuples and sets (nested); the input is not changed."""

    def scan(self, text: str | bytes) -> list[Finding]: ...
    def add_secret(self, value: str | bytes | Secret) -> bool:
        """Register an exact value; False (ignored) when shorter than 6 bytes."""

    def remove_secret(self, value: str | bytes | Secret) -> bool: ...
    @property
    def rule_ids(self) -> list[str]: ...
    @property
    def known_count(self) -> int: ...
    def redact_window(self, data: bytes, emit_from: int, emit_to: int) -> tuple[bytes, int]:
        """Streaming helper: redacted ``data[emit_from:end]`` and ``end >= emit_to``."""

    def scan_window(self, data: bytes, emit_from: int, emit_to: int) -> tuple[list[Finding], int]: ...
    @staticmethod
    def is_sensitive_key(name: str) -> bool: ...
    @staticmethod
    def catalogue() -> list[tuple[str, list[str], str]]:
        """Every built-in rule as ``(id, anchors, pattern)``; ``keyseal_api_key`` (last) lists the API
        key prefixes registered so far."""

def redactor() -> Redactor:
    """The process-wide redactor; every revealed ``Secret`` is registered with it."""

def audit_probe(
    url: str,
    *,
    username: str | None = None,
    password: str | bytes | Secret | None = None,
    ssl_ca_certs: str | PathLike[str] | None = None,
    ssl_certfile: str | PathLike[str] | None = None,
    ssl_keyfile: str | PathLike[str] | None = None,
    ssl_check_hostname: bool | None = None,
    ssl_cert_reqs: str | None = None,
    socket_timeout: float | timedelta | None = None,
    socket_connect_timeout: float | timedelta | None = None,
    sample: int = 10000,
    rate: float = 1000.0,
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Read-only probes of a Redis deployment (see ``keyseal.audit``); observations, never secrets."""

@final
class ClientCertificate:
    """A client certificate forwarded by a TLS-terminating proxy (see docs/certificates.md)."""

    @staticmethod
    def from_header(
        value: str,
        proxy: str,
        *,
        chain: str | None = None,
    ) -> ClientCertificate:
        """Decode a header value; ``chain`` is RFC 9440's ``Client-Cert-Chain`` (rfc9440 only)."""

    @staticmethod
    def cache_clear() -> None:
        """Empty the process-wide parse cache."""

    @staticmethod
    def cache_size() -> int:
        """How many parsed certificates the cache holds."""

    @property
    def der(self) -> bytes: ...
    @property
    def chain(self) -> list[bytes]:
        """The other certificates the header carried (intermediates), DER, in order."""

    @property
    def proxy(self) -> str: ...
    @property
    def fingerprint_sha256(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def common_name(self) -> str | None: ...
    @property
    def serial(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def not_after(self) -> datetime: ...
    @property
    def dns_names(self) -> list[str]: ...
    @property
    def uris(self) -> list[str]: ...
    @property
    def emails(self) -> list[str]: ...
    @property
    def spiffe_id(self) -> str | None: ...
    def is_valid_now(self) -> bool: ...
    def verify(self, ca_bundle_pem: bytes | str, at: datetime | None = None) -> None:
        """Check chain and validity against the bundle's roots; raises CertificateError."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

# ---- API keys (src/py/apikeys.rs)

class _HasFingerprint(Protocol):
    @property
    def fingerprint_sha256(self) -> str: ...

@final
class ApiKey:
    """An API key's metadata (never its token); read-only. Datetimes are timezone-aware UTC."""

    @property
    def key_id(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def scopes(self) -> frozenset[str]: ...
    @property
    def label(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def last_used_at(self) -> datetime | None:
        """Written at most once a minute per key, in the background after a successful verify."""

    @property
    def revoked(self) -> bool: ...
    @property
    def client_cert(self) -> str | None:
        """The bound certificate's SHA-256 fingerprint (lowercase hex), or None."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class IssuedKey:
    """What ``issue`` and ``rotate`` return: the token (shown this once) and the key."""

    @property
    def token(self) -> Secret: ...
    @property
    def key(self) -> ApiKey: ...
    def __reduce__(self) -> NoReturn: ...

@final
class ApiKeys:
    """API keys kept in a Vault's store as a keyed digest inside a sealed record; never the token."""

    def __new__(cls, vault: Vault, *, prefix: str = "ks", namespace: str = "apikeys") -> ApiKeys: ...
    @property
    def prefix(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    def issue(
        self,
        owner: str,
        *,
        scopes: Iterable[str] = (),
        ttl: _Seconds | None = None,
        label: str | None = None,
        client_cert: str | None = None,
    ) -> IssuedKey: ...
    def aissue(
        self,
        owner: str,
        *,
        scopes: Iterable[str] = (),
        ttl: _Seconds | None = None,
        label: str | None = None,
        client_cert: str | None = None,
    ) -> Awaitable[IssuedKey]: ...
    def verify(
        self,
        token: str | Secret,
        *,
        scopes: Iterable[str] = (),
        client_cert: _HasFingerprint | str | None = None,
    ) -> ApiKey:
        """Raises InvalidApiKey (401) or InsufficientScope (403). One Redis read; none on a bad checksum."""

    def averify(
        self,
        token: str | Secret,
        *,
        scopes: Iterable[str] = (),
        client_cert: _HasFingerprint | str | None = None,
    ) -> Awaitable[ApiKey]: ...
    def get(self, key_id: str) -> ApiKey | None: ...
    def aget(self, key_id: str) -> Awaitable[ApiKey | None]: ...
    def list(self, owner: str, *, include_revoked: bool = False) -> builtins.list[ApiKey]:
        """The owner's keys, newest first."""

    def alist(self, owner: str, *, include_revoked: bool = False) -> Awaitable[builtins.list[ApiKey]]: ...
    def revoke(self, key_id: str) -> bool:
        """True if the key was live. Its record stays readable (revoked) for 30 days, then expires."""

    def arevoke(self, key_id: str) -> Awaitable[bool]: ...
    def rotate(self, key_id: str, *, grace: float = 0) -> IssuedKey:
        """A new key like the old one; the old token keeps verifying for ``grace`` seconds."""

    def arotate(self, key_id: str, *, grace: float = 0) -> Awaitable[IssuedKey]: ...
