"""Error reports with no secrets: an exception reporter filter (and reporter) that use keyseal's redactor.

``RedactingExceptionReporterFilter`` (for ``DEFAULT_EXCEPTION_REPORTER_FILTER``) keeps Django's
SafeExceptionReporterFilter rules (sensitive_variables, sensitive_post_parameters, setting names)
and adds: it is active with DEBUG=True too; every header, META entry, cookie, POST value, setting
and traceback-frame variable whose name the redactor flags (password, token, api_key,
authorization, cookie, ...) is masked; every other value is passed, as text, through the
process-wide redactor (values revealed from a ``Secret`` and the token catalogue).

``RedactingExceptionReporter`` (for ``DEFAULT_EXCEPTION_REPORTER``) covers what Django does not
route through the filter (the exception message, GET parameters, the request URL) and passes the
finished text and HTML once more through the redactor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.template.defaultfilters import pprint
from django.utils.datastructures import MultiValueDict
from django.utils.safestring import mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from keyseal._native import Redactor, Secret, redactor

__all__ = ["RedactingExceptionReporter", "RedactingExceptionReporterFilter"]


class _Shown:
    """A value already turned into (redacted) text: the reporter's ``pprint`` prints it as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _redact_value(engine: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return engine.redact(value)
    if isinstance(value, bytes):
        return engine.redact_bytes(value)
    if isinstance(value, Secret):
        return value  # prints as a mask
    if value is None or isinstance(value, bool | int | float):
        return value
    return _Shown(engine.redact(pprint(value)))


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """SafeExceptionReporterFilter plus keyseal's redactor, active whatever DEBUG says."""

    def __init__(self) -> None:
        self.redactor = redactor()

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django turns its filter off under DEBUG; a secret on a developer's screen or in a
        # shared screenshot is still a leak.
        return True

    def _sensitive(self, key: object) -> bool:
        return isinstance(key, str) and bool(key) and Redactor.is_sensitive_key(key)

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if self._sensitive(key):
            return self.cleansed_substitute
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str | bytes):
            return _redact_value(self.redactor, cleansed)
        return cleansed

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta: dict[str, Any] = super().get_safe_request_meta(request)
        return {k: v if isinstance(v, str) else _redact_value(self.redactor, v) for k, v in meta.items()}

    def get_cleansed_multivaluedict(self, request: HttpRequest, multivaluedict: Any) -> Any:
        cleansed = super().get_cleansed_multivaluedict(request, multivaluedict)
        return self._redact_multivaluedict(cleansed)

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        params = super().get_post_parameters(request)
        if request is None:
            return params
        return self._redact_multivaluedict(params)

    def _redact_multivaluedict(self, data: Any) -> Any:
        if not isinstance(data, MultiValueDict):
            return data
        out: MultiValueDict[Any, Any] = MultiValueDict()
        for key, values in data.lists():
            if self._sensitive(key):
                out.setlist(key, [self.cleansed_substitute for _ in values])
            else:
                out.setlist(key, [_redact_value(self.redactor, v) for v in values])
        return out

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        pairs = super().get_traceback_frame_variables(request, tb_frame)
        out: list[tuple[str, Any]] = []
        for name, value in pairs:
            if value == self.cleansed_substitute or self._sensitive(name):
                out.append((name, self.cleansed_substitute))
            else:
                out.append((name, _redact_value(self.redactor, value)))
        return out


class RedactingExceptionReporter(ExceptionReporter):
    """ExceptionReporter whose exception message, GET parameters and finished output are redacted."""

    def get_traceback_data(self) -> dict[str, Any]:
        engine = redactor()
        data: dict[str, Any] = super().get_traceback_data()
        if isinstance(data.get("exception_value"), str):
            data["exception_value"] = engine.redact(data["exception_value"])
        if "request_GET_items" in data:
            sensitive: Callable[[str], bool] = Redactor.is_sensitive_key
            data["request_GET_items"] = [
                (k, "********************" if sensitive(k) else _redact_value(engine, v))
                for k, v in data["request_GET_items"]
            ]
        for key in ("request_insecure_uri", "user_str"):
            if isinstance(data.get(key), str):
                data[key] = engine.redact(data[key])
        return data

    def get_traceback_html(self) -> Any:
        # Django returns a SafeString; redacting it only replaces text, so it stays safe markup.
        return mark_safe(redactor().redact(str(super().get_traceback_html())))  # noqa: S308

    def get_traceback_text(self) -> Any:
        return mark_safe(redactor().redact(str(super().get_traceback_text())))  # noqa: S308
