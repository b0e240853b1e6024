"""``keyseal audit``: judge a Redis deployment's security posture from read-only probes.

The probes run in Rust (``keyseal._native.audit_probe``, see src/core/audit.rs) and return plain
observations; this module is the policy: each finding has a stable id, a severity, a one-line
title, evidence (never a secret: values are classified in Rust and only rule names and counts
come back; ``requirepass`` is reported as set or not) and a remediation. A score from 0 to 100
and a grade sum it up. ``run_audit(url, **vault_options)`` is the entry point for other callers
(``manage.py keyseal audit``); ``evaluate(observations)`` is the pure policy, testable from
recorded replies.

JSON form (``Report.to_dict()``, ``keyseal audit --json``), version 1::

    {"version": 1, "target": "rediss://app:***@cache:6380/0", "score": 72, "grade": "C",
     "fail_on": "high", "counts": {"critical": 0, "high": 1, ...},
     "findings": [{"id": "KS-TLS-001", "severity": "medium", "title": "...",
                   "evidence": "...", "remediation": "..."}, ...],
     "observations": {...what the probes saw, per node...}}
"""

from __future__ import annotations

import html
import ipaddress
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from keyseal._native import audit_probe

__all__ = [
    "SEVERITIES",
    "Finding",
    "Report",
    "evaluate",
    "grade_for",
    "run_audit",
]

