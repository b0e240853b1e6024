"""Session fixtures: real redis-server processes on 127.0.0.1 (started lazily, killed at the end); fakes."""

from __future__ import annotations

import atexit
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from _servers import (
    STARTED,
    Blackhole,
    FakeServer,
    RedisServer,
    ReservedPort,
    ServerConfig,
    TlsCerts,
    in_ci,
    make_tls_certs,
    missing_tools,
    revive_stopped,
    start_cluster,
    start_server,
    stop_all,
)

# Every fixture below that talks to (or stands in for) a Redis: tests using one get the `redis` marker.
REDIS_FIXTURES = frozenset(
    {
        "redis_plain",
        "redis_password",
        "redis_acl",
        "redis_tls",
        "redis_tls_mutual",
        "redis_tls_badhost",
        "redis_cluster",
        "redis_cluster_acl",
        "redis_cluster_tls",
        "redis_aof",
        "redis_blackhole",
        "refused_port",
        "redis_factory",
        "tls_certs",
    }
)

# Servers the fixtures started; after each test any of them that a test stopped or killed is started again,
# so one fault test cannot break the tests after it.
_STARTED = STARTED  # kept in _servers so that tests can reach the same list (see revive_stopped)

atexit.register(stop_all)  # also covers an interrupted session; PDEATHSIG covers a killed one


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REDIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true, a skipped test that needs a real component (a Redis fixture) fails the run:
    a skip there would hide a missing install step behind a green CI."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and in_ci() and not hasattr(report, "wasxfail") and item.get_closest_marker("redis"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true: a test that needs a real component was skipped: {reason}"


def need(*tools: str) -> None:
    """Skip without the binaries on a developer machine; in CI (CI=true) their absence is an error."""
    missing = missing_tools(*tools)
    if not missing:
        return
    why = f"{', '.join(missing)} not found on PATH (`make deps` installs Debian's redis-server, redis-tools)"
    if in_ci():
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why)


def _serve(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    cfg: ServerConfig,
    certs: TlsCerts | None = None,
) -> Iterator[RedisServer]:
    need("redis-server")
    workdir = tmp_path_factory.mktemp(name)
    server = start_server(workdir, cfg, certs)
    _STARTED.append(server)
    try:
        yield server
    finally:
        _STARTED.remove(server)
        server.kill9()


def _serve_cluster(
    tmp_path_factory: pytest.TempPathFactory, name: str, cfg: ServerConfig, certs: TlsCerts | None = None
) -> Iterator[RedisServer]:
    need("redis-server", "redis-cli")
    server = start_cluster(tmp_path_factory.mktemp(name), cfg, certs)
    _STARTED.append(server)
    try:
        yield server
    finally:
        _STARTED.remove(server)
        server.kill9()


def _secret() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(autouse=True)
def _revive_redis_servers() -> Iterator[None]:
    yield
    revive_stopped()


# ---------------------------------------------------------------------------------------------
# single servers


@pytest.fixture(scope="session")
def redis_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """No auth; also listens on a unix socket (`unix_path`, `unix_url`)."""
    yield from _serve(tmp_path_factory, "redis_plain", ServerConfig(unixsocket=True))


@pytest.fixture(scope="session")
def redis_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """requirepass with a random password; url redis://:PW@127.0.0.1:PORT/0."""
    yield from _serve(tmp_path_factory, "redis_password", ServerConfig(password=_secret()))


@pytest.fixture(scope="session")
def redis_acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Default user off; user `keyseal` with `+@all -@dangerous`; url redis://keyseal:PW@127.0.0.1:PORT/0."""
    cfg = ServerConfig(acl_user="keyseal", acl_password=_secret())
    yield from _serve(tmp_path_factory, "redis_acl", cfg)


@pytest.fixture(scope="session")
def redis_aof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """appendonly yes + appendfsync always: every acknowledged write survives kill9() + start()."""
    yield from _serve(tmp_path_factory, "redis_aof", ServerConfig(aof=True))


# ---------------------------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsCerts:
    """CA, server (SAN localhost, 127.0.0.1), client, an unrelated CA and its client, a bad-host cert."""
    need("openssl")
    return make_tls_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory: pytest.TempPathFactory, tls_certs: TlsCerts) -> Iterator[RedisServer]:
    """TLS only (`--port 0`), no client certificate required; url rediss://localhost:PORT/0."""
    yield from _serve(tmp_path_factory, "redis_tls", ServerConfig(tls=True), tls_certs)


