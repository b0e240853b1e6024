"""``keyseal audit``: a Redis server's security posture, scored (probes in Rust, policy in keyseal.audit)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from keyseal.cli import _common as c

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = c.add_command(
        subparsers,
        "audit",
        help="check a Redis server's security posture (read-only) and score it",
        description="Probe a Redis server or cluster read-only: authentication, exposure, dangerous "
        "commands, TLS, persistence, and a rate-limited sample of stored values (plaintext secrets are "
        "reported by key pattern and kind, never by value). Exit status: 0 nothing at or above "
        "--fail-on, 1 findings at or above it, 2 usage or connection error.",
        example="""
            keyseal audit rediss://audit@cache:6380/0 --ca-certs ca.pem --html report.html
            KEYSEAL_REDIS_PASSWORD=... keyseal audit redis://10.0.0.5:6379 --json --fail-on medium
        """,
    )
    c.add_connection_options(p, url_positional=True)
    c.add_json(p)
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report here")
    p.add_argument("--sample", type=int, default=10_000, metavar="N", help="keys to sample (default 10,000)")
    p.add_argument(
        "--rate", type=float, default=1000.0, metavar="OPS", help="commands per second at most (default 1000)"
    )
    p.add_argument(
        "--fail-on",
        choices=["critical", "high", "medium", "low", "info"],
        default="high",
        help="exit 1 when a finding is at or above this severity (default: high)",
    )
    p.add_argument(
        "--no-verify", action="store_true", help="do not verify the TLS certificate (reported as a finding)"
    )
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from keyseal.audit import run_audit

    if args.sample < 0:
        raise c.UserError("--sample must be >= 0")
    if not (args.rate >= 0 and args.rate != float("inf")):
        raise c.UserError("--rate must be a finite number >= 0 (0: no limit)")
    opts = c.connection_options(args)
    opts.pop("allow_plaintext", None)
    if args.no_verify:
        opts["ssl_cert_reqs"] = "none"
    if args.html:
        directory = os.path.dirname(os.path.abspath(args.html))
        if not os.path.isdir(directory):
            raise c.UserError(f"--html {args.html}: no such directory")
    with c.progress("audit", total=args.sample or None) as bar:
        bar.update(note="probing (read-only)")

        def sampled(keys: int) -> None:
            bar.update(completed=keys, note="keys sampled")

        report = run_audit(c.url(args), sample=args.sample, rate=args.rate, progress=sampled, **opts)
        total = sum(n["sample"]["scanned"] for n in report.observations["nodes"])
        bar.update(total=total, completed=total, note="keys sampled")
    if args.html:
        try:
            with open(args.html, "w", encoding="utf-8") as fh:
                fh.write(report.to_html())
        except OSError as exc:
            raise c.UserError(f"--html {args.html}: {exc.strerror}") from None
    if args.json:
        c.print_json(report.to_dict(args.fail_on))
    else:
        print(report.to_text())
        if args.html:
            print(f"HTML report: {args.html}", file=sys.stderr)
    return 1 if report.fails(args.fail_on) else 0