SEVERITIES = ("critical", "high", "medium", "low", "info")
# Points a finding of each severity takes off 100. One critical finding alone means an F-to-D
# grade; info findings (what could not be checked) cost nothing.
PENALTY = {"critical": 40, "high": 20, "medium": 8, "low": 3, "info": 0}
GRADES = ((90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F"))

# keyseal's least-privilege ACL rule (docs/redis.md), offered in remediations.
LEAST_PRIVILEGE_RULE = (
    "ACL SETUSER app on >LONG-RANDOM-PASSWORD resetkeys ~ks:* resetchannels -@all "
    "+get +mget +set +unlink +exists +pttl +pexpire +persist +type +scan +eval"
)
# Commands that reach beyond the user's key patterns: dangerous whatever the ACL key rules say.
GLOBAL_COMMANDS = {"FLUSHALL", "FLUSHDB", "CONFIG", "DEBUG", "MODULE", "REPLICAOF"}
# Commands whose reach the key patterns bound (EVAL can only touch keys the user may touch).
KEY_BOUND_COMMANDS = {"EVAL", "SCRIPT", "MIGRATE", "KEYS"}
_VAULT_ONLY_OPTIONS = {
    "keyring",
    "namespace",
    "default_ttl",
    "key_prefix",
    "max_value_size",
    "allow_plaintext",
    "max_idle_connections",
}
_PROBE_OPTIONS = {
    "username",
    "password",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_check_hostname",
    "ssl_cert_reqs",
    "socket_timeout",
    "socket_connect_timeout",
}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    title: str
    evidence: str
    remediation: str

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
            "remediation": self.remediation,
        }


@dataclass
class Report:
    target: str
    findings: list[Finding]
    observations: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> int:
        return max(0, 100 - sum(PENALTY[f.severity] for f in self.findings))

    @property
    def grade(self) -> str:
        return grade_for(self.score)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def worst(self) -> str | None:
        for s in SEVERITIES:
            if any(f.severity == s for f in self.findings):
                return s
        return None

    def fails(self, fail_on: str) -> bool:
        """Whether any finding is at or above `fail_on` (critical > high > ... > info)."""
        limit = SEVERITIES.index(fail_on)
        return any(SEVERITIES.index(f.severity) <= limit for f in self.findings)

    def to_dict(self, fail_on: str = "high") -> dict[str, Any]:
        return {
            "version": 1,
            "target": self.target,
            "score": self.score,
            "grade": self.grade,
            "fail_on": fail_on,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "observations": self.observations,
        }

    def to_json(self, fail_on: str = "high") -> str:
        return json.dumps(self.to_dict(fail_on), indent=2)

    def to_text(self) -> str:
        lines = [f"keyseal audit of {self.target}: score {self.score}/100, grade {self.grade}"]
        for f in self.findings:
            lines.append(f"  [{f.severity.upper():8}] {f.id} {f.title}")
            lines.append(f"             evidence: {f.evidence}")
            lines.append(f"             fix: {f.remediation}")
        if not self.findings:
            lines.append("  no findings")
        return "\n".join(lines)

    def to_html(self) -> str:
        return _html(self)


def grade_for(score: int) -> str:
    return next(g for floor, g in GRADES if score >= floor)


def run_audit(
    url: str,
    *,
    sample: int = 10_000,
    rate: float = 1000.0,
    progress: Callable[[int], object] | None = None,
    **vault_options: Any,
) -> Report:
    """Probe the Redis at `url` (read-only) and judge it. Takes the Vault's connection options.

    Vault-only options (keyring, namespace...) are accepted and ignored, so a Vault's settings
    can be passed as they are. `progress(keys_sampled)` is called after each sampled batch.
    Raises keyseal's StoreError subclasses when nothing answers and ConfigurationError for bad
    settings.
    """
    unknown = set(vault_options) - _VAULT_ONLY_OPTIONS - _PROBE_OPTIONS
    if unknown:
        raise TypeError(f"run_audit() got unexpected option(s): {', '.join(sorted(unknown))}")
    if sample < 0:
        raise ValueError("sample must be >= 0")
    opts = {k: v for k, v in vault_options.items() if k in _PROBE_OPTIONS and v is not None}
    observed = audit_probe(url, sample=sample, rate=rate, progress=progress, **opts)
    for node in observed["nodes"]:
        node["local_files"] = _local_persistence_files(node)
    return evaluate(observed)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _local_persistence_files(node: dict[str, Any]) -> list[dict[str, Any]]:
    """RDB/AOF files of a server on this very host, with their permission bits (if we can see them)."""
    host = node["addr"].rsplit(":", 1)[0]
    cfg = node.get("config", {})
    directory = cfg.get("dir")
    if not _is_loopback(host) or not directory or not os.path.isdir(directory):
        return []
    names = [cfg.get("dbfilename") or "dump.rdb"]
    aof = cfg.get("appendfilename") or "appendonly.aof"
    names.append(aof)
    found = []
    for base in (directory, os.path.join(directory, cfg.get("appenddirname") or "appendonlydir")):
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            if any(entry.startswith(n) for n in names):
                path = os.path.join(base, entry)
                try:
                    st = os.stat(path)
                except OSError:  # rewritten (BGREWRITEAOF) between listdir and stat
                    continue
                found.append({"path": path, "mode": stat.S_IMODE(st.st_mode), "size": st.st_size})
    return found


# ---------------------------------------------------------------------------------------------
# policy


def _max_severity(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


def evaluate(observed: dict[str, Any]) -> Report:
    """The findings for what the probes observed (a dict as `audit_probe` returns it)."""
    per_node: list[tuple[str, list[Finding]]] = []
    for node in observed["nodes"]:
        per_node.append((node["addr"], list(_node_findings(observed, node))))
    merged: dict[str, Finding] = {}
    evidence: dict[str, list[str]] = {}
    many = len(per_node) > 1
    for addr, found in per_node:
        for f in found:
            text = f"{addr}: {f.evidence}" if many else f.evidence
            if f.id in merged:
                old = merged[f.id]
                merged[f.id] = Finding(
                    f.id, _max_severity(old.severity, f.severity), old.title, "", old.remediation
                )
                if text not in evidence[f.id]:
                    evidence[f.id].append(text)
            else:
                merged[f.id] = f
                evidence[f.id] = [text]
    findings = [
        Finding(f.id, f.severity, f.title, "; ".join(evidence[f.id]), f.remediation) for f in merged.values()
    ]
    findings.extend(_target_findings(observed))
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.id))
    return Report(target=observed["target"], findings=findings, observations=observed)


def _hosts(observed: dict[str, Any]) -> list[str]:
    return [n["addr"].rsplit(":", 1)[0] for n in observed["nodes"]]


def _target_findings(observed: dict[str, Any]) -> Iterable[Finding]:
    if not observed["tls"]:
        remote = [h for h in _hosts(observed) if not _is_loopback(h)]
        yield Finding(
            "KS-TLS-001",
            "high" if remote else "medium",
            "Connections to Redis are not encrypted",
            "the URL is redis:// (plaintext)"
            + (f"; non-loopback host(s): {', '.join(sorted(set(remote)))}" if remote else " (loopback only)"),
            "Serve TLS (redis.conf: `port 0`, `tls-port 6380`, `tls-cert-file`, `tls-key-file`, "
            "`tls-ca-cert-file`) and connect with rediss://",
        )
        return
    if not observed["cert_verified"]:
        yield Finding(
            "KS-TLS-002",
            "high",
            "The server certificate is not verified",
            "the audit ran with ssl_cert_reqs='none', as the application presumably does",
            "Verify certificates: drop ssl_cert_reqs='none' and pass ssl_ca_certs=<the CA that signs Redis>",
        )
    if not observed["hostname_verified"]:
        yield Finding(
            "KS-TLS-003",
            "medium",
            "The server certificate's host name is not checked",
            "the audit ran with ssl_check_hostname=False",
            "Give the server a certificate whose SAN names the host clients use; drop "
            "ssl_check_hostname=False",
        )