@pytest.fixture(scope="session")
def redis_tls_mutual(tmp_path_factory: pytest.TempPathFactory, tls_certs: TlsCerts) -> Iterator[RedisServer]:
    """TLS with `--tls-auth-clients yes`: a client certificate signed by `ca_path` is required."""
    cfg = ServerConfig(tls=True, tls_auth_clients=True)
    yield from _serve(tmp_path_factory, "redis_tls_mutual", cfg, tls_certs)


@pytest.fixture(scope="session")
def redis_tls_badhost(tmp_path_factory: pytest.TempPathFactory, tls_certs: TlsCerts) -> Iterator[RedisServer]:
    """TLS with a certificate from the right CA whose SAN names another host: hostname checks must fail."""
    cfg = ServerConfig(tls=True, tls_cert=tls_certs.badhost_cert_path, tls_key=tls_certs.badhost_key_path)
    yield from _serve(tmp_path_factory, "redis_tls_badhost", cfg, tls_certs)


# ---------------------------------------------------------------------------------------------
# clusters


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """3 masters, no replicas; url redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/."""
    yield from _serve_cluster(tmp_path_factory, "redis_cluster", ServerConfig(cluster=True))


@pytest.fixture(scope="session")
def redis_cluster_acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The cluster with redis_acl's users on every node; url redis+cluster://keyseal:PW@.../."""
    cfg = ServerConfig(cluster=True, acl_user="keyseal", acl_password=_secret())
    yield from _serve_cluster(tmp_path_factory, "redis_cluster_acl", cfg)


@pytest.fixture(scope="session")
def redis_cluster_tls(tmp_path_factory: pytest.TempPathFactory, tls_certs: TlsCerts) -> Iterator[RedisServer]:
    """The cluster over TLS (`tls-cluster yes`); url rediss+cluster://127.0.0.1:P1,.../ (IP SAN 127.0.0.1)."""
    yield from _serve_cluster(
        tmp_path_factory, "redis_cluster_tls", ServerConfig(cluster=True, tls=True), tls_certs
    )


# ---------------------------------------------------------------------------------------------
# things that are not a working Redis


@pytest.fixture(scope="session")
def redis_blackhole() -> Iterator[FakeServer]:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte: for timeouts."""
    hole = Blackhole()
    try:
        yield FakeServer("127.0.0.1", hole.port, f"redis://127.0.0.1:{hole.port}/0")
    finally:
        hole.close()


@pytest.fixture(scope="session")
def refused_port() -> Iterator[FakeServer]:
    """A loopback port with nothing listening (held bound, so nothing else takes it): connects are refused."""
    reserved = ReservedPort()
    try:
        yield FakeServer("127.0.0.1", reserved.port, f"redis://127.0.0.1:{reserved.port}/0")
    finally:
        reserved.close()


# ---------------------------------------------------------------------------------------------
# more servers on demand


class RedisFactory:
    """Starts extra servers with any ServerConfig (e.g. TLS with a given cert); all die at the end."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, certs: Callable[[], TlsCerts]) -> None:
        self._tmp = tmp_path_factory
        self._certs = certs
        self.started: list[RedisServer] = []

    def server(self, name: str = "redis_extra", **config: Any) -> RedisServer:
        need("redis-server")
        cfg = ServerConfig(**config)
        server = start_server(self._tmp.mktemp(name), cfg, self._certs() if cfg.tls else None)
        self.started.append(server)
        return server

    def cluster(self, name: str = "redis_cluster_extra", masters: int = 3, **config: Any) -> RedisServer:
        need("redis-server", "redis-cli")
        cfg = ServerConfig(cluster=True, **config)
        server = start_cluster(self._tmp.mktemp(name), cfg, self._certs() if cfg.tls else None, masters)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            server.kill9()


@pytest.fixture(scope="session")
def redis_factory(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RedisFactory]:
    """`redis_factory.server(name, **ServerConfig fields)` / `.cluster(...)`: extra servers, session-lived."""

    def certs() -> TlsCerts:
        value: TlsCerts = request.getfixturevalue("tls_certs")
        return value

    factory = RedisFactory(tmp_path_factory, certs)
    try:
        yield factory
    finally:
        factory.close()
