"""Real redis-server processes on loopback for the tests: plain, password, ACL, TLS, cluster, AOF, fakes."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.cluster
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
# Every server gets this much time to answer PING after a start; a cluster gets CLUSTER_TIMEOUT to converge.
START_TIMEOUT = 15.0
CLUSTER_TIMEOUT = 60.0
# The ACL rule of the application user (issue 2): everything except the dangerous commands.
KEYSEAL_ACL_RULE = "~* &* +@all -@dangerous"
ADMIN_USER = "admin"
# Linux keeps child processes alive when pytest dies; PR_SET_PDEATHSIG makes the kernel kill them instead.
_PR_SET_PDEATHSIG = 1


def no_retry() -> dict[str, Any]:
    """redis-py retries a failed connection 10 times with backoff by default: tests want the first error."""
    return {"retry": Retry(NoBackoff(), 0)}


class ServerStartError(RuntimeError):
    """A redis-server (or redis-cli --cluster create) did not come up; the message carries its log."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unix_socket_path(workdir: Path) -> Path:
    """``workdir/redis.sock``, or a short path derived from it when that would not fit in sun_path
    (108 bytes), so a long temporary directory never costs the unix-socket tests."""
    path = workdir / "redis.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha256(str(workdir).encode()).hexdigest()[:16]
    return Path("/tmp") / f"keyseal-{digest}.sock"


