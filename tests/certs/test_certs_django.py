"""keyseal.django.ClientCertificateMiddleware and its system checks, through Django's test clients."""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import _certs_formats as fmt
import django
import pytest
from _certs_pki import Capture, Pki
from cryptography.hazmat.primitives import hashes
from django.conf import settings

if not settings.configured:
    # The same process-wide settings as tests/django's conftest (whichever module runs first
    # configures); everything specific to these tests goes through override_settings below.
    _apps = ["django.contrib.contenttypes", "django.contrib.auth"]
    if importlib.util.find_spec("keyseal.django.apps") is not None:
        _apps.append("keyseal.django")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="keyseal-tests-not-a-secret",
        INSTALLED_APPS=_apps,
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        USE_TZ=True,
    )
    django.setup()

from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

import keyseal.django.cert_checks  # noqa: F401  (registers the checks, as the app's ready() does)
from keyseal.django.middleware import ClientCertificateMiddleware


def _describe(request: HttpRequest) -> HttpResponse:
    cert = request.client_cert  # type: ignore[attr-defined]
    return HttpResponse("none" if cert is None else f"{cert.subject}|{cert.fingerprint_sha256}")


def sync_view(request: HttpRequest) -> HttpResponse:
    return _describe(request)


async def async_view(request: HttpRequest) -> HttpResponse:
    return _describe(request)


urlpatterns = [
    path("api/", sync_view),
    path("async/", async_view),
    path("health", sync_view),
    path("public/page", sync_view),
]

MIDDLEWARE = ["keyseal.django.middleware.ClientCertificateMiddleware"]
TRUSTED = ["127.0.0.1/32", "10.0.0.0/8"]


def conf(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "PROXY": "nginx",
        "HEADER": None,
        "VERIFY_HEADER": None,
        "TRUSTED_PROXIES": TRUSTED,
        "CA_BUNDLE": None,
        "ALLOWED_FINGERPRINTS": [],
        "ALLOWED_SUBJECTS": [],
        "ALLOWED_SANS": [],
        "REQUIRED": True,
        "EXEMPT_PATHS": [],
    }
    base.update(overrides)
    return base


def site(**overrides: Any) -> override_settings:
    return override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        ALLOWED_HOSTS=["testserver"],
        KEYSEAL_CLIENT_CERT=conf(**overrides),
    )


def get(
    headers: dict[str, str] | None = None, *, peer: str = "127.0.0.1", url: str = "/api/"
) -> HttpResponse:
    response: HttpResponse = Client(REMOTE_ADDR=peer).get(url, headers=headers or {})
    return response


def cert_headers(capture: Capture) -> dict[str, str]:
    out = {}
    if capture.cert is not None:
        out["X-SSL-Client-Cert"] = capture.cert
    if capture.verify is not None:
        out["X-SSL-Client-Verify"] = capture.verify
    return out


def refused(response: HttpResponse) -> bool:
    return response.status_code == 403 and response.content == b"client certificate required"


@pytest.fixture
def warnings_(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="keyseal.django")
    return caplog


def _reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "keyseal.django" and r.levelno == logging.WARNING
    ]


