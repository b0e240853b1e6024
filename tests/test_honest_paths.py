"""Public paths that had no test: timeouts, scrubbing, TLS opt-out warnings, install(), partial mode,
redact_obj's limits, rewrap on a silent server, an ACL user by name. Real servers throughout."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from keyseal import (
    Keyring,
    StoreAuthError,
    StoreError,
    StoreTimeoutError,
    Vault,
)
from keyseal._native import Redactor
from keyseal.logging import RedactingFilter, install

TOKEN = "sk_live_" + "Ab3" * 10  # a Stripe-shaped made-up key
WARN_LOGGER = "keyseal"  # Rust logs arrive under keyseal.* through pyo3-log


# ---------------------------------------------------------------------------------------------
# timeouts: a server that accepts and never answers


@pytest.mark.parametrize("timeout", [0.3, 0.8])
def test_rewrap_on_a_silent_server_fails_after_one_timeout(redis_blackhole: Any, timeout: float) -> None:
    vault = Vault(
        redis_blackhole.url,
        keyring=Keyring.generate(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )

    async def arewrap() -> int:
        return await vault.arewrap()

    for label, op in (("rewrap", vault.rewrap), ("arewrap", lambda: asyncio.run(arewrap()))):
        start = time.monotonic()
        with pytest.raises(StoreTimeoutError) as info:
            op()
        took = time.monotonic() - start
        assert isinstance(info.value, TimeoutError)
        assert "did not answer in time" in str(info.value)
        # one timeout, with slack for a loaded machine: not one per batch or per key
        assert timeout * 0.8 <= took < timeout * 2 + 0.5, (label, took)
    vault.close()


def test_every_async_call_on_a_silent_server_is_a_timeout(redis_blackhole: Any) -> None:
    vault = Vault(
        redis_blackhole.url, keyring=Keyring.generate(), socket_timeout=0.3, socket_connect_timeout=0.3
    )

    async def run() -> list[type[BaseException]]:
        kinds = []
        for call in (
            lambda: vault.aget("k"),
            lambda: vault.aput("k", "v"),
            lambda: vault.aget_many(["a", "b"]),
            lambda: vault.aput_many({"a": "1"}),
            lambda: vault.adelete("k"),
        ):
            try:
                await call()
            except BaseException as e:  # the class is what is asserted
                kinds.append(type(e))
        return kinds

    assert asyncio.run(run()) == [StoreTimeoutError] * 5
    vault.close()


# ---------------------------------------------------------------------------------------------
# the Redis password is scrubbed from server error texts


def test_password_echoed_by_the_server_is_scrubbed(redis_factory: Any) -> None:
    """A real server that echoes the password back in an error: the password doubles as the one
    opaque key name the Vault will ask for, and EXISTS is renamed, so Redis answers
    "unknown command 'EXISTS', with args beginning with: '<the password>'". (Reads go through a
    bounded-read script, whose first argument is the script, so EXISTS is the probe.)"""
    ring = Keyring.generate()
    empty = redis_factory.server("honest_scrub_probe")
    probe = Vault(empty.url, keyring=ring, namespace="scrub")
    probe.put("k", "v")
    (key,) = empty.client().keys("*")
    probe.close()
    password = key.decode()
    server = redis_factory.server(
        "honest_scrub", password=password, extra=("--rename-command", "EXISTS", "NOTEXISTS")
    )
    vault = Vault(f"redis://127.0.0.1:{server.port}/0", keyring=ring, namespace="scrub", password=password)
    with pytest.raises(StoreError) as info:
        vault.exists("k")
    text = str(info.value) + repr(info.value) + str(info.value.args)
    assert "unknown command" in text, text  # the server did echo its argument
    assert password not in text
    assert "[REDACTED]" in text
    vault.close()


# ---------------------------------------------------------------------------------------------
# TLS opt-outs are logged as warnings (single server and cluster)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_hostname_opt_out_logs_a_warning(redis_tls_badhost: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    vault = Vault(
        redis_tls_badhost.url,
        keyring=Keyring.generate(),
        ssl_ca_certs=redis_tls_badhost.ca_path,
        ssl_check_hostname=False,
        socket_timeout=4.71,  # settings of its own: a fresh client, so a fresh warning
    )
    vault.put("a", "b")
    assert vault.get("a") == "b"
    assert any("hostname checks are off" in w and "ssl_check_hostname=False" in w for w in _warnings(caplog))
    vault.close()


def test_certificate_opt_out_logs_a_warning(redis_tls: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    vault = Vault(redis_tls.url, keyring=Keyring.generate(), ssl_cert_reqs="none", socket_timeout=4.72)
    vault.put("a", "b")  # a private CA, no ssl_ca_certs: only works because the checks are off
    assert vault.get("a") == "b"
    warned = [w for w in _warnings(caplog) if "certificate checks are off" in w]
    assert warned
    assert 'ssl_cert_reqs="none"' in warned[0]
    vault.close()


def test_verified_tls_logs_no_warning(redis_tls: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    vault = Vault(
        redis_tls.url, keyring=Keyring.generate(), ssl_ca_certs=redis_tls.ca_path, socket_timeout=4.73
    )
    vault.put("a", "b")
    assert not [w for w in _warnings(caplog) if "are off" in w]
    vault.close()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"ssl_check_hostname": False}, "hostname checks are off"),
        ({"ssl_cert_reqs": "none"}, "certificate checks are off"),
    ],
)
def test_tls_opt_outs_on_a_cluster(
    redis_cluster_tls: Any, caplog: pytest.LogCaptureFixture, options: dict[str, Any], needle: str
) -> None:
    caplog.set_level(logging.WARNING)
    if "ssl_cert_reqs" not in options:
        options = {**options, "ssl_ca_certs": redis_cluster_tls.ca_path}
    vault = Vault(
        redis_cluster_tls.url,
        keyring=Keyring.generate(),
        namespace="honest-optout",
        socket_timeout=4.74,
        **options,
    )
    names = [f"n{i}" for i in range(30)]  # spread over every master
    vault.put_many({n: n for n in names})
    assert vault.get_many(names) == {n: n for n in names}
    assert vault.clear() == 30
    # one warning per seed node the client was given
    assert len([w for w in _warnings(caplog) if needle in w]) == len(redis_cluster_tls.nodes)
    vault.close()


def test_hostname_opt_out_on_a_cluster_whose_certificates_name_another_host(
    redis_factory: Any, tls_certs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The same CA, certificates for another host: refused by default, served with the opt-out
    (on every node the client discovers, not only the seeds)."""
    caplog.set_level(logging.WARNING)
    cluster = redis_factory.cluster(
        "honest_badhost_cluster",
        tls=True,
        tls_cert=tls_certs.badhost_cert_path,
        tls_key=tls_certs.badhost_key_path,
    )
    strict = Vault(
        cluster.url, keyring=Keyring.generate(), ssl_ca_certs=tls_certs.ca_path, socket_timeout=1.5
    )
    with pytest.raises(StoreError, match=r"(?i)not valid for name|certificate"):
        strict.put("a", "b")
    strict.close()
    relaxed = Vault(
        cluster.url, keyring=Keyring.generate(), ssl_ca_certs=tls_certs.ca_path, ssl_check_hostname=False
    )
    names = [f"n{i}" for i in range(30)]
    relaxed.put_many({n: n for n in names})
    assert relaxed.get_many(names) == {n: n for n in names}
    assert any("hostname checks are off" in w for w in _warnings(caplog))
    relaxed.close()


