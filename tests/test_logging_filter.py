"""RedactingFilter, install() and the structlog processor."""

from __future__ import annotations

import io
import logging
import logging.config
import sys
import traceback
from collections.abc import Iterator

import pytest

import keyseal
from keyseal._native import Redactor
from keyseal.logging import RedactingFilter, install, structlog_processor

TOKEN = "sk_live_" + "Ab3" * 10  # a Stripe-shaped made-up key


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor=Redactor(use_known=False)))
    lg = logging.getLogger(f"test.redact.{id(stream)}")
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    lg.addHandler(handler)
    yield lg, stream
    lg.removeHandler(handler)


def test_message_and_args(logger: tuple[logging.Logger, io.StringIO]) -> None:
    lg, stream = logger
    lg.info("charging with %s for %d cents", TOKEN, 500)
    lg.info("password=%s", "hunter22")  # secret split between template and argument
    lg.info("100%% clean %s", "value")
    out = stream.getvalue()
    assert TOKEN not in out
    assert "hunter22" not in out
    assert "charging with [REDACTED:stripe_secret_key] for 500 cents" in out
    assert "password=[REDACTED:secret_assignment]" in out
    assert "100% clean value" in out


def test_clean_record_is_untouched() -> None:
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "user %s logged in", ("bob",), None)
    assert RedactingFilter().filter(rec) is True
    assert rec.msg == "user %s logged in"
    assert rec.args == ("bob",)


def test_dirty_record_keeps_formatting_stable() -> None:
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and 50%%", (TOKEN,), None)
    RedactingFilter(redactor=Redactor(use_known=False)).filter(rec)
    # Pre-formatted: a second getMessage() must not apply % again.
    assert rec.getMessage() == "key [REDACTED:stripe_secret_key] and 50%"
    assert rec.getMessage() == "key [REDACTED:stripe_secret_key] and 50%"
    assert rec.args == ()


def test_exception_and_stack_info(logger: tuple[logging.Logger, io.StringIO]) -> None:
    lg, stream = logger
    seen: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = seen.append  # type: ignore[method-assign]
    lg.addHandler(capture)  # after the redacting handler: sees the records as it left them
    try:
        raise RuntimeError(f"upstream refused token {TOKEN}")
    except RuntimeError:
        lg.exception("call failed")
    # The stack shows this source line, and with it the literal token below.
    lg.info("here", stack_info=True, extra={"api_key": "abc-123-def", "payload": {"password": "x1y2z3"}, "t": "sk_live_Ab3Ab3Ab3Ab3Ab3Ab3Ab3Ab3Ab3Ab3"})  # noqa: E501  # fmt: skip
    lg.removeHandler(capture)
    out = stream.getvalue()
    assert "Traceback" in out
    assert "RuntimeError" in out
    assert "Stack (most recent call last)" in out
    assert "test_exception_and_stack_info" in out  # the stack itself is kept...
    assert out.count("[REDACTED:stripe_secret_key]") >= 2  # ...with the token masked in it
    assert TOKEN not in out
    stacked = seen[1]
    assert stacked.stack_info is not None
    assert TOKEN not in stacked.stack_info
    assert "[REDACTED:stripe_secret_key]" in stacked.stack_info
    assert stacked.api_key == "[REDACTED:sensitive_field]"
    assert stacked.payload == {"password": "[REDACTED:sensitive_field]"}
    assert stacked.t == "[REDACTED:stripe_secret_key]"


def test_extra_fields_are_redacted() -> None:
    flt = RedactingFilter(redactor=Redactor(use_known=False))
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "event", (), None)
    rec.api_key = "abc-123-def"
    rec.payload = {"password": "x1y2z3", "n": 1}
    rec.note = f"uses {TOKEN}"
    rec.count = 3
    flt.filter(rec)
    assert rec.api_key == "[REDACTED:sensitive_field]"
    assert rec.payload == {"password": "[REDACTED:sensitive_field]", "n": 1}
    assert rec.note == "uses [REDACTED:stripe_secret_key]"
    assert rec.count == 3


def test_revealed_secret_never_reaches_the_log(logger: tuple[logging.Logger, io.StringIO]) -> None:
    lg, stream = logger
    handler = lg.handlers[0]
    handler.filters.clear()
    handler.addFilter(RedactingFilter())  # the process-wide redactor
    value = "plain-words-secret-" + str(id(stream))
    secret = keyseal.Secret(value)
    lg.info("before %s", value)
    revealed = secret.reveal()
    lg.info("after %s", revealed)
    lines = stream.getvalue().splitlines()
    assert value in lines[0]  # not known yet, and not secret-shaped
    assert value not in lines[1]
    assert "[REDACTED:known_secret]" in lines[1]
    from keyseal._native import redactor

    redactor().remove_secret(value)


def test_dict_config() -> None:
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"redact": {"()": "keyseal.logging.RedactingFilter"}},
            "handlers": {"mem": {"class": "logging.StreamHandler", "stream": stream, "filters": ["redact"]}},
            "loggers": {"test.dictconfig": {"handlers": ["mem"], "level": "INFO", "propagate": False}},
        }
    )
    logging.getLogger("test.dictconfig").info("Authorization: Bearer %s", "abcdefghijklmnopqrstuvwx")
    assert "abcdefghijklmnopqrstuvwx" not in stream.getvalue()
    assert "[REDACTED:" in stream.getvalue()


def test_top_level_export() -> None:
    assert keyseal.RedactingFilter is RedactingFilter
    assert "RedactingFilter" in keyseal.__all__


def test_install_attaches_once() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    lg = logging.getLogger("test.install")
    lg.addHandler(handler)
    lg.propagate = False
    try:
        flt = install("test.install", all_loggers=False)
        install("test.install", all_loggers=False)
        assert [f for f in handler.filters if isinstance(f, RedactingFilter)] == [flt]
        lg.warning("db url redis://:p4ssw0rd-x@cache/0")
        assert "p4ssw0rd-x" not in stream.getvalue()
    finally:
        lg.removeHandler(handler)


def test_broken_format_fails_closed() -> None:
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "bad %d format", ("text",), None)
    assert RedactingFilter().filter(rec) is True
    assert rec.getMessage() == "[REDACTED:redaction_error]"


def test_structlog_processor_copies() -> None:
    proc = structlog_processor(Redactor(use_known=False))
    event = {"event": f"charged {TOKEN}", "client_secret": "s3", "user": "bob"}
    out = proc(None, "info", event)
    assert out == {
        "event": "charged [REDACTED:stripe_secret_key]",
        "client_secret": "[REDACTED:sensitive_field]",
        "user": "bob",
    }
    assert event["client_secret"] == "s3"


def test_logging_module_does_not_import_structlog() -> None:
    import subprocess

    code = "import keyseal.logging, sys; print('structlog' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_traceback_text_is_redacted_in_exc_text() -> None:
    flt = RedactingFilter(redactor=Redactor(use_known=False))
    try:
        raise ValueError(f"bad key {TOKEN}")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    flt.filter(rec)
    assert rec.exc_text
    assert TOKEN not in rec.exc_text
    assert "ValueError" in rec.exc_text
    assert "".join(traceback.format_exception(*rec.exc_info)).count(TOKEN) == 1  # original kept