def missing_tools(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


# ---------------------------------------------------------------------------------------------
# ports


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return 32768


def free_port(*, bus: bool = False, taken: Iterable[int] = ()) -> int:
    """A port nothing listens on (and, with bus=True, whose cluster bus port, port + 10000, is free too).

    Chosen below the kernel's ephemeral range, not by binding port 0: a server restarted on its old port
    must not find it taken by some client's outgoing connection, and a connect to a stopped server's
    port must not self-connect (loopback TCP simultaneous open picks the target as its source port).
    The caller still retries with another port if it loses a race for this one.
    """
    # Every server port in [11000, 21000) and every cluster bus port (port + 10000) above it, so a server
    # cannot take the bus port of a cluster node that a fault test has stopped, nor the reverse.
    top = min(20999, _ephemeral_low() - 10001)
    taken = set(taken)
    if top > 11000:
        for _ in range(500):
            port = random.randint(11000, top)
            if port in taken or (bus and port + 10000 in taken):
                continue
            if _bindable(port) and (not bus or _bindable(port + 10000)):
                return port
    if bus:
        raise ServerStartError("no free port pair (port, port+10000) found for a cluster node")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # fallback: the kernel's choice
        s.bind((HOST, 0))
        kernel_port: int = s.getsockname()[1]
        return kernel_port


class ReservedPort:
    """A port bound but never listening: connecting is refused, and no other socket can take the port."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, free_port()))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()


# ---------------------------------------------------------------------------------------------
# processes


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


_ALL_PROCESSES: list[ServerProcess] = []
_ALL_LOCK = threading.Lock()


def stop_all() -> None:
    """Kill every process this module started (session teardown and atexit both call it)."""
    with _ALL_LOCK:
        procs = list(_ALL_PROCESSES)
    for proc in procs:
        proc.stop(graceful=False)


class ServerProcess:
    """One redis-server: its command line, working dir and log stay fixed across stop()/start()."""

    def __init__(self, argv: Sequence[str], workdir: Path, port: int, ping: dict[str, Any]) -> None:
        self.argv = list(argv)
        self.workdir = workdir
        self.port = port
        self.log_path = workdir / "redis.log"
        self._ping = ping  # redis-py connection keywords for the readiness probe
        self._popen: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        with _ALL_LOCK:
            _ALL_PROCESSES.append(self)

    # -- state
    @property
    def popen(self) -> subprocess.Popen[bytes] | None:
        return self._popen

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    # -- control
    def spawn(self) -> None:
        """Start the process without waiting for it (start() waits)."""
        with self._lock:
            if self.running:
                return
            with self.log_path.open("ab") as log:
                log.write(f"\n=== keyseal test fixture: starting {' '.join(self.argv)}\n".encode())
                log.flush()
                # PDEATHSIG follows the spawning *thread*: only use it from the main thread, which lives as
                # long as pytest does (a worker thread that restarts a server may exit before the server).
                main = threading.current_thread() is threading.main_thread()
                self._popen = subprocess.Popen(
                    self.argv,
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_set_pdeathsig if main and sys.platform == "linux" else None,
                )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self._popen is None or self._popen.poll() is not None:
                code = None if self._popen is None else self._popen.returncode
                raise self._failure(f"redis-server exited with status {code}")
            client = redis.Redis(
                host=HOST,
                port=self.port,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
                **no_retry(),
                **self._ping,
            )
            try:
                if client.ping():
                    # LOADING (AOF/RDB replay) answers PING with an error, so a True PING means ready.
                    return
            except redis.exceptions.BusyLoadingError as exc:
                last = exc
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
                last = exc
            finally:
                client.close()
            time.sleep(0.02)
        self.kill9()
        raise self._failure(f"redis-server did not answer PING within {timeout:.0f} s (last error: {last!r})")

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """(Re)start on the same port, with the same config and data dir; returns once PING answers."""
        with self._lock:
            self.spawn()
            self.wait_ready(timeout)

    def stop(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """SIGTERM (redis shuts down cleanly; with AOF it fsyncs), SIGKILL if it lingers. Idempotent."""
        with self._lock:
            proc = self._popen
            if proc is None:
                return
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
                try:
                    proc.wait(timeout=timeout if graceful else 5.0)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait(timeout=5.0)
            self._popen = None

    def kill9(self) -> None:
        """SIGKILL, no shutdown work at all (the durability test's crash)."""
        self.stop(graceful=False)

    def _failure(self, why: str) -> ServerStartError:
        text = f"{why}\ncommand: {' '.join(self.argv)}\nlog {self.log_path}:\n{_tail(self.log_path)}"
        print(text, file=sys.stderr)
        return ServerStartError(text)

    def port_in_use_failure(self) -> bool:
        return "Address already in use" in _tail(self.log_path, 20)


# ---------------------------------------------------------------------------------------------
# TLS material


@dataclass(frozen=True)
class TlsCerts:
    """A CA, a server cert (SAN localhost, 127.0.0.1), a client cert, and wrong ones for failure tests."""

    dir: Path
    ca_path: Path
    ca_key_path: Path
    cert_path: Path  # server, SAN DNS:localhost, IP:127.0.0.1
    key_path: Path
    client_cert_path: Path  # signed by ca_path, extendedKeyUsage clientAuth
    client_key_path: Path
    other_ca_path: Path  # an unrelated CA: trusting it instead of ca_path must fail
    other_ca_key_path: Path
    other_client_cert_path: Path  # a client cert signed by other_ca_path: a mutual-TLS server must refuse it
    other_client_key_path: Path
    badhost_cert_path: Path  # signed by ca_path, but SAN DNS:wrong-host.invalid, IP:192.0.2.1
    badhost_key_path: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, check=False)
    if result.returncode != 0:
        raise ServerStartError(
            f"openssl {' '.join(map(str, args))} failed:\n{result.stderr.decode(errors='replace')}"
        )


def _ec_key(path: Path, cwd: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=cwd)
    path.chmod(0o600)


def _ca(cwd: Path, name: str) -> tuple[Path, Path]:
    key, cert = cwd / f"{name}.key", cwd / f"{name}.crt"
    _ec_key(key, cwd)
    _openssl(
        "req", "-x509", "-new", "-key", key, "-sha256", "-days", "30", "-subj", f"/O=keyseal tests/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        "-out", cert, cwd=cwd,
    )  # fmt: skip
    return cert, key


def _leaf(
    cwd: Path, name: str, ca: tuple[Path, Path], *, server: bool, sans: str | None
) -> tuple[Path, Path]:
    """A v3 leaf certificate (rustls rejects v1: the extensions below are what make it v3)."""
    key, csr, cert, ext = (cwd / f"{name}{suffix}" for suffix in (".key", ".csr", ".crt", ".ext"))
    _ec_key(key, cwd)
    _openssl("req", "-new", "-key", key, "-subj", f"/O=keyseal tests/CN={name}", "-out", csr, cwd=cwd)
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        # A cluster node also dials its peers' bus port with its server certificate: clientAuth too.
        f"extendedKeyUsage={'serverAuth,clientAuth' if server else 'clientAuth'}",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
    ]
    if sans:
        lines.append(f"subjectAltName={sans}")
    ext.write_text("\n".join(lines) + "\n")
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(secrets.randbits(63)),
        "-days", "30", "-sha256", "-extfile", ext, "-out", cert, cwd=cwd,
    )  # fmt: skip
    csr.unlink()
    return cert, key


