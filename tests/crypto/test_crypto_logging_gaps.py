"""Secrets that used to get past RedactingFilter and the Redactor: lone surrogates, mapping
arguments, bytes/bytearray and objects in ``extra``."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest

import keyseal
from keyseal import Redactor, Secret
from keyseal.logging import RedactingFilter

TOKEN = "sk_live_" + "Zq7" * 10  # Stripe-shaped, made up
# A file name decoded with surrogateescape: byte 0xff becomes the lone surrogate U+DCFF.
SURROGATE_NAME = b"report-\xff.csv".decode("utf-8", "surrogateescape")


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, list[logging.LogRecord], io.StringIO]]:
    records: list[logging.LogRecord] = []
    stream = io.StringIO()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    text = logging.StreamHandler(stream)
    flt = RedactingFilter(redactor=Redactor(use_known=False))
    for h in (keep, text):
        h.addFilter(flt)
    lg = logging.getLogger(f"test.crypto.gaps.{id(records)}")
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    lg.addHandler(keep)
    lg.addHandler(text)
    yield lg, records, stream
    lg.removeHandler(keep)
    lg.removeHandler(text)


# ---- point 11: lone surrogates


def test_surrogates_in_a_record_do_not_replace_the_whole_record(logged) -> None:  # type: ignore[no-untyped-def]
    lg, records, _ = logged
    lg.info("uploading %s with key %s", SURROGATE_NAME, TOKEN)
    msg = records[0].getMessage()
    assert "redaction_error" not in msg
    assert TOKEN not in msg
    assert msg == f"uploading {SURROGATE_NAME} with key [REDACTED:stripe_secret_key]"


def test_redact_and_scan_accept_surrogates() -> None:
    red = Redactor(use_known=False)
    text = f"{SURROGATE_NAME} é {TOKEN} end"
    assert red.redact(text) == f"{SURROGATE_NAME} é [REDACTED:stripe_secret_key] end"
    assert red.redact(SURROGATE_NAME) is SURROGATE_NAME
    [finding] = red.scan(text)
    assert finding.kind == "stripe_secret_key"
    # Offsets are in code points, the surrogate counting as one.
    assert text[finding.start : finding.end] == TOKEN
    assert red.redact_obj({"f": text, "password": SURROGATE_NAME})["f"].endswith(
        "[REDACTED:stripe_secret_key] end"
    )


def test_a_secret_with_a_surrogate_never_lands_in_an_exception() -> None:
    value = "hunter2-" + "\udcff" + "-very-secret"
    for make in (Secret, keyseal.redactor().add_secret, Redactor(use_known=False).add_secret):
        with pytest.raises(ValueError) as info:
            make(value)
        exc = info.value
        assert "very-secret" not in str(exc) + repr(exc) + repr(exc.args)
        assert not isinstance(exc, UnicodeError)
        assert exc.__context__ is None or "very-secret" not in repr(exc.__context__.args)


# ---- point 12: mapping args, bytes and objects in extra


def test_mapping_args_are_redacted_by_key_name(logged) -> None:  # type: ignore[no-untyped-def]
    lg, records, stream = logged
    lg.info("login %(user)s with %(password)s", {"user": "bob", "password": "hunter2hunter2"})
    out = stream.getvalue()
    assert "hunter2hunter2" not in out
    assert "login bob with [REDACTED:sensitive_field]" in out
    assert "hunter2hunter2" not in repr(records[0].args)
    # A key that itself holds a secret is redacted too, without failing the record.
    lg.info("n=%(n)s", {"n": 3, TOKEN: "x"})
    assert "n=3" in stream.getvalue()
    assert TOKEN not in repr(records[1].args)


def test_bytes_and_bytearray_in_extra(logged) -> None:  # type: ignore[no-untyped-def]
    lg, records, _ = logged
    body = f"charge={TOKEN}".encode()
    lg.info("request", extra={"body": body, "raw": bytearray(body), "password": bytearray(b"hunter2hunter2")})
    rec = records[0]
    assert TOKEN.encode() not in rec.body
    assert TOKEN.encode() not in bytes(rec.raw)
    assert isinstance(rec.raw, bytearray)
    assert "hunter2hunter2" not in repr(rec.password)  # masked whole, by key name


@dataclasses.dataclass
class Ctx:
    user: str
    api_key: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __str__(self) -> str:
        return "opaque"

    def __repr__(self) -> str:
        return f"Opaque(token={TOKEN})"


def test_objects_in_extra_are_checked_through_str_and_repr(logged) -> None:  # type: ignore[no-untyped-def]
    lg, records, _ = logged
    clean = Point(1, 2)
    lg.info("ctx", extra={"ctx": Ctx("bob", TOKEN), "opaque": Opaque(), "clean": clean})
    rec = records[0]
    # What a JSON formatter with default=str writes afterwards:
    written = json.dumps({"ctx": rec.ctx, "opaque": rec.opaque, "clean": rec.clean}, default=str)
    assert TOKEN not in written
    assert "[REDACTED:stripe_secret_key]" in rec.ctx
    assert TOKEN not in repr(rec.opaque)
    # Objects whose text holds no secret are left as they are.
    assert rec.clean is clean