def test_real_nginx_capture_admitted(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    with site(VERIFY_HEADER="X-SSL-Client-Verify"):
        response = get(cert_headers(nginx_captures["client_a"]))
    assert response.status_code == 200
    leaf = pki.leaves["client_a"]
    assert response.content.decode() == f"CN=client-a,O=Acme|{leaf.cert.fingerprint(hashes.SHA256()).hex()}"


def test_untrusted_peer_with_header_is_refused_even_when_optional(
    nginx_captures: dict[str, Capture], warnings_: pytest.LogCaptureFixture
) -> None:
    headers = cert_headers(nginx_captures["client_a"])
    with site(REQUIRED=False):
        assert refused(get(headers, peer="203.0.113.7"))
        assert get(peer="203.0.113.7").content == b"none"
    with site(REQUIRED=False, TRUSTED_PROXIES=[]):
        # Empty TRUSTED_PROXIES: nobody is trusted, loopback included.
        assert refused(get(headers))
    assert _reasons(warnings_) == [
        "client certificate refused for GET /api/: certificate header from an untrusted peer",
        "client certificate refused for GET /api/: certificate header from an untrusted peer",
    ]


def test_absent_certificate(nginx_captures: dict[str, Capture], warnings_: pytest.LogCaptureFixture) -> None:
    none = cert_headers(nginx_captures["none"])  # X-SSL-Client-Verify: NONE, empty certificate header
    with site(VERIFY_HEADER="X-SSL-Client-Verify"):
        assert refused(get(none))
        assert refused(get())
        assert refused(get(peer="203.0.113.7"))
    with site(VERIFY_HEADER="X-SSL-Client-Verify", REQUIRED=False):
        assert get(none).content == b"none"
        assert get().content == b"none"
    with site(PROXY="apache", REQUIRED=False):
        assert get({"X-SSL-Client-Cert": "(null)"}).content == b"none"
    with site(PROXY="apache"):
        assert refused(get({"X-SSL-Client-Cert": "(null)"}))
    reasons = _reasons(warnings_)
    assert reasons[0].endswith(": no client certificate")
    assert reasons[2].endswith(": no client certificate (peer is not a trusted proxy)")


def test_verify_header_must_be_success(
    nginx_captures: dict[str, Capture], warnings_: pytest.LogCaptureFixture
) -> None:
    expired = cert_headers(nginx_captures["unverified:wrong_ca"])
    assert expired["X-SSL-Client-Verify"].startswith("FAILED:")
    with site(VERIFY_HEADER="X-SSL-Client-Verify"):
        assert refused(get(expired))
        missing = {"X-SSL-Client-Cert": expired["X-SSL-Client-Cert"]}
        assert refused(get(missing))
        lower = {**cert_headers(nginx_captures["client_a"]), "X-SSL-Client-Verify": "success"}
        assert refused(get(lower))
    assert all(r.endswith("X-SSL-Client-Verify is not SUCCESS") for r in _reasons(warnings_))


@pytest.mark.parametrize(
    ("name", "reason"),
    [("expired", "expired or not yet valid"), ("not_yet_valid", "expired or not yet valid")],
)
def test_validity_is_always_checked(
    nginx_captures: dict[str, Capture], warnings_: pytest.LogCaptureFixture, name: str, reason: str
) -> None:
    with site():
        assert refused(get(cert_headers(nginx_captures[f"unverified:{name}"])))
    assert _reasons(warnings_)[0].endswith(reason)


def test_ca_bundle(nginx_captures: dict[str, Capture], pki: Pki, warnings_: pytest.LogCaptureFixture) -> None:
    bundle = pki.path("chain_bundle.pem")
    bundle.write_bytes(pki.root.pem + pki.intermediate.pem)
    with site(CA_BUNDLE=str(bundle)):
        assert get(cert_headers(nginx_captures["client_a"])).status_code == 200
        assert get(cert_headers(nginx_captures["direct"])).status_code == 200
        assert refused(get(cert_headers(nginx_captures["unverified:wrong_ca"])))
        assert refused(get(cert_headers(nginx_captures["unverified:v1"])))
        assert refused(get(cert_headers(nginx_captures["unverified:server_auth_only"])))
    with site(CA_BUNDLE=pki.path("root.pem")):
        # nginx forwards the leaf only: its intermediate must be in the bundle.
        assert refused(get(cert_headers(nginx_captures["client_a"])))
    reasons = _reasons(warnings_)
    assert reasons[0].endswith("the certificate does not chain to a trusted CA")
    assert reasons[1].endswith("the certificate is not X.509 v3")
    assert reasons[2].endswith("the certificate is not valid for client authentication")


def test_allowlists(nginx_captures: dict[str, Capture], pki: Pki) -> None:
    headers = cert_headers(nginx_captures["client_a"])
    fp = pki.leaves["client_a"].cert.fingerprint(hashes.SHA256()).hex()
    colons = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    with site(ALLOWED_FINGERPRINTS=[colons]):
        assert get(headers).status_code == 200
        assert refused(get(cert_headers(nginx_captures["direct"])))
    with site(ALLOWED_FINGERPRINTS=["00" * 32]):
        assert refused(get(headers))
    with site(ALLOWED_SUBJECTS=["CN=client-a,O=Acme"]):
        assert get(headers).status_code == 200
    with site(ALLOWED_SUBJECTS=["O=Acme,CN=client-a"]):  # order matters: RFC 4514 strings compared exactly
        assert refused(get(headers))
    with site(ALLOWED_SANS=["ops@example.com"]):
        assert get(headers).status_code == 200
    with site(ALLOWED_SANS=["spiffe://example.org/ns/prod/sa/api"]):
        assert get(cert_headers(nginx_captures["spiffe"])).status_code == 200
        assert refused(get(headers))
    with site(ALLOWED_SANS=["direct.example"], ALLOWED_SUBJECTS=["CN=nobody"]):
        # Any list matching admits.
        assert get(cert_headers(nginx_captures["direct"])).status_code == 200


def test_exempt_paths(nginx_captures: dict[str, Capture]) -> None:
    with site(EXEMPT_PATHS=["/health", "/public/"]):
        assert get(url="/health").content == b"none"
        assert get(url="/public/page").content == b"none"
        assert refused(get(url="/api/"))
        # Even on an exempt path the header is not believed.
        assert get(cert_headers(nginx_captures["client_a"]), url="/health").content == b"none"


def test_malformed_header_logged_without_its_bytes(warnings_: pytest.LogCaptureFixture) -> None:
    value = "-----BEGIN%20CERTIFICATE-----%0AbWFsZm9ybWVkLXNlY3JldC1ieXRlcw%0A"
    with site():
        assert refused(get({"X-SSL-Client-Cert": value}))
    (reason,) = _reasons(warnings_)
    assert "invalid client certificate header (nginx format)" in reason
    assert "bWFsZm9ybWVk" not in reason
    assert "BEGIN" not in reason


def test_other_proxy_formats(pki: Pki) -> None:
    leaf, inter = pki.leaves["client_a"].cert, pki.intermediate.cert
    cases = [
        ("envoy", "X-Forwarded-Client-Cert", fmt.envoy(leaf, inter)),
        ("traefik", "X-Forwarded-Tls-Client-Cert", fmt.traefik_v3(leaf, inter)),
        ("alb", "X-Amzn-Mtls-Clientcert", fmt.alb(leaf, inter)),
        ("rfc9440", "Client-Cert", fmt.rfc9440(leaf)),
        ("apache", "X-SSL-Client-Cert", fmt.apache(leaf)),
    ]
    for proxy, header, value in cases:
        with site(PROXY=proxy, CA_BUNDLE=str(pki.path("root.pem"))):
            extra = {"Client-Cert-Chain": fmt.rfc9440_chain(inter)} if proxy == "rfc9440" else {}
            response = get({header: value, **extra})
            if proxy == "apache":
                assert refused(response)  # no intermediate in Apache's header, none in the bundle
            else:
                assert response.status_code == 200, proxy
    with site(PROXY="traefik", HEADER="X-Client-Cert"):
        assert get({"X-Client-Cert": fmt.traefik_v2(leaf)}).status_code == 200
        assert refused(get({"X-Forwarded-Tls-Client-Cert": fmt.traefik_v2(leaf)}))


def test_ipv6_and_mapped_peers(nginx_captures: dict[str, Capture]) -> None:
    headers = cert_headers(nginx_captures["direct"])
    with site(TRUSTED_PROXIES=["::1", "192.0.2.0/24"]):
        assert get(headers, peer="::1").status_code == 200
        assert get(headers, peer="::ffff:192.0.2.10").status_code == 200
        assert refused(get(headers, peer="::2"))
        assert refused(get(headers, peer="not-an-address"))


@pytest.mark.asyncio
async def test_async_stack(nginx_captures: dict[str, Capture]) -> None:
    headers = cert_headers(nginx_captures["client_a"])
    with site(VERIFY_HEADER="X-SSL-Client-Verify"):
        client = AsyncClient(REMOTE_ADDR="127.0.0.1")
        ok = await client.get("/async/", headers=headers)
        assert ok.status_code == 200
        assert ok.content.startswith(b"CN=client-a,O=Acme|")
        assert refused(await client.get("/async/"))
    with site(VERIFY_HEADER="X-SSL-Client-Verify", TRUSTED_PROXIES=["10.0.0.0/8"], REQUIRED=False):
        # AsyncClient's peer is 127.0.0.1, outside the trusted network here: a spoof.
        assert refused(await AsyncClient().get("/async/", headers=headers))
        assert (await AsyncClient().get("/async/")).content == b"none"


def test_middleware_is_sync_and_async_capable() -> None:
    assert ClientCertificateMiddleware.sync_capable
    assert ClientCertificateMiddleware.async_capable


def test_bad_configuration_fails_at_start() -> None:
    with (
        override_settings(KEYSEAL_CLIENT_CERT=conf(TRUSTED_PROXIES=["0.0.0.0/0"])),
        pytest.raises(ImproperlyConfigured, match=r"0\.0\.0\.0/0"),
    ):
        ClientCertificateMiddleware(lambda r: HttpResponse())
    with (
        override_settings(KEYSEAL_CLIENT_CERT=conf(PROXY="haproxy")),
        pytest.raises(ImproperlyConfigured, match="unknown client certificate PROXY"),
    ):
        ClientCertificateMiddleware(lambda r: HttpResponse())
    with (
        override_settings(KEYSEAL_CLIENT_CERT={**conf(), "TRUSTED_PROXY": []}),
        pytest.raises(ImproperlyConfigured, match="unknown keys: TRUSTED_PROXY"),
    ):
        ClientCertificateMiddleware(lambda r: HttpResponse())


def _ids(**overrides: Any) -> list[str]:
    with override_settings(KEYSEAL_CLIENT_CERT=conf(**overrides)):
        return sorted(m.id for m in run_checks() if str(m.id).startswith("keyseal.E01"))


def test_system_checks(pki: Pki, tmp_path: Any) -> None:
    assert _ids() == []
    assert _ids(TRUSTED_PROXIES=["10.0.0.0/8", "0.0.0.0/0"]) == ["keyseal.E010"]
    assert _ids(TRUSTED_PROXIES=["::/0"]) == ["keyseal.E010"]
    assert _ids(TRUSTED_PROXIES=["0.0.0.0/0", "::/0"]) == ["keyseal.E010", "keyseal.E010"]
    assert _ids(PROXY="haproxy") == ["keyseal.E011"]
    assert _ids(CA_BUNDLE=str(tmp_path / "missing.pem")) == ["keyseal.E012"]
    not_pem = tmp_path / "empty.pem"
    not_pem.write_text("nothing here")
    assert _ids(CA_BUNDLE=str(not_pem)) == ["keyseal.E012"]
    assert _ids(CA_BUNDLE=str(pki.path("root.pem"))) == []
    assert _ids(TRUSTED_PROXIES=["10.0.0.300"]) == ["keyseal.E013"]
    # E010 is not a deploy-only check: it is in the default run, not behind --deploy.
    with override_settings(KEYSEAL_CLIENT_CERT=conf(TRUSTED_PROXIES=["0.0.0.0/0"])):
        (message,) = [m for m in run_checks(include_deployment_checks=False) if m.id == "keyseal.E010"]
    assert "0.0.0.0/0" in message.msg
