"""``keyseal audit`` against real redis-server processes in each bad configuration and a hardened one.

Every probe has a server (or, for bind, recorded CONFIG GET replies: tests never bind beyond
loopback) that triggers it and one that does not.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from _cli_helpers import assert_user_error, keyseal

import keyseal as ks
from _extra_servers import SINGLE_NODE_RULE
from keyseal._native import audit_probe
from keyseal.audit import Report, evaluate, run_audit

# Built in pieces so the source holds no live-looking token; the catalogue knows this shape.
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "XYZ12345"
PLAIN_VALUES = {"api_key:alice": STRIPE, "page:home": "<html>hello</html>", "counter": "42"}


def ids(report: Report) -> set[str]:
    return {f.id for f in report.findings}


def finding(report: Report, fid: str) -> Any:
    return next(f for f in report.findings if f.id == fid)


def audit(url: str, **kw: Any) -> Report:
    kw.setdefault("rate", 0)
    kw.setdefault("sample", 1000)
    return run_audit(url, **kw)


def admin_url(server: Any) -> str:
    return f"redis://{server.admin_username}:{server.admin_password}@127.0.0.1:{server.port}/0"


def no_secret_in(report: Report, *secret_texts: str) -> None:
    text = report.to_json() + report.to_html() + report.to_text()
    for s in secret_texts:
        assert s not in text


@pytest.fixture(scope="module")
def noauth(redis_factory: Any) -> Any:
    server = redis_factory.server("audit_noauth")
    client = server.client()
    for k, v in PLAIN_VALUES.items():
        client.set(k, v)
    return server


@pytest.fixture(scope="module")
def hardened(redis_factory: Any) -> Any:
    """TLS with client certificates, default user off, the app user with the least-privilege rule."""
    server = redis_factory.server(
        "audit_hardened",
        tls=True,
        tls_auth_clients=True,
        acl_user="app",
        acl_password=secrets.token_urlsafe(18),
        acl_rule=SINGLE_NODE_RULE,
    )
    vault = ks.Vault(server.url, keyring=ks.Keyring.generate(), namespace="audit", **tls_opts(server))
    for i in range(20):
        vault.put(f"partner/{i}", f"token-value-{i}")
    vault.close()
    return server


def tls_opts(server: Any) -> dict[str, str]:
    return {
        "ssl_ca_certs": str(server.ca_path),
        "ssl_certfile": str(server.client_cert_path),
        "ssl_keyfile": str(server.client_key_path),
    }


# -- authentication


def test_no_auth_server(noauth: Any) -> None:
    report = audit(noauth.url)
    got = ids(report)
    assert finding(report, "KS-AUTH-001").severity == "critical"
    cmd = finding(report, "KS-CMD-001")
    assert cmd.severity == "high"
    assert "FLUSHALL" in cmd.evidence
    assert "EVAL" in cmd.evidence
    assert "dryrun" in cmd.evidence
    assert finding(report, "KS-TLS-001").severity == "medium"  # loopback only
    data = finding(report, "KS-DATA-001")
    assert "api_key:*" in data.evidence
    assert "stripe" in data.evidence
    assert "KS-DATA-002" in got
    assert "KS-AUTH-002" not in got  # no other ACL users
    assert "KS-AUTH-003" not in got
    assert "KS-EXPO-001" not in got  # protected-mode yes
    assert "KS-PERS-001" not in got  # plaintext, but nothing persisted
    assert report.score <= 20
    assert report.grade == "F"
    assert report.fails("high")
    no_secret_in(report, STRIPE)


def test_probes_run_nothing_dangerous(noauth: Any) -> None:
    client = noauth.client()
    before = client.dbsize()
    audit(noauth.url)
    assert client.dbsize() == before  # FLUSHALL/FLUSHDB were dry-run, not run
    assert client.config_get("maxmemory-samples")["maxmemory-samples"] == "5"


def test_default_user_nopass_beside_acl_users(redis_factory: Any) -> None:
    server = redis_factory.server(
        "audit_defaultnopass", acl_user="app", acl_password=secrets.token_urlsafe(18)
    )
    before = audit(admin_url(server))
    assert "KS-AUTH-001" not in ids(before)
    assert "KS-AUTH-002" not in ids(before)
    admin = server.admin_client()
    admin.execute_command("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all")
    try:
        after = audit(admin_url(server))
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "off", "resetpass")
    assert finding(after, "KS-AUTH-002").severity == "high"
    assert "KS-AUTH-001" in ids(after)
    no_secret_in(after, server.admin_password, server.password)


def test_weak_password(redis_factory: Any, redis_password: Any) -> None:
    weak = redis_factory.server("audit_weak", password="foobared")
    report = audit(weak.url)
    f = finding(report, "KS-AUTH-003")
    assert f.severity == "critical"
    assert "foobared" not in report.to_json()
    assert "KS-AUTH-001" not in ids(report)
    strong = audit(redis_password.url)
    assert "KS-AUTH-003" not in ids(strong)
    assert "KS-AUTH-001" not in ids(strong)
    no_secret_in(strong, redis_password.password)
    assert strong.observations["nodes"][0]["config"]["requirepass"] == "(set)"


# -- exposure


def test_protected_mode_off(redis_factory: Any, noauth: Any) -> None:
    server = redis_factory.server("audit_unprotected", extra=("--protected-mode", "no"))
    report = audit(server.url)
    assert finding(report, "KS-EXPO-001").severity == "high"  # and no password
    assert "KS-EXPO-001" not in ids(audit(noauth.url))


def recorded(noauth: Any) -> dict[str, Any]:
    """Observations of a real server, for replaying CONFIG GET replies the tests cannot produce."""
    return copy.deepcopy(audit_probe(noauth.url, sample=0, rate=0))


@pytest.mark.parametrize(
    ("bind", "severity"),
    [("* -::*", "critical"), ("0.0.0.0", "critical"), ("", "critical"), ("127.0.0.1 -::1", None)],
)
def test_bind_to_all_interfaces_from_recorded_replies(noauth: Any, bind: str, severity: str | None) -> None:
    observed = recorded(noauth)
    observed["nodes"][0]["config"]["bind"] = bind
    report = evaluate(observed)
    if severity is None:
        assert "KS-EXPO-002" not in ids(report)
    else:
        assert finding(report, "KS-EXPO-002").severity == severity
    # With a password required, an open bind is high, not critical.
    observed["nodes"][0]["unauthenticated"] = "denied"
    if severity is not None:
        assert finding(evaluate(observed), "KS-EXPO-002").severity == "high"


def test_tls_settings_from_recorded_replies(noauth: Any) -> None:
    observed = recorded(noauth)
    observed.update(tls=True, cert_verified=True, hostname_verified=True)
    cfg = observed["nodes"][0]["config"]
    cfg.update(
        {"tls-port": "6380", "port": "6379", "tls-protocols": "TLSv1.1 TLSv1.2", "tls-auth-clients": "no"}
    )
    got = ids(evaluate(observed))
    assert {"KS-TLS-004", "KS-TLS-005", "KS-TLS-006"} <= got
    assert "KS-TLS-001" not in got
    cfg.update({"port": "0", "tls-protocols": "TLSv1.2 TLSv1.3", "tls-auth-clients": "yes"})
    assert not {"KS-TLS-004", "KS-TLS-005", "KS-TLS-006"} & ids(evaluate(observed))
    observed.update(cert_verified=False, hostname_verified=False)
    assert {"KS-TLS-002", "KS-TLS-003"} <= ids(evaluate(observed))


def test_dangerous_commands_weighed_by_key_patterns(redis_factory: Any) -> None:
    probe = "+acl|whoami +acl|getuser +acl|dryrun"
    server = redis_factory.server(
        "audit_cmds",
        acl_user="ops",
        acl_password=secrets.token_urlsafe(18),
        acl_rule=f"~* &* +@all -@dangerous +eval {probe}",
    )
    broad = audit(server.url)
    cmd = finding(broad, "KS-CMD-001")
    assert "EVAL" in cmd.evidence
    assert "FLUSHALL" not in cmd.evidence
    assert "KS-CMD-002" not in ids(broad)
    pw = secrets.token_urlsafe(18)
    server.admin_client().execute_command(
        "ACL", "SETUSER", "confined", "on", f">{pw}", "resetkeys", "~ks:*", "+@all", "-@dangerous", "+eval",
        *probe.split(),
    )  # fmt: skip
    confined = audit(f"redis://confined:{pw}@127.0.0.1:{server.port}/0")
    low = finding(confined, "KS-CMD-002")
    assert low.severity == "low"
    assert "EVAL" in low.evidence
    assert "KS-CMD-001" not in ids(confined)


def test_multi_discard_where_dryrun_is_denied(redis_acl: Any) -> None:
    # redis_acl's user has `+@all -@dangerous`: ACL DRYRUN (an @dangerous command) is denied.
    report = audit(redis_acl.url)
    node = report.observations["nodes"][0]
    assert node["command_method"] == "multi"
    assert node["commands"]["FLUSHALL"] == "denied"
    assert node["commands"]["EVAL"] == "allowed"
    assert "multi" in finding(report, "KS-CMD-001").evidence
    assert "KS-CFG-001" in ids(report)  # CONFIG is @dangerous: said, not guessed


# -- persistence and data


def test_aof_with_plaintext_secrets(redis_factory: Any, noauth: Any) -> None:
    server = redis_factory.server("audit_aof", aof=True)
    server.client().set("api_key:bob", STRIPE)
    report = audit(server.url)
    f = finding(report, "KS-PERS-001")
    assert f.severity == "high"
    assert "AOF" in f.evidence
    files = report.observations["nodes"][0]["local_files"]
    assert files  # the AOF is on this host
    if any(x["mode"] & 0o006 for x in files):
        assert "KS-PERS-002" in ids(report)
    for x in files:
        Path(x["path"]).chmod(0o600)
    assert "KS-PERS-002" not in ids(audit(server.url))
    assert "KS-PERS-001" not in ids(audit(noauth.url))
    no_secret_in(report, STRIPE)


def test_sample_budget_and_rate(noauth: Any) -> None:
    client = noauth.client()
    for i in range(30):
        client.set(f"bulk:{i}", "x")
    observed = audit_probe(noauth.url, sample=5, rate=0)
    assert observed["nodes"][0]["sample"]["scanned"] == 5
    assert observed["nodes"][0]["sample"]["complete"] is False
    paced = audit_probe(noauth.url, sample=40, rate=100)
    assert paced["ops"] > 40
    assert paced["elapsed"] >= 0.9 * paced["ops"] / 100


# -- the hardened server


def test_hardened_server_scores_95_or_more(hardened: Any) -> None:
    report = audit(hardened.url, **tls_opts(hardened))
    assert report.score >= 95, report.to_text()
    assert all(f.severity in ("low", "info") for f in report.findings), report.to_text()
    got = ids(report)
    assert "KS-DATA-004" in got  # the Vault's envelopes, by key id
    assert not {"KS-TLS-001", "KS-AUTH-001", "KS-AUTH-003", "KS-DATA-001", "KS-DATA-002"} & got
    envelopes = report.observations["nodes"][0]["sample"]["envelopes"]
    assert sum(envelopes.values()) == 20
    no_secret_in(report, hardened.password)


def test_hardened_as_admin_sees_tls_settings(hardened: Any, redis_tls: Any) -> None:
    url = f"rediss://{hardened.admin_username}:{hardened.admin_password}@localhost:{hardened.port}/0"
    admin = audit(url, **tls_opts(hardened))
    assert admin.observations["nodes"][0]["config"]["tls-auth-clients"] == "yes"
    assert "KS-TLS-004" not in ids(admin)
    assert "KS-TLS-006" not in ids(admin)
    plain_tls = audit(redis_tls.url, ssl_ca_certs=str(redis_tls.ca_path))
    assert finding(plain_tls, "KS-TLS-004").severity == "low"


# -- cluster


def test_cluster(redis_cluster: Any) -> None:
    client = redis_cluster.client()
    client.set("secret:db", STRIPE)
    try:
        report = audit(redis_cluster.url)
    finally:
        client.delete("secret:db")  # the cluster is shared with other test files
    nodes = report.observations["nodes"]
    assert len(nodes) == 3
    assert all(n["error"] is None for n in nodes)
    f = finding(report, "KS-AUTH-001")
    for host, port in redis_cluster.nodes:
        assert f"{host}:{port}" in f.evidence
    assert "secret:*" in finding(report, "KS-DATA-001").evidence
    no_secret_in(report, STRIPE)


def test_least_privilege_cluster_user(redis_factory: Any) -> None:
    from _extra_servers import least_privilege_cluster

    cluster = least_privilege_cluster(redis_factory, "audit_cluster_lp")
    report = audit(cluster.url)
    assert len(report.observations["nodes"]) == 3
    assert all(f.severity in ("medium", "low", "info") for f in report.findings), report.to_text()
    assert "KS-TLS-001" in ids(report)  # plaintext cluster: the only medium


# -- the command


def test_cli_json_and_exit_codes(noauth: Any, hardened: Any, redis_password: Any, refused_port: Any) -> None:
    res = keyseal("audit", noauth.url, "--json", "--rate", "0")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert isinstance(doc["score"], int)
    assert isinstance(doc["grade"], str)
    assert doc["target"] == noauth.url
    for f in doc["findings"]:
        assert set(f) >= {"id", "severity", "title", "evidence", "remediation"}
    assert STRIPE not in res.stdout.decode()
    args = ["--ca-certs", str(hardened.ca_path), "--certfile", str(hardened.client_cert_path)]
    args += ["--keyfile", str(hardened.client_key_path)]
    ok = keyseal("audit", "--rate", "0", *args, env={"KEYSEAL_URL": hardened.url})
    assert ok.returncode == 0, ok.stdout.decode() + ok.stderr.decode()
    assert hardened.password not in (ok.stdout + ok.stderr).decode()
    assert "app:***@" in ok.stdout.decode()
    # --fail-on: the hardened server's info findings fail only at `info`.
    assert keyseal("audit", hardened.url, "--fail-on", "info", "--rate", "0", *args).returncode == 1
    res = keyseal("audit", redis_password.url, "--json", "--rate", "0")
    assert redis_password.password not in (res.stdout + res.stderr).decode()
    assert_user_error(keyseal("audit", refused_port.url), "StoreConnectionError")
    assert_user_error(keyseal("audit", "memory://"), "audit needs")
    assert_user_error(keyseal("audit"), "no store URL")
    assert_user_error(keyseal("audit", noauth.url, "--sample", "-1"), "--sample")


def test_run_audit_takes_vault_options(noauth: Any) -> None:
    report = run_audit(noauth.url, keyring=ks.Keyring.generate(), namespace="x", socket_timeout=2, rate=0)
    assert report.target == noauth.url
    with pytest.raises(TypeError, match="unexpected option"):
        run_audit(noauth.url, no_such_option=1)


def test_audit_progress_only_on_a_terminal(noauth: Any) -> None:
    from _cli_helpers import keyseal_on_tty

    status, out, tty = keyseal_on_tty("audit", noauth.url, "--rate", "0")
    assert status == 1
    assert "audit" in tty
    # rich redraws at a few Hz, so a short-lived note ("probing") may never be drawn; the final
    # state is always drawn when the bar stops.
    assert "keys sampled" in tty
    assert b"KS-AUTH-001" in out
    piped = keyseal("audit", noauth.url, "--rate", "0")
    assert piped.stderr == b""


def test_renamed_commands_are_not_reported(redis_factory: Any) -> None:
    server = redis_factory.server(
        "audit_renamed", extra=("--rename-command", "FLUSHALL", "", "--rename-command", "DEBUG", "")
    )
    report = audit(server.url)
    node = report.observations["nodes"][0]
    assert node["commands"]["FLUSHALL"] == "absent"
    assert node["commands"]["DEBUG"] == "absent"
    evidence = finding(report, "KS-CMD-001").evidence
    assert "FLUSHALL" not in evidence
    assert "DEBUG" not in evidence
    assert "FLUSHDB" in evidence


def test_progress_callback_counts_and_can_stop_the_audit(noauth: Any) -> None:
    client = noauth.client()
    for i in range(250):
        client.set(f"many:{i}", "x")
    seen: list[int] = []
    report = run_audit(noauth.url, rate=0, sample=10_000, progress=seen.append)
    scanned = report.observations["nodes"][0]["sample"]["scanned"]
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] == scanned >= 250

    def stop(keys: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_audit(noauth.url, rate=0, progress=stop)


def test_probe_refuses_a_non_utf8_password_without_echo() -> None:
    """audit_probe shares the Vault's connection-keyword conversion (src/py/convert.rs) but keeps
    its ValueError; nothing is contacted."""
    with pytest.raises(ValueError, match="password must be UTF-8") as info:
        audit_probe("redis://127.0.0.1:1/0", password=b"hunter2\xff", sample=0, rate=0)
    assert "hunter2" not in str(info.value)
