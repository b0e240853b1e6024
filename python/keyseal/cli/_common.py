"""What every command group shares: the parser class, store options, user errors, output helpers."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from keyseal._native import Keyring, Vault

# Secrets are read whole into memory: the Vault refuses values over this size anyway (its default
# max_value_size), so reading one byte more than this is enough to tell the user.
MAX_SECRET = 1 << 20
# Longer than any sensible expiry (100 years), and far below the 64-bit millisecond count Redis keeps.
MAX_TTL = 100 * 365 * 24 * 3600.0


class UserError(Exception):
    """A mistake the user can fix (a bad option, a missing file): one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) and examples kept as written in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def add_command(
    subparsers: Any, name: str, *, help: str, example: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with an example."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description or help[0].upper() + help[1:] + ".",
        epilog="example:\n" + textwrap.indent(textwrap.dedent(example).strip("\n"), "  "),
    )
    return parser


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def add_keyring_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keys-env", default="KEYSEAL_KEYS", metavar="VAR", help="environment variable holding the keyring"
    )
    p.add_argument("--keys-file", metavar="PATH", help="file holding the keyring text (instead of the env)")


def add_connection_options(p: argparse.ArgumentParser, *, url_positional: bool = False) -> None:
    """--url / KEYSEAL_URL and the TLS options, named as in the library (ssl_ca_certs...)."""
    if url_positional:
        p.add_argument("target", nargs="?", metavar="URL", help="Redis URL (or --url, or $KEYSEAL_URL)")
    p.add_argument(
        "--url",
        help="redis://, rediss://, redis+cluster://, unix:// or memory:// URL (default: $KEYSEAL_URL); "
        "the password may come from $KEYSEAL_REDIS_PASSWORD",
    )
    p.add_argument("--username", help="Redis ACL user (default: the URL's)")
    p.add_argument(
        "--ca-certs", metavar="PEM", help="CA bundle that signs the server certificate (rediss://)"
    )
    p.add_argument("--certfile", metavar="PEM", help="client certificate for mutual TLS")
    p.add_argument("--keyfile", metavar="PEM", help="client key for mutual TLS")
    p.add_argument(
        "--allow-plaintext", action="store_true", help="permit redis:// to a non-loopback host (unsafe)"
    )
    p.add_argument(
        "--timeout", type=positive_seconds, default=None, metavar="SECONDS", help="socket timeout (default 5)"
    )


def add_store_options(p: argparse.ArgumentParser) -> None:
    add_connection_options(p)
    p.add_argument("--namespace", default="default", help="the Vault namespace (default: %(default)s)")
    add_keyring_options(p)


def positive_seconds(text: str) -> float:
    """A finite number of seconds above zero and at most 100 years (argparse `type=`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, not {text!r}")
    if value > MAX_TTL:
        raise argparse.ArgumentTypeError(f"{text} s is over 100 years; leave the option out for no expiry")
    return value


def read_text_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except IsADirectoryError:
        raise UserError(f"{what} {path}: is a directory") from None
    except OSError as exc:
        raise UserError(f"{what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{what} {path}: not UTF-8 text") from None


def keyring(args: argparse.Namespace) -> Keyring:
    if args.keys_file:
        return Keyring.from_string(read_text_file(args.keys_file, "--keys-file").strip())
    text = os.environ.get(args.keys_env)
    if not text:
        raise UserError(
            f'no keyring: set ${args.keys_env} (e.g. export {args.keys_env}="$(keyseal keygen)") '
            "or pass --keys-file"
        )
    return Keyring.from_string(text.strip())


def url(args: argparse.Namespace) -> str:
    value: str | None = getattr(args, "target", None) or args.url or os.environ.get("KEYSEAL_URL")
    if not value:
        raise UserError("no store URL: pass --url or set KEYSEAL_URL (e.g. rediss://cache.example:6380/0)")
    return value


def connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Vault keyword options the connection flags stand for (no None values)."""
    opts: dict[str, Any] = {
        "username": args.username,
        "password": os.environ.get("KEYSEAL_REDIS_PASSWORD") or None,
        "ssl_ca_certs": args.ca_certs,
        "ssl_certfile": args.certfile,
        "ssl_keyfile": args.keyfile,
        "socket_timeout": args.timeout,
    }
    for flag in ("ca_certs", "certfile", "keyfile"):
        path = getattr(args, flag)
        if path is not None and not os.path.isfile(path):
            raise UserError(f"--{flag.replace('_', '-')} {path}: no such file")
    opts = {k: v for k, v in opts.items() if v is not None}
    if args.allow_plaintext:
        opts["allow_plaintext"] = True
    return opts


def vault(args: argparse.Namespace) -> Vault:
    return Vault(url(args), keyring=keyring(args), namespace=args.namespace, **connection_options(args))


def check_name(name: str) -> str:
    """The Vault's own name rule, checked before anything is read from stdin."""
    if not name:
        raise UserError("the name is empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise UserError("the name contains a control character")
    if name != name.strip():
        raise UserError("the name starts or ends with whitespace")
    if len(name.encode("utf-8", "surrogatepass")) > 1024:
        raise UserError("the name is longer than 1,024 bytes")
    return name


def show_progress() -> bool:
    """Progress bars only for a person watching: stderr is a terminal and not turned off."""
    return sys.stderr.isatty() and os.environ.get("KEYSEAL_NO_PROGRESS", "") in ("", "0")


@contextmanager
def progress(description: str, total: int | None = None, *, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr when it is a terminal, else a do-nothing stand-in.

    Yields an object with ``update(advance=..., completed=..., total=..., note=...)``.
    """
    if not enabled or not show_progress():
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
        # Results stay on stdout, where pipes and redirections expect them.
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bar:
        task = bar.add_task(description, total=total, note="")
        yield _RichProgress(bar, task)


class _NoProgress:
    def update(self, **_: Any) -> None:
        return None


class _RichProgress:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task

    def update(self, **fields: Any) -> None:
        self._bar.update(self._task, **fields)