# ---------------------------------------------------------------------------------------------
# Vault(username=...) against a real ACL user


def test_username_and_password_as_options(redis_acl: Any) -> None:
    assert redis_acl.username == "keyseal"
    base = f"redis://127.0.0.1:{redis_acl.port}/0"
    vault = Vault(
        base,
        keyring=Keyring.generate(),
        namespace="honest-acl",
        username="keyseal",
        password=redis_acl.password,
    )
    vault.put("a", "as the acl user")
    assert vault.get("a") == "as the acl user"
    # the admin sees the key the named user wrote
    assert sum(1 for _ in redis_acl.admin_client().scan_iter(match="ks:*", count=1000)) >= 1
    vault.clear()
    vault.close()
    # the same password for the (disabled) default user, or for another user, is refused
    for kwargs in ({"password": redis_acl.password}, {"username": "nobody", "password": redis_acl.password}):
        other = Vault(base, keyring=Keyring.generate(), socket_timeout=4.75, **kwargs)
        with pytest.raises(StoreAuthError) as info:
            other.get("a")
        assert redis_acl.password not in str(info.value)
        other.close()


# ---------------------------------------------------------------------------------------------
# logging.install() with the root logger and logging.lastResort


@pytest.fixture
def installed() -> Iterator[tuple[RedactingFilter, io.StringIO, logging.Handler]]:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    assert logging.lastResort is not None
    before = list(logging.lastResort.filters)
    flt = install(redactor=Redactor(use_known=False))
    try:
        yield flt, stream, handler
    finally:
        root.removeHandler(handler)
        logging.lastResort.filters[:] = before
        for obj in [root, *logging.Logger.manager.loggerDict.values()]:
            for h in getattr(obj, "handlers", []):
                h.removeFilter(flt)


