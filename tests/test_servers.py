"""The fixtures themselves: each server is real, reachable only as documented, and restartable."""

from __future__ import annotations

import itertools
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster

from _servers import FakeServer, RedisServer, TlsCerts, cluster_info, no_retry, revive_stopped


def once(**kwargs: Any) -> redis.Redis:
    """A redis-py client that reports the first failure instead of retrying it."""
    return redis.Redis(**(no_retry() | kwargs))


def _no_leftover_args(server: RedisServer) -> None:
    """Loopback only, nothing persisted unless asked for (the AOF server asks)."""
    config = server.admin_client().config_get("bind")
    assert config == {"bind": "127.0.0.1"}


# ---------------------------------------------------------------------------------------------
# plain, password, unix socket


def test_plain_ping_and_url(redis_plain: RedisServer) -> None:
    assert redis_plain.url == f"redis://127.0.0.1:{redis_plain.port}/0"
    assert redis_plain.host == "127.0.0.1"
    assert redis_plain.password is None
    assert redis_plain.username is None
    client = redis_plain.client()
    assert client.ping()
    assert redis.Redis.from_url(**no_retry(), url=redis_plain.url).ping()
    _no_leftover_args(redis_plain)
    config = client.config_get("save") | client.config_get("appendonly") | client.config_get("protected-mode")
    assert config == {"save": "", "appendonly": "no", "protected-mode": "yes"}
    assert redis_plain.dir is not None
    assert redis_plain.dir.is_dir()
    assert redis_plain.process.running


def test_plain_unix_socket(redis_plain: RedisServer) -> None:
    assert redis_plain.unix_path is not None  # a long tmp dir gets a short socket path instead
    assert redis_plain.unix_url == f"unix://{redis_plain.unix_path}"
    assert redis.Redis(unix_socket_path=str(redis_plain.unix_path)).ping()
    assert redis_plain.unix_path.stat().st_mode & 0o077 == 0


def test_password_required(redis_password: RedisServer) -> None:
    pw = redis_password.password
    assert pw is not None
    assert len(pw) >= 24
    assert redis_password.url == f"redis://:{pw}@127.0.0.1:{redis_password.port}/0"
    assert redis_password.client().ping()
    assert redis.Redis.from_url(**no_retry(), url=redis_password.url).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        once(host="127.0.0.1", port=redis_password.port).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        once(host="127.0.0.1", port=redis_password.port, password="wrong").ping()


# ---------------------------------------------------------------------------------------------
# ACL


def test_acl_user_url_and_ping(redis_acl: RedisServer) -> None:
    pw = redis_acl.password
    assert redis_acl.username == "keyseal"
    assert pw is not None
    assert redis_acl.url == f"redis://keyseal:{pw}@127.0.0.1:{redis_acl.port}/0"
    client = redis.Redis.from_url(**no_retry(), url=redis_acl.url)
    assert client.acl_whoami() == "keyseal"
    client.set("acl-probe", b"1")
    assert client.get("acl-probe") == b"1"
    assert list(client.scan_iter(match="acl-probe")) == [b"acl-probe"]
    assert client.delete("acl-probe") == 1


@pytest.mark.parametrize(
    "command",
    [
        ("KEYS", "*"),
        ("FLUSHDB",),
        ("FLUSHALL",),
        ("CONFIG", "GET", "bind"),
        ("CONFIG", "SET", "save", "1 1"),
        ("SHUTDOWN",),
        ("ACL", "LIST"),
    ],
)
def test_acl_user_cannot_run_dangerous_commands(redis_acl: RedisServer, command: tuple[str, ...]) -> None:
    client = redis_acl.client()
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*command)
    assert redis_acl.admin_client().ping()  # still up, nothing flushed


def test_acl_default_user_is_off(redis_acl: RedisServer) -> None:
    anonymous = once(host="127.0.0.1", port=redis_acl.port)
    with pytest.raises((redis.exceptions.AuthenticationError, redis.exceptions.ResponseError)):
        anonymous.set("x", 1)
    with pytest.raises(redis.exceptions.AuthenticationError):
        once(host="127.0.0.1", port=redis_acl.port, username="keyseal", password="wrong").ping()


def test_acl_admin_client_has_every_right(redis_acl: RedisServer) -> None:
    admin = redis_acl.admin_client()
    assert admin.acl_whoami() == "admin"
    rules = admin.acl_getuser("keyseal")
    assert "-@dangerous" in rules["categories"]


# ---------------------------------------------------------------------------------------------
# TLS


def _pem_version(path: Path) -> int:
    x509 = pytest.importorskip("cryptography.x509")
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return int(cert.version.value) + 1


