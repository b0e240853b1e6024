"""Error reports with no secrets: RedactingExceptionReporterFilter (and RedactingExceptionReporter)
through Django's test client, on the DEBUG=True technical 500 page and in mail_admins email."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import pytest
from django.core import mail
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import override_settings
from django.urls import path
from django.utils.log import AdminEmailHandler
from django.views import debug

import keyseal

FILTER = "keyseal.django.RedactingExceptionReporterFilter"
REPORTER = "keyseal.django.RedactingExceptionReporter"
DJANGO_FILTER = "django.views.debug.SafeExceptionReporterFilter"

_VALUES: dict[str, str] = {}


def boom(request: HttpRequest) -> HttpResponse:
    vault = keyseal.Vault("memory://", keyring=keyseal.Keyring.generate())
    vault.put("billing/api_key", _VALUES["secret"])
    secret = vault.get("billing/api_key")
    assert secret is not None
    upstream_key = secret.reveal()  # a revealed Secret in a local variable
    headers = {"X-Api-Key": request.headers.get("X-Api-Key", "")}
    if request.GET.get("echo"):
        raise RuntimeError(f"upstream refused key {upstream_key}")
    raise RuntimeError("upstream refused the call: " + str(len(upstream_key) + len(headers)))


urlpatterns = [path("boom/", boom)]


@pytest.fixture
def values() -> Iterator[tuple[str, str]]:
    # The Secret's value matches no token format: only the redactor's known values can catch it.
    _VALUES["secret"] = "billing-" + secrets.token_hex(16)
    token = "ksk_" + secrets.token_urlsafe(30)
    yield _VALUES["secret"], token
    _VALUES.clear()


@pytest.fixture
def reporter_settings() -> Iterator[None]:
    debug.get_default_exception_reporter_filter.cache_clear()
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], DEFAULT_EXCEPTION_REPORTER_FILTER=FILTER):
        yield
    debug.get_default_exception_reporter_filter.cache_clear()


def _use(filter_path: str, reporter: str = "django.views.debug.ExceptionReporter") -> override_settings:
    debug.get_default_exception_reporter_filter.cache_clear()
    return override_settings(
        DEFAULT_EXCEPTION_REPORTER_FILTER=filter_path, DEFAULT_EXCEPTION_REPORTER=reporter
    )


def _technical_500(token: str, **query: str) -> str:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", query, HTTP_X_API_KEY=token)
    assert response.status_code == 500
    return response.content.decode()


@pytest.mark.usefixtures("reporter_settings")
def test_debug_page_leaks_with_djangos_filter(values) -> None:
    """The control: with Django's own filter under DEBUG=True both values are on the page."""
    secret, token = values
    with override_settings(DEBUG=True), _use(DJANGO_FILTER):
        page = _technical_500(token)
    assert "upstream_key" in page
    assert secret in page
    assert token in page


@pytest.mark.usefixtures("reporter_settings")
def test_debug_page_has_neither_value(values) -> None:
    secret, token = values
    with override_settings(DEBUG=True), _use(FILTER):
        page = _technical_500(token)
    assert "upstream_key" in page  # the frame's variables are shown...
    assert "HTTP_X_API_KEY" in page  # ...and the request headers
    assert secret not in page
    assert token not in page


@pytest.mark.usefixtures("reporter_settings")
def test_debug_page_text_version(values) -> None:
    secret, token = values
    with override_settings(DEBUG=True), _use(FILTER):
        client = Client(raise_request_exception=False)
        response = client.get("/boom/", HTTP_X_API_KEY=token, HTTP_ACCEPT="text/plain")
    text = response.content.decode()
    assert response.status_code == 500
    assert "upstream_key" in text
    assert secret not in text
    assert token not in text


@pytest.mark.usefixtures("reporter_settings")
def test_reporter_covers_exception_message_and_query(values) -> None:
    secret, token = values
    with override_settings(DEBUG=True), _use(FILTER, REPORTER):
        page = _technical_500(token, echo="1", api_key=token, next="/x")
    assert "upstream refused key" in page
    assert secret not in page
    assert token not in page


@pytest.mark.usefixtures("reporter_settings")
def test_mail_admins_has_neither_value(values) -> None:
    secret, token = values
    handler = AdminEmailHandler(include_html=True)
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    try:
        with (
            override_settings(
                DEBUG=False,
                ADMINS=[("Ops", "ops@example.com")],
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ),
            _use(FILTER),
        ):
            mail.outbox = []
            _technical_500(token)
            sent = list(mail.outbox)
    finally:
        request_logger.removeHandler(handler)
    # Ours, plus one from Django's default LOGGING when the process was set up with it.
    assert len(sent) >= 1
    for message in sent:
        html = message.alternatives[0][0] if message.alternatives else ""
        assert "upstream_key" in message.body
        for part in (message.subject, message.body, html):
            assert secret not in part
            assert token not in part
    assert any("upstream_key" in m.alternatives[0][0] for m in sent if m.alternatives)


def test_filter_masks_sensitive_names_and_redacts_values(values) -> None:
    from keyseal.django import RedactingExceptionReporterFilter

    secret, _ = values
    keyseal.redactor().add_secret(secret)
    flt = RedactingExceptionReporterFilter()
    assert flt.is_active(None) is True
    assert flt.cleanse_setting("STRIPE_TOKEN", "x") == flt.cleansed_substitute
    assert flt.cleanse_setting("client_secret", "x") == flt.cleansed_substitute
    assert secret not in str(flt.cleanse_setting("NOTES", f"value {secret} here"))
    cleaned = flt.cleanse_setting("NESTED", {"list": [f"a {secret}"], "password": "p"})
    assert secret not in str(cleaned)
    assert cleaned["password"] == flt.cleansed_substitute
