"""Logging integration: ``RedactingFilter`` for the standard library, a structlog processor, ``install()``.

The filter formats each record's message once, hands it to the native engine in one call and
only touches the record when something was found, so a clean record costs one method call, one
``getMessage()`` and one scan. It redacts the message (after %-formatting, so a secret split
between the template and its arguments is still seen), mapping arguments by key name
(``log.info("%(password)s", {"password": ...})``), exception text, ``stack_info`` and extra
fields: ``str``, ``bytes`` and ``bytearray`` values by content, values under sensitive names
(``password``, ``api_key``...) whole, containers recursively. An arbitrary object in ``extra`` is
checked through its ``str()`` and ``repr()`` (what a formatter or a JSON encoder with
``default=str`` would write): when either holds a secret, the attribute is replaced by the
redacted ``str()``; otherwise the object is left as it is. Objects nested inside containers are
not converted. Text with lone surrogates (file names decoded with ``surrogateescape``) is
redacted like any other. Python's own ``str`` objects holding the original values cannot be wiped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from keyseal._native import Redactor, redactor

__all__ = ["RedactingFilter", "install", "structlog_processor"]

# Attributes every LogRecord has (3.12 adds taskName), plus the two that Formatter.format sets.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_BASELINE_ATTRS = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_FAILED = "[REDACTED:redaction_error]"
# Values the engine handles itself (or that cannot hold a secret); anything else in `extra` is
# checked through its str() and repr().
_PLAIN = (str, bytes, int, float, bool, type(None), dict, list, tuple, set, frozenset)


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` that removes secrets from records; it never drops a record.

    Usable from ``dictConfig``: ``{"()": "keyseal.RedactingFilter"}``. Without ``redactor`` it
    uses the process-wide one, which knows every value revealed from a ``keyseal.Secret``.
    Attach it to handlers (see ``install``): a filter on a logger does not see records that
    propagate up from its children.
    """

    def __init__(self, name: str = "", *, redactor: Redactor | None = None) -> None:
        super().__init__(name)
        self.redactor = redactor if redactor is not None else _process_redactor()
        self._redact = self.redactor.redact
        self._fmt = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._apply(record)
        except Exception:
            # Fail closed: a record that could not be checked is not written as it was.
            record.msg = _FAILED
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True

    def _apply(self, record: logging.LogRecord) -> None:
        redact = self._redact
        args = record.args
        if isinstance(args, Mapping) and args:
            # `log.info("%(password)s", {"password": ...})`: the message alone does not show
            # that the value was a password, the mapping's key does.
            plain = dict(args)
            cleaned_args = self.redactor.redact_obj(plain)
            # Keys are redacted too (a key can hold a secret), so compare pairwise in order.
            changed = len(cleaned_args) != len(plain) or any(
                ck is not k or cv is not v
                for (ck, cv), (k, v) in zip(cleaned_args.items(), plain.items(), strict=True)
            )
            if changed:
                record.args = cleaned_args
        message = record.getMessage()
        clean = redact(message)
        if clean is not message:
            # Formatted already: later handlers must not apply the arguments a second time.
            record.msg = clean
            record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatter.format uses a cached exc_text when present, so the redacted one is
            # what every handler writes.
            record.exc_text = self._fmt.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        attrs = record.__dict__
        if len(attrs) > _BASELINE_ATTRS:
            extras = {k: v for k, v in attrs.items() if k not in _STANDARD_ATTRS}
            if extras:
                cleaned = self.redactor.redact_obj(extras)
                for k, v in cleaned.items():
                    if v is not extras[k]:
                        attrs[k] = v
                    elif not isinstance(v, _PLAIN):
                        replaced = self._redact_object(k, v)
                        if replaced is not None:
                            attrs[k] = replaced

    def _redact_object(self, key: str, value: object) -> object | None:
        """A replacement for an object in ``extra`` whose text shows a secret, or None."""
        if isinstance(value, bytearray):
            data = bytes(value)
            clean = self.redactor.redact_obj({key: data})[key]
            return None if clean is data else bytearray(clean)
        try:
            text = str(value)
            shown = repr(value)
        except Exception:
            # Nothing a formatter could print either.
            return None
        clean = self._redact(text)
        if clean is not text:
            return clean
        if self._redact(shown) is not shown:
            # The repr shows a secret the str does not: write the redacted repr instead.
            return self._redact(shown)
        return None


def _process_redactor() -> Redactor:
    return redactor()


def install(
    logger: logging.Logger | str | None = None,
    *,
    redactor: Redactor | None = None,
    all_loggers: bool = True,
) -> RedactingFilter:
    """Attach one ``RedactingFilter`` to existing handlers, in one call; returns the filter.

    By default every handler of the root logger, of every logger created so far and
    ``logging.lastResort`` get it; with ``logger`` (and ``all_loggers=False``) only that
    logger's handlers. Handlers that already carry a ``RedactingFilter`` are left alone, so
    calling it twice is harmless. Handlers added later need their own filter (or a second call).
    """
    flt = RedactingFilter(redactor=redactor)
    target = logging.getLogger(logger) if isinstance(logger, str) or logger is None else logger
    loggers: list[logging.Logger] = [target]
    if all_loggers:
        loggers.append(logging.getLogger())
        for obj in list(logging.Logger.manager.loggerDict.values()):
            if isinstance(obj, logging.Logger):
                loggers.append(obj)
    handlers: list[logging.Handler] = []
    for lg in loggers:
        handlers.extend(lg.handlers)
    if all_loggers and logging.lastResort is not None:
        handlers.append(logging.lastResort)
    seen: set[int] = set()
    for h in handlers:
        if id(h) in seen:
            continue
        seen.add(id(h))
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(flt)
    return flt


def structlog_processor(
    redactor: Redactor | None = None,
) -> Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]:
    """A structlog processor that returns a redacted copy of the event dict.

    Put it last before the renderer: ``structlog.configure(processors=[...,
    keyseal.logging.structlog_processor(), structlog.processors.JSONRenderer()])``. Values are
    redacted by content and by key name (``password``, ``api_token``, ``Authorization``...).
    structlog itself is not imported.
    """
    engine = redactor if redactor is not None else _process_redactor()

    def redact_event(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        return engine.redact_obj(dict(event_dict))

    return redact_event
