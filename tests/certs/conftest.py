"""Fixtures of the client-certificate tests: the test PKI and header values captured from a real nginx."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _certs_pki import Capture, Pki, make_pki

from _servers import free_port, in_ci

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("certs-pki"))


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _nginx_binary() -> str | None:
    for name in NGINX_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    ssl_client_certificate {d}/root.pem;
    ssl_verify_depth 3;
    # Verified: what a production setup uses.
    server {{
        listen 127.0.0.1:{verified} ssl;
        ssl_verify_client optional;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}
    }}
    # Unverified: forwards expired, not-yet-valid and foreign certificates too (nginx's own 495
    # "certificate error" answer is redirected upstream), so they can be captured.
    server {{
        listen 127.0.0.1:{unverified} ssl;
        ssl_verify_client optional_no_ca;
        error_page 495 = @forward;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}
        location @forward {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}
    }}
}}
"""

# Client name -> which listener it goes through.
VERIFIED = ("client_a", "direct", "spiffe", "many_sans", "none")
UNVERIFIED = ("expired", "not_yet_valid", "wrong_ca", "v1", "server_auth_only", "direct")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("nginx did not listen in time")


def _curl(pki: Pki, port: int, client: str) -> None:
    argv = ["curl", "--silent", "--show-error", "--fail", "--noproxy", "*", "--max-time", "20"]
    argv += ["--cacert", str(pki.path("root.pem"))]
    if client != "none":
        chain = pki.path(f"{client}_chain.pem")
        cert = chain if chain.exists() else pki.path(f"{client}.pem")
        argv += ["--cert", str(cert), "--key", str(pki.path(f"{client}.key"))]
    argv += [f"https://127.0.0.1:{port}/{client}", "-o", "/dev/null"]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def nginx_captures(pki: Pki) -> Iterator[dict[str, Capture]]:
    """Header values a real nginx wrote for each test client: keys like "client_a", "unverified:expired"."""
    binary = _nginx_binary()
    missing = [n for n, ok in (("nginx", binary), ("curl", shutil.which("curl"))) if not ok]
    if missing:
        if in_ci():
            pytest.fail(f"CI needs {', '.join(missing)} (the Makefile's deps target installs them)")
        pytest.skip(f"{', '.join(missing)} not installed")
    assert binary is not None
    d = pki.directory
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / sub).mkdir(exist_ok=True)
    _Recorder.seen = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    verified, unverified = free_port(), free_port()
    while unverified == verified:
        unverified = free_port()
    conf = d / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(d=d, verified=verified, unverified=unverified, upstream=upstream.server_address[1])
    )
    log = d / "nginx.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)], stdout=out, stderr=out
        )
    try:
        _wait_port(verified, proc, d / "error.log")
        _wait_port(unverified, proc, d / "error.log")
        captures: dict[str, Capture] = {}
        for prefix, port, clients in (("", verified, VERIFIED), ("unverified:", unverified, UNVERIFIED)):
            for client in clients:
                _Recorder.seen.clear()
                _curl(pki, port, client)
                (headers,) = _Recorder.seen
                captures[prefix + client] = Capture(
                    headers.get("x-ssl-client-cert"), headers.get("x-ssl-client-verify")
                )
        yield captures
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        upstream.shutdown()
        upstream.server_close()


APACHE_MODULES = "/usr/lib/apache2/modules"

APACHE_CONF = """
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/apache.pid
ErrorLog {d}/apache_error.log
LogLevel warn
DefaultRuntimeDir {d}
Mutex file:{d} default
User nobody
Group nogroup
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule socache_shmcb_module {m}/mod_socache_shmcb.so
LoadModule ssl_module {m}/mod_ssl.so
LoadModule headers_module {m}/mod_headers.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_http_module {m}/mod_proxy_http.so
SSLSessionCache shmcb:{d}/ssl_scache(512000)
<VirtualHost 127.0.0.1:{port}>
    SSLEngine on
    SSLCertificateFile {d}/server.pem
    SSLCertificateKeyFile {d}/server.key
    SSLCACertificateFile {d}/root.pem
    SSLVerifyClient optional
    SSLVerifyDepth 3
    RequestHeader set X-SSL-Client-Cert "%{{SSL_CLIENT_CERT}}s"
    RequestHeader set X-SSL-Client-Verify "%{{SSL_CLIENT_VERIFY}}s"
    ProxyPass "/" "http://127.0.0.1:{upstream}/"
</VirtualHost>
"""


@pytest.fixture(scope="session")
def apache_captures(pki: Pki) -> Iterator[dict[str, Capture]]:
    """Header values a real Apache httpd (mod_ssl + mod_headers) wrote; optional: skipped without apache2."""
    binary = shutil.which("apache2") or ("/usr/sbin/apache2" if Path("/usr/sbin/apache2").exists() else None)
    if binary is None or not Path(APACHE_MODULES, "mod_ssl.so").exists() or not shutil.which("curl"):
        pytest.skip("Apache httpd with mod_ssl (Debian's apache2) is not installed: optional")
    d = pki.directory
    _Recorder.seen = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    conf = d / "apache.conf"
    conf.write_text(APACHE_CONF.format(d=d, m=APACHE_MODULES, port=port, upstream=upstream.server_address[1]))
    with (d / "apache.out").open("wb") as out:
        proc = subprocess.Popen([binary, "-f", str(conf), "-DFOREGROUND"], stdout=out, stderr=out)
    try:
        _wait_port(port, proc, d / "apache_error.log")
        captures: dict[str, Capture] = {}
        for client in ("client_a", "direct", "none"):
            _Recorder.seen.clear()
            _curl(pki, port, client)
            (headers,) = _Recorder.seen
            captures[client] = Capture(headers.get("x-ssl-client-cert"), headers.get("x-ssl-client-verify"))
        yield captures
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        upstream.shutdown()
        upstream.server_close()