def test_tls_certs_are_v3_with_sans(tls_certs: TlsCerts) -> None:
    from cryptography import x509

    for path in (
        tls_certs.ca_path,
        tls_certs.cert_path,
        tls_certs.client_cert_path,
        tls_certs.badhost_cert_path,
    ):
        assert _pem_version(path) == 3, path
    server = x509.load_pem_x509_certificate(tls_certs.cert_path.read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert tls_certs.key_path.stat().st_mode & 0o077 == 0


def test_localhost_is_loopback() -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 6379, socket.AF_INET)}
    assert addresses == {"127.0.0.1"}


def test_tls_verified_connection(redis_tls: RedisServer) -> None:
    assert redis_tls.tls
    assert redis_tls.url == f"rediss://localhost:{redis_tls.port}/0"
    assert redis_tls.client().ping()
    assert redis.Redis.from_url(**no_retry(), url=redis_tls.url, ssl_ca_certs=str(redis_tls.ca_path)).ping()


def test_tls_rejects_plaintext(redis_tls: RedisServer) -> None:
    with pytest.raises(redis.exceptions.ConnectionError):
        once(host="127.0.0.1", port=redis_tls.port, socket_timeout=2, socket_connect_timeout=2).ping()


def test_tls_wrong_ca_fails(redis_tls: RedisServer) -> None:
    client = redis_tls.client(ssl_ca_certs=str(redis_tls.other_ca_path))
    with pytest.raises(
        redis.exceptions.ConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"
    ):
        client.ping()


