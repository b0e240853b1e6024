"""Type stubs for the compiled core, ``keyseal._native``. Import the names from ``keyseal``."""

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from os import PathLike
from typing import Any, Literal, NoReturn, final

__version__: str
__all__ = [
    "Finding",
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
    def put(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> None: ...
    def aput(self, name: str, secret: _SecretLike, *, ttl: _Seconds | None = ...) -> Awaitable[None]: ...
    def put_many(self, mapping: Mapping[str, _SecretLike], *, ttl: _Seconds | None = ...) -> None: ...
    def aput_many(
        self, mapping: Mapping[str, _SecretLike], *, ttl: _Seconds | None = ...
    ) -> Awaitable[None]: ...
    def get(self, name: str) -> Secret | None: ...
    def aget(self, name: str) -> Awaitable[Secret | None]: ...
    def get_many(self, names: Iterable[str]) -> dict[str, Secret]: ...
    def aget_many(self, names: Iterable[str]) -> Awaitable[dict[str, Secret]]: ...
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
    def catalogue() -> list[tuple[str, list[str], str]]: ...

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
