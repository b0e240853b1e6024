"""The ``keyseal`` command: keygen, put, get, delete, rewrap, redact, scan, demo."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from keyseal._native import Keyring, RewrapProgress, Vault
from keyseal._redact_cli import add_redact_parsers
from keyseal.exceptions import KeysealError

__all__ = ["build_parser", "main"]


def _keyring(args: argparse.Namespace) -> Keyring:
    if args.keys_file:
        with open(args.keys_file, encoding="utf-8") as fh:
            return Keyring.from_string(fh.read().strip())
    return Keyring.from_env(args.keys_env)


def _vault(args: argparse.Namespace) -> Vault:
    url = args.url or os.environ.get("KEYSEAL_URL")
    if not url:
        raise KeysealError("no store URL: pass --url or set KEYSEAL_URL (e.g. rediss://cache.example:6380/0)")
    return Vault(
        url,
        keyring=_keyring(args),
        namespace=args.namespace,
        password=os.environ.get("KEYSEAL_REDIS_PASSWORD"),
        ssl_ca_certs=args.ca_certs,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        allow_plaintext=args.allow_plaintext,
    )


def _cmd_keygen(args: argparse.Namespace) -> int:
    ring = _keyring(args).rotated() if args.rotate else Keyring.generate()
    print(ring.export())
    print(f"primary key id: {ring.primary_id}", file=sys.stderr)
    return 0


def _cmd_put(args: argparse.Namespace) -> int:
    # The secret comes from stdin only: argv is visible to every user of the host (ps, /proc).
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"secret for {args.name}: ")
    else:
        value = sys.stdin.read()
        if value.endswith("\n") and not args.keep_newline:
            value = value[:-1]
    if not value:
        print("keyseal: refusing to store an empty secret", file=sys.stderr)
        return 2
    with _vault(args) as vault:
        vault.put(args.name, value, ttl=args.ttl)
    print(f"stored {args.name!r} in namespace {args.namespace!r}", file=sys.stderr)
    return 0


def _cmd_get(args: argparse.Namespace) -> int:
    with _vault(args) as vault:
        secret = vault.get(args.name)
    if secret is None:
        print(f"keyseal: no secret named {args.name!r}", file=sys.stderr)
        return 1
    print(secret.reveal() if args.reveal else secret)
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    with _vault(args) as vault:
        deleted = vault.delete(args.name)
    return 0 if deleted else 1


def _progress_bar(out: TextIO) -> tuple[object, list[RewrapProgress]]:
    started = time.perf_counter()
    last: list[RewrapProgress] = []

    def draw(p: RewrapProgress) -> None:
        last[:] = [p]
        rate = p.scanned / max(time.perf_counter() - started, 1e-9)
        out.write(
            f"\rrewrap: scanned {p.scanned:>10,}  re-sealed {p.rewrapped:>10,}  "
            f"current {p.current:>10,}  failed {p.failed:>6,}  {rate:>9,.0f}/s"
        )
        out.flush()

    return draw, last


def _cmd_rewrap(args: argparse.Namespace) -> int:
    draw, last = _progress_bar(sys.stderr)
    with _vault(args) as vault:
        done = vault.rewrap(batch_size=args.batch_size, progress=draw)  # type: ignore[arg-type]
    sys.stderr.write("\n")
    failed = last[0].failed if last else 0
    print(f"re-sealed {done} value(s) under key {vault_primary(args)}; {failed} could not be opened")
    return 1 if failed else 0


def vault_primary(args: argparse.Namespace) -> str:
    return _keyring(args).primary_id


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", help="store URL (default: $KEYSEAL_URL); the password may come from $KEYSEAL_REDIS_PASSWORD"
    )
    p.add_argument("--namespace", default="default")
    p.add_argument("--keys-env", default="KEYSEAL_KEYS", help="environment variable holding the keyring")
    p.add_argument("--keys-file", help="file holding the keyring text (instead of the environment)")
    p.add_argument("--ca-certs", help="CA bundle for rediss://")
    p.add_argument("--certfile", help="client certificate for mutual TLS")
    p.add_argument("--keyfile", help="client key for mutual TLS")
    p.add_argument(
        "--allow-plaintext", action="store_true", help="permit redis:// to a non-loopback host (unsafe)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keyseal", description="Sealed secrets in Redis, and out of your logs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("keygen", help="print a new keyring (for KEYSEAL_KEYS)")
    p.add_argument(
        "--rotate", action="store_true", help="add a new primary key to the keyring in the environment"
    )
    p.add_argument("--keys-env", default="KEYSEAL_KEYS")
    p.add_argument("--keys-file")
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser("put", help="store a secret read from stdin (never from the command line)")
    p.add_argument("name")
    p.add_argument("--ttl", type=float, default=None, help="seconds until it expires (default: never)")
    p.add_argument("--keep-newline", action="store_true", help="keep a trailing newline from stdin")
    _add_store_options(p)
    p.set_defaults(func=_cmd_put)

    p = sub.add_parser("get", help="fetch a secret (masked unless --reveal)")
    p.add_argument("name")
    p.add_argument("--reveal", action="store_true", help="print the secret itself")
    _add_store_options(p)
    p.set_defaults(func=_cmd_get)

    p = sub.add_parser("delete", help="delete a secret")
    p.add_argument("name")
    _add_store_options(p)
    p.set_defaults(func=_cmd_delete)

    p = sub.add_parser("rewrap", help="re-seal a namespace under the keyring's primary key")
    p.add_argument("--batch-size", type=int, default=1000)
    _add_store_options(p)
    p.set_defaults(func=_cmd_rewrap)

    add_redact_parsers(sub)

    p = sub.add_parser("demo", help="a short tour on the embedded memory:// store")
    p.set_defaults(func=_cmd_demo)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from keyseal._demo import run

    return run(sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeysealError as exc:
        print(f"keyseal: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nkeyseal: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