def test_tls_mutual_requires_a_client_cert(redis_tls_mutual: RedisServer) -> None:
    assert redis_tls_mutual.tls_auth_clients
    assert redis_tls_mutual.client().ping()  # with client_cert_path / client_key_path
    anonymous = redis_tls_mutual.client(ssl_certfile=None, ssl_keyfile=None)
    with pytest.raises(redis.exceptions.ConnectionError):
        anonymous.ping()
    foreign = redis_tls_mutual.client(
        ssl_certfile=str(redis_tls_mutual.other_client_cert_path),
        ssl_keyfile=str(redis_tls_mutual.other_client_key_path),
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        foreign.ping()


def test_tls_badhost_fails_hostname_check(redis_tls_badhost: RedisServer, tls_certs: TlsCerts) -> None:
    assert redis_tls_badhost.cert_path == tls_certs.badhost_cert_path
    assert not redis_tls_badhost.check_hostname
    assert redis_tls_badhost.client().ping()  # chain verified, name not
    strict = redis_tls_badhost.client(ssl_check_hostname=True)
    with pytest.raises(redis.exceptions.ConnectionError, match=r"Hostname mismatch|match|CERTIFICATE_VERIFY"):
        strict.ping()


def test_tls_server_speaks_tls_only(redis_tls: RedisServer) -> None:
    """The raw handshake, without redis-py: the certificate chain and name check out for `localhost`."""
    ctx = ssl.create_default_context(cafile=str(redis_tls.ca_path))
    with (
        socket.create_connection(("127.0.0.1", redis_tls.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"PING\r\n")
        assert tls.recv(64) == b"+PONG\r\n"


# ---------------------------------------------------------------------------------------------
# cluster


def _check_cluster(server: RedisServer) -> None:
    assert server.cluster
    assert len(server.nodes) == 3
    for i in range(3):
        info = cluster_info(server.node_client(i))
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == "16384"
        assert info["cluster_slots_ok"] == "16384"
        assert info["cluster_known_nodes"] == "3"
        assert info["cluster_size"] == "3"
    client = server.client()
    for i in range(200):
        client.set(f"k{i}", i)
    assert [int(v) for v in client.mget_nonatomic([f"k{i}" for i in range(200)])] == list(range(200))
    client.delete(*[f"k{i}" for i in range(200)])


def test_cluster_ok_and_every_slot_covered(redis_cluster: RedisServer) -> None:
    seeds = ",".join(f"127.0.0.1:{p}" for _, p in redis_cluster.nodes)
    assert redis_cluster.url == f"redis+cluster://{seeds}/"
    assert redis_cluster.host == "127.0.0.1"
    assert redis_cluster.port == redis_cluster.nodes[0][1]
    _check_cluster(redis_cluster)
    slots = redis_cluster.node_client(0).execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
    covered = sorted((int(s[0]), int(s[1])) for s in slots)
    assert covered[0][0] == 0
    assert covered[-1][1] == 16383
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(covered))


def test_cluster_acl(redis_cluster_acl: RedisServer) -> None:
    pw = redis_cluster_acl.password
    assert redis_cluster_acl.username == "keyseal"
    assert pw is not None
    assert redis_cluster_acl.url.startswith(f"redis+cluster://keyseal:{pw}@127.0.0.1:")
    _check_cluster(redis_cluster_acl)  # redis-py's cluster client, as the restricted user
    node = redis_cluster_acl.node_client(0, admin=False)
    for command in (("KEYS", "*"), ("FLUSHDB",), ("CONFIG", "GET", "bind")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            node.execute_command(*command)  # type: ignore[no-untyped-call]


@pytest.mark.slow
def test_cluster_tls(redis_cluster_tls: RedisServer) -> None:
    assert redis_cluster_tls.url.startswith("rediss+cluster://127.0.0.1:")
    _check_cluster(redis_cluster_tls)
    with pytest.raises(redis.exceptions.ConnectionError):
        once(host="127.0.0.1", port=redis_cluster_tls.port, socket_timeout=2).ping()


def test_cluster_full_stop_and_start(redis_cluster: RedisServer) -> None:
    ports = redis_cluster.nodes
    redis_cluster.stop()
    assert not any(p.running for p in redis_cluster.processes)
    redis_cluster.start()
    assert redis_cluster.nodes == ports
    _check_cluster(redis_cluster)


def test_cluster_node_restart(redis_cluster: RedisServer) -> None:
    redis_cluster.processes[1].kill9()
    assert not redis_cluster.running
    redis_cluster.start()
    assert redis_cluster.running
    _check_cluster(redis_cluster)


# ---------------------------------------------------------------------------------------------
# faults: stop/start/kill9, AOF, blackhole, refused


def test_stop_and_start_on_the_same_port(redis_plain: RedisServer) -> None:
    client = redis_plain.client()
    client.set("restart-probe", b"x")
    pid = redis_plain.process.pid
    redis_plain.stop()
    assert not redis_plain.running
    with pytest.raises(redis.exceptions.ConnectionError):
        once(host="127.0.0.1", port=redis_plain.port, socket_connect_timeout=1).ping()
    redis_plain.start()
    assert redis_plain.running
    assert redis_plain.process.pid != pid
    assert redis_plain.client().ping()
    assert redis_plain.client().get("restart-probe") is None  # --save "": nothing persisted


def test_a_killed_server_is_revived_after_the_test(redis_password: RedisServer) -> None:
    """What the autouse _revive_redis_servers fixture runs after every test, checked in one test
    (not by a second test that relies on running after this one)."""
    port = redis_password.port
    redis_password.kill9()
    assert not redis_password.running
    with pytest.raises(redis.exceptions.ConnectionError):
        once(host="127.0.0.1", port=port, password=redis_password.password, socket_connect_timeout=1).ping()
    assert revive_stopped() == [redis_password]
    assert redis_password.running
    assert redis_password.port == port
    assert redis_password.client().ping()
    assert revive_stopped() == []  # nothing else was down


def test_aof_survives_kill9(redis_aof: RedisServer) -> None:
    client = redis_aof.client()
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    for i in range(100):
        client.set(f"aof{i}", i)
    redis_aof.kill9()
    redis_aof.start()
    client = redis_aof.client()
    assert [int(v) for v in client.mget([f"aof{i}" for i in range(100)])] == list(range(100))
    client.delete(*[f"aof{i}" for i in range(100)])


def test_blackhole_times_out(redis_blackhole: FakeServer) -> None:
    assert redis_blackhole.url == f"redis://127.0.0.1:{redis_blackhole.port}/0"
    client = once(host="127.0.0.1", port=redis_blackhole.port, socket_timeout=0.3, socket_connect_timeout=1)
    start = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        client.ping()
    assert time.monotonic() - start < 3


def test_refused_port(refused_port: FakeServer) -> None:
    assert refused_port.url == f"redis://127.0.0.1:{refused_port.port}/0"
    for _ in range(50):  # never a self-connect, never anything listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", refused_port.port), timeout=2).close()


def test_factory_starts_a_server_with_a_given_cert(redis_factory: Any, tls_certs: TlsCerts) -> None:
    server = redis_factory.server(
        "redis_custom_cert",
        tls=True,
        tls_cert=tls_certs.badhost_cert_path,
        tls_key=tls_certs.badhost_key_path,
    )
    assert server.client().ping()
    server.kill9()
    assert not server.running


def test_redis_marker_is_applied(request: pytest.FixtureRequest, redis_blackhole: FakeServer) -> None:
    assert request.node.get_closest_marker("redis") is not None


def test_cluster_client_type(redis_cluster: RedisServer) -> None:
    assert isinstance(redis_cluster.client(), redis.cluster.RedisCluster)
