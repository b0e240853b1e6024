"""Value codecs of the cache backend: pickle (default) or JSON; ints as ASCII decimal for ``incr``.

The Vault seals whatever bytes these produce and hands back only bytes whose tag verified, so
``loads`` never sees data an attacker wrote.
"""

from __future__ import annotations

import json
import pickle
import re
from typing import Any, Protocol

__all__ = ["JSONSerializer", "PickleSerializer", "Serializer", "serializer_for"]

# The Vault's incr works on a sealed ASCII decimal i64; such ints are stored that way so incr/decr
# stay atomic. Pickle (protocol 2+) output starts with 0x80, so the two forms never collide.
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(rb"-?[0-9]{1,20}")
_PICKLE_MARK = 0x80


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...
    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """``int`` (exactly, not bool) in i64 range as ASCII decimal; everything else pickled."""

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self.protocol = protocol

    def dumps(self, value: Any) -> bytes:
        if type(value) is int and _I64_MIN <= value <= _I64_MAX:
            return str(value).encode("ascii")
        return pickle.dumps(value, self.protocol)

    def loads(self, data: bytes) -> Any:
        if data[:1] and data[0] == _PICKLE_MARK:
            return pickle.loads(data)  # noqa: S301 - the Vault verified the tag: we wrote these bytes
        if _DECIMAL.fullmatch(data):
            return int(data)
        raise ValueError("not a value this cache wrote")


class JSONSerializer:
    """JSON text (UTF-8); ints are already ASCII decimal. Tuples come back as lists."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def serializer_for(name: str) -> Serializer:
    return JSONSerializer() if name == "json" else PickleSerializer()