def _flags(text: str | None) -> set[str]:
    return set((text or "").split())


def _node_findings(observed: dict[str, Any], node: dict[str, Any]) -> Iterable[Finding]:
    if node.get("error"):
        yield Finding(
            "KS-NODE-001",
            "high",
            "A node could not be audited",
            f"connecting with the given credentials failed: {node['error']}",
            "Check that every node is up and accepts the same credentials",
        )
        return
    cfg: dict[str, str] = node.get("config", {})
    denied: dict[str, str] = node.get("config_denied", {})
    unauth = node.get("unauthenticated")
    open_door = unauth == "allowed"
    if open_door:
        yield Finding(
            "KS-AUTH-001",
            "critical",
            "Clients get in without authenticating",
            "HELLO without AUTH succeeded",
            "Turn the default user off and give each application its own ACL user: `user default off` "
            f"in redis.conf, then `{LEAST_PRIVILEGE_RULE}` (or at least `requirepass <long random>`)",
        )
    default = _flags(node.get("default_flags"))
    users = node.get("users") or []
    if {"on", "nopass"} <= default and len(users) > 1:
        yield Finding(
            "KS-AUTH-002",
            "high",
            "The default user is enabled with no password beside other ACL users",
            f"ACL GETUSER default: flags {' '.join(sorted(default))}; {len(users)} users defined",
            "`ACL SETUSER default off` (and `user default off` in redis.conf / the ACL file)",
        )
    weak = node.get("weak_password")
    if weak:
        user, index = weak
        shown = "an empty password" if index == 0 else f"entry {index} of keyseal's list of common passwords"
        yield Finding(
            "KS-AUTH-003",
            "critical",
            "A well-known password is accepted",
            f"AUTH as {user!r} succeeded with {shown} (tried {observed.get('weak_passwords_tried', '?')})",
            "Set a long random password (e.g. `openssl rand -base64 33`) for that user and rotate it",
        )
    if node.get("user_error") and not node.get("user"):
        yield Finding(
            "KS-AUTH-004",
            "info",
            "The audited user's ACL rules could not be read",
            f"{node['user_error']}: key patterns unknown, dangerous commands weighed as if keys were `~*`",
            "Run the audit once as an administrator to see every user's rules",
        )

    # -- exposure
    if cfg.get("protected-mode") == "no":
        yield Finding(
            "KS-EXPO-001",
            "high" if open_door else "medium",
            "protected-mode is off",
            "CONFIG GET protected-mode: no"
            + ("; and clients get in without a password" if open_door else ""),
            "`protected-mode yes` in redis.conf (it refuses outside clients while no password is set)",
        )
    bind = cfg.get("bind")
    if bind is not None:
        addrs = bind.split()
        wild = [a for a in addrs if a.lstrip("-") in {"*", "0.0.0.0", "::", "::*"}]  # noqa: S104 (a value we read, not a bind)
        if wild or not addrs:
            yield Finding(
                "KS-EXPO-002",
                "critical" if open_door else "high",
                "Redis listens on every network interface",
                f"CONFIG GET bind: {bind!r}",
                "Bind to the interfaces clients use only: `bind 127.0.0.1 -::1 10.0.0.5` (plus a firewall)",
            )
    if denied:
        reasons = sorted(set(denied.values()))
        yield Finding(
            "KS-CFG-001",
            "info",
            "Server settings could not be read",
            f"CONFIG GET {', '.join(sorted(denied))}: {', '.join(reasons)}; protected-mode, bind, TLS and "
            "persistence settings were not checked",
            "Run the audit as an administrator (CONFIG GET) to check them",
        )

    # -- dangerous commands, weighed by the user's key patterns
    yield from _command_findings(node)

    # -- transport, from the server's side
    if observed["tls"] and cfg:
        auth_clients = cfg.get("tls-auth-clients")
        if auth_clients in ("no", "optional"):
            yield Finding(
                "KS-TLS-004",
                "low",
                "Clients are not asked for a certificate",
                f"CONFIG GET tls-auth-clients: {auth_clients}",
                "`tls-auth-clients yes` with client certificates (ssl_certfile / ssl_keyfile) for apps",
            )
        protocols = cfg.get("tls-protocols", "")
        old = [p for p in protocols.split() if p in {"TLSv1", "TLSv1.1"}]
        if old:
            yield Finding(
                "KS-TLS-005",
                "medium",
                "Old TLS versions are enabled",
                f"CONFIG GET tls-protocols: {protocols!r}",
                '`tls-protocols "TLSv1.2 TLSv1.3"`',
            )
        if cfg.get("port", "0") != "0" and cfg.get("tls-port", "0") != "0":
            yield Finding(
                "KS-TLS-006",
                "medium",
                "A plaintext port is open beside the TLS one",
                f"CONFIG GET port: {cfg['port']}, tls-port: {cfg['tls-port']}",
                "`port 0` in redis.conf, so only TLS is served",
            )

    # -- data and persistence
    sample = node.get("sample", {})
    plaintext = sample.get("plaintext", [])
    persistent = cfg.get("appendonly") == "yes" or bool(cfg.get("save"))
    if plaintext:
        total = sum(n for _, _, n in plaintext)
        detail = ", ".join(f"{n} under {p} ({k})" for p, k, n in plaintext[:8])
        yield Finding(
            "KS-DATA-001",
            "high",
            "Secrets are stored in plaintext",
            f"{total} sampled value(s) match the redaction catalogue: {detail}",
            "Store them sealed (keyseal.Vault.put) and delete the plaintext keys; then rotate those secrets",
        )
        if persistent:
            how = [
                w for w, on in (("AOF", cfg.get("appendonly") == "yes"), ("RDB", bool(cfg.get("save")))) if on
            ]
            yield Finding(
                "KS-PERS-001",
                "high",
                "Plaintext secrets are written to disk",
                f"{' and '.join(how)} persistence is on (dir {cfg.get('dir', '?')!r}) and the sample holds "
                f"{total} plaintext secret(s)",
                "Seal the values first; persisted files and their backups keep the old plaintext: "
                "rewrite them (BGREWRITEAOF, BGSAVE) after cleaning up, and rotate the secrets",
            )
    names = sample.get("names", {})
    if names:
        detail = ", ".join(f"{n} under {p}" for p, n in sorted(names.items())[:8])
        yield Finding(
            "KS-DATA-002",
            "medium",
            "Key names suggest secrets stored unsealed",
            f"values that are not keyseal envelopes: {detail}",
            "Move them into a keyseal Vault: names become opaque and values sealed",
        )
    readable = [f for f in node.get("local_files", []) if f["mode"] & (stat.S_IROTH | stat.S_IWOTH)]
    if readable:
        yield Finding(
            "KS-PERS-002",
            "medium",
            "Persistence files are readable by every local user",
            ", ".join(f"{os.path.basename(f['path'])} mode {f['mode']:o}" for f in readable[:6]),
            "chmod 600 the files and 700 their directory; run redis-server with umask 077",
        )
    envelopes = sample.get("envelopes", {})
    if sample.get("error"):
        yield Finding(
            "KS-DATA-003",
            "info",
            "Stored values could not be sampled",
            str(sample["error"]),
            "Allow the audit user SCAN and GETRANGE (or GET) to check for plaintext secrets",
        )
    elif envelopes:
        ids = ", ".join(f"{k} x{n}" for k, n in sorted(envelopes.items()))
        yield Finding(
            "KS-DATA-004",
            "info",
            "keyseal envelopes found",
            f"{sum(envelopes.values())} sealed value(s) by key id: {ids}"
            + ("" if sample.get("complete") else " (sample, not the whole keyspace)"),
            "Nothing to do; after a key rotation, `keyseal rewrap` moves every value to the new key",
        )


