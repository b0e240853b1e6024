"""``keyseal put``, ``get``, ``delete``, ``ttl`` and ``rewrap``: the Vault from the command line."""

from __future__ import annotations

import argparse
import getpass
import math
import sys
from typing import Any

from keyseal._native import RewrapProgress, Vault
from keyseal.cli import _common as c

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = c.add_command(
        subparsers,
        "put",
        help="store a secret read from stdin or a hidden prompt (never from the command line)",
        example="""
            printf %s "$STRIPE_KEY" | keyseal put stripe/api_key --url rediss://cache:6380/0 --ca-certs ca.pem
            keyseal put stripe/api_key --ttl 3600      # asks for the value without echoing it
        """,
    )
    p.add_argument("name", help="the secret's name (1 to 1,024 bytes, no control characters)")
    p.add_argument("--ttl", type=c.positive_seconds, default=None, help="seconds until it expires")
    p.add_argument("--keep-newline", action="store_true", help="keep a trailing newline read from stdin")
    p.add_argument("--binary", action="store_true", help="store stdin as raw bytes (not only UTF-8 text)")
    c.add_store_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_put)

    p = c.add_command(
        subparsers,
        "get",
        help="fetch a secret (masked unless --reveal); exit 1 if there is none",
        example="keyseal get stripe/api_key --reveal --url rediss://cache:6380/0 --ca-certs ca.pem",
    )
    p.add_argument("name")
    p.add_argument("--reveal", action="store_true", help="print the secret itself")
    c.add_store_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_get)

    p = c.add_command(
        subparsers,
        "delete",
        help="delete a secret; exit 1 if there was none",
        example="keyseal delete stripe/api_key --url rediss://cache:6380/0",
    )
    p.add_argument("name")
    c.add_store_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_delete)

    p = c.add_command(
        subparsers,
        "ttl",
        help="seconds until a secret expires ('forever' when it never does); exit 1 if there is none",
        example="keyseal ttl stripe/api_key --url rediss://cache:6380/0",
    )
    p.add_argument("name")
    c.add_store_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_ttl)

    p = c.add_command(
        subparsers,
        "rewrap",
        help="re-seal a namespace under the keyring's primary key (progress bar on a terminal)",
        description="Re-seal every value of a namespace under the keyring's primary key. Exit status: "
        "0 done, 1 some values could not be opened with this keyring (left as they were), 2 error.",
        example="""
            export KEYSEAL_KEYS="$(keyseal keygen --rotate)"
            keyseal rewrap --url rediss://cache:6380/0 --namespace billing
        """,
    )
    p.add_argument("--batch-size", type=int, default=1000, help="keys per SCAN batch (default 1000)")
    c.add_store_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_rewrap)


def _read_secret(args: argparse.Namespace) -> str | bytes:
    # The secret comes from stdin only: argv is visible to every user of the host (ps, /proc).
    if sys.stdin is None:
        raise c.UserError("no stdin to read the secret from")
    if sys.stdin.isatty():
        value = getpass.getpass(f"secret for {args.name}: ")
        if len(value.encode("utf-8", "surrogatepass")) > c.MAX_SECRET:
            raise c.UserError("the secret is over 1 MiB (the Vault's max_value_size)")
        return value
    raw = sys.stdin.buffer.read(c.MAX_SECRET + 2)
    if raw.endswith(b"\n") and not args.keep_newline:
        raw = raw[:-1]
    if len(raw) > c.MAX_SECRET:
        raise c.UserError("the secret on stdin is over 1 MiB (the Vault's max_value_size)")
    if args.binary:
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise c.UserError("stdin is not UTF-8 text; pass --binary to store raw bytes") from None


def cmd_put(args: argparse.Namespace) -> int:
    c.check_name(args.name)
    ring = c.keyring(args)  # fail on a missing keyring before asking for the secret
    value = _read_secret(args)
    if not value:
        raise c.UserError("refusing to store an empty secret")
    with Vault(c.url(args), keyring=ring, namespace=args.namespace, **c.connection_options(args)) as v:
        v.put(args.name, value, ttl=args.ttl)
    if args.json:
        c.print_json({"name": args.name, "namespace": args.namespace, "stored": True, "ttl": args.ttl})
    else:
        print(f"stored {args.name!r} in namespace {args.namespace!r}", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    c.check_name(args.name)
    with c.vault(args) as v:
        secret = v.get(args.name)
    if secret is None:
        if args.json:
            c.print_json({"name": args.name, "found": False})
        else:
            print(f"keyseal: no secret named {args.name!r}", file=sys.stderr)
        return 1
    if args.json:
        shown: str = secret.reveal() if args.reveal else str(secret)
        c.print_json({"name": args.name, "found": True, "value": shown, "revealed": bool(args.reveal)})
    elif args.reveal:
        data = secret.reveal_bytes()
        sys.stdout.flush()
        sys.stdout.buffer.write(data + (b"\n" if not data.endswith(b"\n") else b""))
    else:
        print(secret)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    c.check_name(args.name)
    with c.vault(args) as v:
        deleted = v.delete(args.name)
    if args.json:
        c.print_json({"name": args.name, "deleted": deleted})
    elif not deleted:
        print(f"keyseal: no secret named {args.name!r}", file=sys.stderr)
    return 0 if deleted else 1


def cmd_ttl(args: argparse.Namespace) -> int:
    c.check_name(args.name)
    with c.vault(args) as v:
        left = v.ttl(args.name)
    if args.json:
        ttl = None if left is None or math.isinf(left) else round(left, 3)
        c.print_json({"name": args.name, "found": left is not None, "ttl": ttl, "forever": left == math.inf})
    elif left is None:
        print(f"keyseal: no secret named {args.name!r}", file=sys.stderr)
    else:
        print("forever" if math.isinf(left) else f"{left:.3f}")
    return 1 if left is None else 0


def cmd_rewrap(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise c.UserError("--batch-size must be at least 1")
    last: list[RewrapProgress] = []
    with c.vault(args) as v, c.progress("rewrap") as bar:

        def report(p: RewrapProgress) -> None:
            last[:] = [p]
            bar.update(completed=p.scanned, note=f"re-sealed {p.rewrapped:,}  failed {p.failed:,}")

        done = v.rewrap(batch_size=args.batch_size, progress=report)
        primary = c.keyring(args).primary_id
    p = last[0] if last else None
    failed = p.failed if p else 0
    if args.json:
        c.print_json(
            {
                "rewrapped": done,
                "scanned": p.scanned if p else 0,
                "current": p.current if p else 0,
                "failed": failed,
                "primary_key_id": primary,
            }
        )
    else:
        print(f"re-sealed {done} value(s) under key {primary}; {failed} could not be opened")
    return 1 if failed else 0