def test_install_covers_the_root_logger(
    installed: tuple[RedactingFilter, io.StringIO, logging.Handler],
) -> None:
    flt, stream, handler = installed
    assert flt in handler.filters
    child = logging.getLogger("honest.install.child")  # no handler of its own: propagates to root
    child.warning("charging with %s", TOKEN)
    out = stream.getvalue()
    assert TOKEN not in out
    assert "charging with [REDACTED:stripe_secret_key]" in out


def test_install_covers_last_resort(
    installed: tuple[RedactingFilter, io.StringIO, logging.Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    flt, _, _ = installed
    assert logging.lastResort is not None
    assert flt in logging.lastResort.filters
    # lastResort writes to whatever sys.stderr is when it emits: here, capsys's
    record = logging.LogRecord("nohandlers", logging.WARNING, __file__, 1, "key %s", (TOKEN,), None)
    logging.lastResort.handle(record)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "[REDACTED:stripe_secret_key]" in err


def test_install_twice_adds_no_second_filter(
    installed: tuple[RedactingFilter, io.StringIO, logging.Handler],
) -> None:
    _, _, handler = installed
    install()
    assert logging.lastResort is not None
    for h in (handler, logging.lastResort):
        assert len([f for f in h.filters if isinstance(f, RedactingFilter)]) == 1


# ---------------------------------------------------------------------------------------------
# partial mode: partial_tail and short secrets


def test_partial_mode_keeps_the_requested_tail() -> None:
    text = f"key {TOKEN} and password=hunter22"
    assert Redactor(mode="partial", use_known=False).redact(text) == (
        "key [REDACTED:stripe_secret_key...3Ab3] and password=[REDACTED:secret_assignment]"
    )
    assert Redactor(mode="partial", partial_tail=6, use_known=False).redact(text) == (
        "key [REDACTED:stripe_secret_key...Ab3Ab3] and password=[REDACTED:secret_assignment]"
    )
    # "hunter22" (8 characters) is long enough for a tail of 2 (4 x 2) but not for 3
    assert "[REDACTED:secret_assignment...22]" in Redactor(
        mode="partial", partial_tail=2, use_known=False
    ).redact(text)
    assert "password=[REDACTED:secret_assignment] " in Redactor(
        mode="partial", partial_tail=3, use_known=False
    ).redact(text + " ")


def test_partial_mode_shows_no_tail_that_could_break_the_mask() -> None:
    out = Redactor(mode="partial", partial_tail=2, use_known=False).redact("token=abcdefghijklmn]]")
    assert "]]" not in out.split("[REDACTED:secret_assignment", 1)[1][:3]
    assert "abcdefghijklmn" not in out


@pytest.mark.parametrize("bad", [0, 9, -1])
def test_partial_tail_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises((ValueError, OverflowError)):
        Redactor(mode="partial", partial_tail=bad)


# ---------------------------------------------------------------------------------------------
# redact_obj: depth limit, sets and frozensets


def test_redact_obj_depth_limit() -> None:
    r = Redactor(use_known=False)
    deep: Any = [f"bottom {TOKEN}"]
    for _ in range(250):
        deep = [deep]
    out = r.redact_obj(deep)
    depth = 0
    node = out
    while isinstance(node, list):
        node = node[0]
        depth += 1
    assert node == "[REDACTED:too_deep]"
    assert depth == 200
    assert TOKEN not in repr(out)
    # just under the limit, the leaf is redacted by content instead
    shallow: Any = f"bottom {TOKEN}"
    for _ in range(150):
        shallow = [shallow]
    node = r.redact_obj(shallow)
    while isinstance(node, list):
        node = node[0]
    assert node == "bottom [REDACTED:stripe_secret_key]"


def test_redact_obj_sets_and_frozensets() -> None:
    r = Redactor(use_known=False)
    out = r.redact_obj({"tags": {f"t {TOKEN}", "plain"}, "frozen": frozenset({TOKEN, "x"})})
    assert type(out["tags"]) is set
    assert out["tags"] == {"t [REDACTED:stripe_secret_key]", "plain"}
    assert type(out["frozen"]) is frozenset
    assert out["frozen"] == frozenset({"[REDACTED:stripe_secret_key]", "x"})
    original = {TOKEN}
    r.redact_obj(original)
    assert original == {TOKEN}  # the input is not changed