def _command_findings(node: dict[str, Any]) -> Iterable[Finding]:
    commands: dict[str, str] = node.get("commands", {})
    user = node.get("user") or {}
    keys = user.get("keys")
    # Unknown key rules are treated as unbounded: the audit does not guess in the user's favour.
    unbounded = keys is None or "~*" in keys.split() or "allkeys" in _flags(user.get("flags"))
    allowed = sorted(name for name, outcome in commands.items() if outcome == "allowed")
    severe = [c for c in allowed if c in GLOBAL_COMMANDS or unbounded]
    bounded = [c for c in allowed if c not in severe]
    who = node.get("whoami") or "the audited user"
    if severe:
        yield Finding(
            "KS-CMD-001",
            "high",
            "Dangerous commands are allowed",
            f"{who} may run {', '.join(severe)} (checked with {node.get('command_method')}, not run)"
            + (f"; key patterns {keys!r}" if keys else ""),
            f"Deny them: `ACL SETUSER {who} -@dangerous` or, for a keyseal app, `{LEAST_PRIVILEGE_RULE}`; "
            'or `rename-command FLUSHALL ""` for servers without ACLs',
        )
    if bounded:
        yield Finding(
            "KS-CMD-002",
            "low",
            "Script or key-walking commands are allowed within the user's key patterns",
            f"{who} may run {', '.join(bounded)}, confined to {keys!r}",
            "Acceptable for keyseal's least-privilege rule (EVAL drives the rewrap compare-and-swap)",
        )
    unknown = sorted(name for name, outcome in commands.items() if outcome.startswith("unknown"))
    if unknown:
        why = commands[unknown[0]].split(":", 1)[-1].strip()
        yield Finding(
            "KS-CMD-003",
            "info",
            "Dangerous commands could not be checked",
            f"{', '.join(unknown)}: {why}",
            "Run the audit as a user allowed ACL DRYRUN (Redis >= 7) to check what each user may run",
        )


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:24px 32px}
header h1{margin:0 0 4px;font-size:22px}
main{max-width:960px;margin:0 auto;padding:24px 32px}
.score{display:flex;gap:24px;align-items:center;margin:8px 0 24px}
.grade{font-size:56px;font-weight:700;width:96px;height:96px;border-radius:50%;display:flex;
align-items:center;justify-content:center;color:#fff}
.g-A{background:#2e7d32}.g-B{background:#689f38}.g-C{background:#f9a825}.g-D{background:#ef6c00}.g-F{background:#c62828}
.counts span{display:inline-block;margin-right:12px}
section h2{font-size:18px;border-bottom:2px solid #d0d4dc;padding-bottom:4px;text-transform:capitalize}
.finding{background:#fff;border-left:6px solid #999;border-radius:4px;padding:12px 16px;margin:12px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.critical{border-color:#b71c1c}.high{border-color:#e65100}.medium{border-color:#f9a825}
.low{border-color:#1565c0}.info{border-color:#78909c}
.finding h3{margin:0 0 6px;font-size:16px}.id{font-family:ui-monospace,monospace;color:#555;margin-right:8px}
.finding p{margin:4px 0}code,.ev{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
footer{color:#666;font-size:13px;padding:24px 32px;text-align:center}
"""


def _code_spans(escaped: str) -> str:
    """`redis.conf lines` in remediations become <code> (the text is already HTML-escaped)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html(report: Report) -> str:
    e = html.escape
    counts = report.counts()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>keyseal audit: {e(report.target)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>Is my Redis safe?</h1>",
        f"<div>keyseal audit of <code>{e(report.target)}</code></div></header>",
        "<main>",
        '<div class="score">',
        f'<div class="grade g-{report.grade}" id="grade">{report.grade}</div>',
        f'<div><div><strong id="score">{report.score}</strong>/100</div><div class="counts">',
    ]
    parts += [f'<span class="{s}">{counts[s]} {s}</span>' for s in SEVERITIES]
    parts.append("</div></div></div>")
    if not report.findings:
        parts.append("<p>No findings.</p>")
    for sev in SEVERITIES:
        group = [f for f in report.findings if f.severity == sev]
        if not group:
            continue
        parts.append(f'<section id="{sev}"><h2>{sev} ({len(group)})</h2>')
        for f in group:
            parts.append(
                f'<article class="finding {sev}" data-finding-id="{e(f.id)}">'
                f'<h3><span class="id">{e(f.id)}</span>{e(f.title)}</h3>'
                f'<p><strong>Evidence:</strong> <span class="ev">{e(f.evidence)}</span></p>'
                f"<p><strong>Remediation:</strong> {_code_spans(e(f.remediation))}</p></article>"
            )
        parts.append("</section>")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts.append(
        f"</main><footer>keyseal audit, {e(stamp)}. Read-only probes; no value was printed.</footer>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)
