"""The ``keyseal`` command line: the parser is assembled here from one module per command group.

Each group module exposes ``register(subparsers)``, adding its parser(s) with
``set_defaults(func=handler)`` where ``handler(args) -> int`` is the exit status. Exit statuses,
for every command: 0 success; 1 the answer is "no" (``get``/``delete``/``ttl``: no such secret;
``scan``: secrets found; ``audit``: a finding at or above ``--fail-on``; ``rewrap``: values that
could not be opened); 2 a user or connection error (one line on stderr, no traceback);
130 interrupted (Ctrl-C); 141 the reader of our output went away (``| head -1``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from keyseal.cli import _common
from keyseal.cli._common import UserError
from keyseal.exceptions import KeysealError

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the signal

# Command groups, in the order `keyseal --help` lists them. Optional ones (written on other
# branches) are registered when they exist.
_GROUPS = (
    "keyseal.cli.keys",
    "keyseal.cli.secrets",
    "keyseal.cli.redact",
    "keyseal.cli.audit",
    "keyseal._apikey_cli",
    "keyseal.cli.demo",
    "keyseal.cli.completion",
    "keyseal.cli.version",
)


def _group(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # the module itself is absent; a broken import inside it still raises
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    from keyseal.cli.version import version_line

    parser = _common.Parser(
        prog="keyseal",
        description="Sealed secrets in Redis, and out of your logs.",
        epilog="exit status: 0 ok, 1 'no' (not found, secrets found, findings), 2 error, 130 interrupted.\n"
        "Every command has --help with an example.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_common.Parser)
    sub.required = True
    for name in _GROUPS:
        module = _group(name)
        if module is not None:
            module.register(sub)
    return parser


def _error(message: str) -> int:
    print(f"keyseal: {message}", file=sys.stderr)
    return EXIT_USAGE


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the reader gone that flush would print a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code: int = args.func(args)
        sys.stdout.flush()
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print("\nkeyseal: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except UserError as exc:
        return _error(str(exc))
    except KeysealError as exc:
        return _error(f"{type(exc).__name__}: {exc}")
    except ValueError as exc:  # the library's message for a bad name, TTL or value size
        return _error(str(exc))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        where = f" {exc.filename}:" if exc.filename else ""
        _silence_stdout()  # output that failed (/dev/full) must not fail again at exit
        return _error(f"cannot read or write{where} {exc.strerror or exc}")
    return code