def make_tls_certs(directory: Path) -> TlsCerts:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "ca")
    other = _ca(directory, "other-ca")
    server = _leaf(directory, "server", ca, server=True, sans="DNS:localhost,IP:127.0.0.1")
    client = _leaf(directory, "client", ca, server=False, sans="DNS:keyseal-client")
    other_client = _leaf(directory, "other-client", other, server=False, sans="DNS:keyseal-client")
    badhost = _leaf(directory, "badhost", ca, server=True, sans="DNS:wrong-host.invalid,IP:192.0.2.1")
    return TlsCerts(
        dir=directory,
        ca_path=ca[0],
        ca_key_path=ca[1],
        cert_path=server[0],
        key_path=server[1],
        client_cert_path=client[0],
        client_key_path=client[1],
        other_ca_path=other[0],
        other_ca_key_path=other[1],
        other_client_cert_path=other_client[0],
        other_client_key_path=other_client[1],
        badhost_cert_path=badhost[0],
        badhost_key_path=badhost[1],
    )


# ---------------------------------------------------------------------------------------------
# what the fixtures yield


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server (or a cluster of them) and everything a test needs to reach it.

    `url` carries the credentials and is what the Vault under test gets; `client()` is a redis-py client for
    inspecting the server (as the application user; `admin_client()` has every right).
    """

    host: str
    port: int
    url: str
    password: str | None = None
    username: str | None = None
    tls: bool = False
    ca_path: Path | None = None
    cert_path: Path | None = None  # the server's certificate
    key_path: Path | None = None
    client_cert_path: Path | None = None
    client_key_path: Path | None = None
    other_ca_path: Path | None = None
    other_client_cert_path: Path | None = None
    other_client_key_path: Path | None = None
    tls_auth_clients: bool = False
    check_hostname: bool = True  # False only for a server whose certificate names another host
    unix_path: Path | None = None
    unix_url: str | None = None
    dir: Path | None = None
    admin_username: str | None = None
    admin_password: str | None = None
    cluster: bool = False
    nodes: tuple[tuple[str, int], ...] = ()
    processes: tuple[ServerProcess, ...] = field(default=(), repr=False, compare=False)

    # -- process control (on a cluster: every node)
    @property
    def process(self) -> ServerProcess:
        return self.processes[0]

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def running(self) -> bool:
        return all(p.running for p in self.processes)

    def stop(self) -> None:
        for p in self.processes:
            p.stop()

    def kill9(self) -> None:
        for p in self.processes:
            p.kill9()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Restart whatever is down, on the same port(s), config and data dir; wait until it serves."""
        down = [p for p in self.processes if not p.running]
        for p in down:
            p.spawn()
        for p in down:
            p.wait_ready(timeout)
        if self.cluster and down:
            wait_cluster_ok(self, CLUSTER_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- redis-py, for assertions only
    def connection_kwargs(self, *, admin: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        if admin and self.admin_password is not None:
            kwargs.update(username=self.admin_username, password=self.admin_password)
        elif self.password is not None:
            kwargs.update(username=self.username, password=self.password)
        if self.tls:
            kwargs.update(
                ssl=True,
                ssl_ca_certs=str(self.ca_path),
                ssl_cert_reqs="required",
                ssl_check_hostname=self.check_hostname,
            )
            if self.tls_auth_clients:
                kwargs.update(ssl_certfile=str(self.client_cert_path), ssl_keyfile=str(self.client_key_path))
        return kwargs

    def client(self, *, admin: bool = False, **overrides: Any) -> Any:
        """redis.Redis (redis.cluster.RedisCluster for a cluster), bytes in and out, no retries."""
        kwargs = self.connection_kwargs(admin=admin) | overrides
        if self.cluster:
            nodes = [redis.cluster.ClusterNode(h, p) for h, p in self.nodes]  # type: ignore[no-untyped-call]
            return redis.cluster.RedisCluster(startup_nodes=nodes, **kwargs)
        host = "localhost" if self.tls and self.check_hostname else self.host
        return redis.Redis(host=host, port=self.port, **(no_retry() | kwargs))

    def admin_client(self, **overrides: Any) -> Any:
        return self.client(admin=True, **overrides)

    def node_client(self, index: int, *, admin: bool = True, **overrides: Any) -> redis.Redis:
        """A plain client to one node (a cluster's node, or the only server)."""
        host, port = self.nodes[index] if self.nodes else (self.host, self.port)
        kwargs = self.connection_kwargs(admin=admin) | overrides
        if self.tls and self.check_hostname:
            host = "localhost"
        return redis.Redis(host=host, port=port, **(no_retry() | kwargs))


@dataclass(frozen=True)
class FakeServer:
    """Something at an address that is not a working Redis: a silent listener, or nothing at all."""

    host: str
    port: int
    url: str


class Blackhole:
    """A TCP listener that accepts connections and never answers (reads nothing, writes nothing)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self._sock.listen(512)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-blackhole", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)  # held open, silent, until close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._sock.close()


# ---------------------------------------------------------------------------------------------
# starting servers


@dataclass(frozen=True)
class ServerConfig:
    """What to start; each field maps to redis-server options."""

    password: str | None = None  # requirepass (default user)
    acl_user: str | None = None  # an application user with KEYSEAL_ACL_RULE (default user then off)
    acl_password: str | None = None
    acl_rule: str = KEYSEAL_ACL_RULE
    tls: bool = False
    tls_cert: Path | None = None  # default: certs.cert_path
    tls_key: Path | None = None
    tls_auth_clients: bool = False
    aof: bool = False
    cluster: bool = False
    unixsocket: bool = False
    extra: tuple[str, ...] = ()


def _server_argv(
    cfg: ServerConfig, port: int, workdir: Path, certs: TlsCerts | None, admin_password: str | None
) -> list[str]:
    argv = [
        shutil.which("redis-server") or "redis-server",
        "--bind", HOST,
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--dir", str(workdir),
        "--logfile", "",
        "--save", "",
        "--dbfilename", "dump.rdb",
        "--loglevel", "notice",
    ]  # fmt: skip
    if cfg.tls:
        assert certs is not None
        argv += [
            "--port", "0",
            "--tls-port", str(port),
            "--tls-cert-file", str(cfg.tls_cert or certs.cert_path),
            "--tls-key-file", str(cfg.tls_key or certs.key_path),
            "--tls-ca-cert-file", str(certs.ca_path),
            "--tls-auth-clients", "yes" if cfg.tls_auth_clients else "no",
        ]  # fmt: skip
        if cfg.cluster:
            argv += ["--tls-cluster", "yes", "--tls-replication", "yes"]
    else:
        argv += ["--port", str(port)]
    if cfg.aof:
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
    else:
        argv += ["--appendonly", "no"]
    if cfg.cluster:
        argv += [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000",
            "--cluster-require-full-coverage", "yes",
        ]  # fmt: skip
    if cfg.unixsocket:
        argv += ["--unixsocket", str(unix_socket_path(workdir)), "--unixsocketperm", "700"]
    if cfg.acl_user:
        # Default user off: an unauthenticated connection can do nothing. The admin user is for the fixtures
        # (cluster create) and for assertions that need more than the application user may do.
        argv += ["--user", "default", "off"]
        argv += ["--user", ADMIN_USER, "on", f">{admin_password}", "~*", "&*", "+@all"]
        argv += ["--user", cfg.acl_user, "on", f">{cfg.acl_password}", *cfg.acl_rule.split()]
    elif cfg.password:
        argv += ["--requirepass", cfg.password]
    return argv + list(cfg.extra)


def _ping_kwargs(cfg: ServerConfig, certs: TlsCerts | None, admin_password: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if cfg.acl_user:
        kw.update(username=ADMIN_USER, password=admin_password)
    elif cfg.password:
        kw.update(password=cfg.password)
    if cfg.tls:
        assert certs is not None
        # The readiness probe checks the chain but not the name (the bad-host server must come up too).
        kw.update(
            ssl=True, ssl_ca_certs=str(certs.ca_path), ssl_check_hostname=False, ssl_cert_reqs="required"
        )
        if cfg.tls_auth_clients:
            kw.update(ssl_certfile=str(certs.client_cert_path), ssl_keyfile=str(certs.client_key_path))
    return kw


def _launch(
    cfg: ServerConfig,
    workdir: Path,
    certs: TlsCerts | None,
    admin_password: str | None,
    port: int | None = None,
    taken: Iterable[int] = (),
) -> ServerProcess:
    """Spawn one redis-server on a free port, retrying with another port if it loses a race for one."""
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(8):
        chosen = port if port is not None else free_port(bus=cfg.cluster, taken=taken)
        proc = ServerProcess(
            _server_argv(cfg, chosen, workdir, certs, admin_password),
            workdir,
            chosen,
            _ping_kwargs(cfg, certs, admin_password),
        )
        try:
            proc.start()
        except ServerStartError:
            if port is None and proc.port_in_use_failure() and attempt < 7:
                continue
            raise
        return proc
    raise ServerStartError("could not find a free port")  # pragma: no cover


def _secret() -> str:
    return secrets.token_urlsafe(24)


# Servers the test fixtures started (tests/conftest.py fills it); after each test, revive_stopped()
# starts again any of them that the test stopped or killed.
STARTED: list[RedisServer] = []


def revive_stopped() -> list[RedisServer]:
    """Start again every fixture server a test stopped or killed; return those it started."""
    revived = []
    for server in list(STARTED):
        if not server.running:
            server.start()
            revived.append(server)
    return revived


def start_server(
    workdir: Path, cfg: ServerConfig = ServerConfig(), certs: TlsCerts | None = None
) -> RedisServer:
    """Start one redis-server as configured and describe it."""
    admin_password = _secret() if cfg.acl_user else None
    proc = _launch(cfg, workdir, certs, admin_password)
    return _describe(cfg, (proc,), certs, admin_password, workdir)


def _describe(
    cfg: ServerConfig,
    procs: tuple[ServerProcess, ...],
    certs: TlsCerts | None,
    admin_password: str | None,
    workdir: Path,
) -> RedisServer:
    port = procs[0].port
    username = cfg.acl_user
    password = cfg.acl_password if cfg.acl_user else cfg.password
    auth = ""
    if password is not None:
        auth = f"{username or ''}:{password}@"
    if cfg.cluster:
        scheme = "rediss+cluster" if cfg.tls else "redis+cluster"
        seeds = ",".join(f"{HOST}:{p.port}" for p in procs)
        url = f"{scheme}://{auth}{seeds}/"
    elif cfg.tls:
        url = f"rediss://{auth}localhost:{port}/0"
    else:
        url = f"redis://{auth}{HOST}:{port}/0"
    unix_path = unix_socket_path(workdir) if cfg.unixsocket else None
    tls_fields: dict[str, Any] = {}
    if cfg.tls and certs is not None:
        tls_fields = {
            "ca_path": certs.ca_path,
            "cert_path": cfg.tls_cert or certs.cert_path,
            "key_path": cfg.tls_key or certs.key_path,
            "client_cert_path": certs.client_cert_path,
            "client_key_path": certs.client_key_path,
            "other_ca_path": certs.other_ca_path,
            "other_client_cert_path": certs.other_client_cert_path,
            "other_client_key_path": certs.other_client_key_path,
            "tls_auth_clients": cfg.tls_auth_clients,
            "check_hostname": (cfg.tls_cert or certs.cert_path) == certs.cert_path,
        }
    return RedisServer(
        host=HOST,
        port=port,
        url=url,
        password=password,
        username=username,
        tls=cfg.tls,
        unix_path=unix_path,
        unix_url=f"unix://{unix_path}" if unix_path else None,
        dir=workdir,
        admin_username=ADMIN_USER if cfg.acl_user else None,
        admin_password=admin_password,
        cluster=cfg.cluster,
        nodes=tuple((HOST, p.port) for p in procs),
        processes=procs,
        **tls_fields,
    )


def start_cluster(
    workdir: Path,
    cfg: ServerConfig = ServerConfig(cluster=True),
    certs: TlsCerts | None = None,
    masters: int = 3,
) -> RedisServer:
    """Start `masters` cluster-enabled nodes, join them with redis-cli --cluster create, wait for state ok."""
    assert cfg.cluster
    admin_password = _secret() if cfg.acl_user else None
    procs: list[ServerProcess] = []
    try:
        for i in range(masters):
            taken = [p.port for p in procs]
            procs.append(_launch(cfg, workdir / f"node{i}", certs, admin_password, taken=taken))
        cli = [shutil.which("redis-cli") or "redis-cli"]
        if cfg.acl_user:
            cli += ["--user", ADMIN_USER, "--pass", str(admin_password)]
        elif cfg.password:
            cli += ["--pass", cfg.password]
        if cfg.tls:
            assert certs is not None
            cli += ["--tls", "--cacert", str(certs.ca_path)]
            if cfg.tls_auth_clients:
                cli += ["--cert", str(certs.client_cert_path), "--key", str(certs.client_key_path)]
        create = [*cli, "--cluster", "create", *(f"{HOST}:{p.port}" for p in procs)]
        create += ["--cluster-replicas", "0", "--cluster-yes"]
        try:
            result = subprocess.run(
                create, capture_output=True, stdin=subprocess.DEVNULL, timeout=CLUSTER_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            result = subprocess.CompletedProcess(
                create, -1, exc.stdout or b"", (exc.stderr or b"") + b"\n(timeout)"
            )
        out = (result.stdout + result.stderr).decode(errors="replace").replace(str(admin_password), "***")
        (workdir / "cluster-create.log").write_text(out)
        if result.returncode != 0 or "[OK] All 16384 slots covered" not in out:
            logs = "\n".join(f"--- node {p.port}:\n{_tail(p.log_path, 20)}" for p in procs)
            raise ServerStartError(f"redis-cli --cluster create failed ({result.returncode}):\n{out}\n{logs}")
        server = _describe(cfg, tuple(procs), certs, admin_password, workdir)
        wait_cluster_ok(server, CLUSTER_TIMEOUT)
        return server
    except BaseException:
        for p in procs:
            p.kill9()
        raise


def cluster_info(client: redis.Redis) -> dict[str, str]:
    raw = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    if isinstance(raw, dict):  # redis-py parses CLUSTER INFO itself
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def wait_cluster_ok(server: RedisServer, timeout: float = CLUSTER_TIMEOUT) -> None:
    """Until every node says cluster_state:ok, all 16384 slots assigned, and knows all the others."""
    deadline = time.monotonic() + timeout
    states: dict[int, str] = {}
    while time.monotonic() < deadline:
        states = {}
        for i, (_, port) in enumerate(server.nodes):
            client = server.node_client(i, admin=True, socket_timeout=2.0)
            try:
                info = cluster_info(client)
                ok = (
                    info.get("cluster_state") == "ok"
                    and info.get("cluster_slots_ok") == "16384"
                    and info.get("cluster_known_nodes") == str(len(server.nodes))
                )
                states[port] = "ok" if ok else repr(info.get("cluster_state"))
            except (redis.exceptions.RedisError, OSError) as exc:
                states[port] = repr(exc)
            finally:
                client.close()
        if all(v == "ok" for v in states.values()):
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- node {p.port}:\n{_tail(p.log_path, 20)}" for p in server.processes)
    text = f"cluster did not reach cluster_state:ok within {timeout:.0f} s: {states}\n{logs}"
    print(text, file=sys.stderr)
    raise ServerStartError(text)
