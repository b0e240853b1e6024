"""``keyseal version`` (and ``keyseal --version``): the package version and what it was built with."""

from __future__ import annotations

import argparse
import platform
from typing import Any

import keyseal
from keyseal.cli import _common as c

__all__ = ["register", "version_line"]


def version_line() -> str:
    return f"keyseal {keyseal.__version__} (Python {platform.python_version()}, {platform.machine()})"


def register(subparsers: Any) -> None:
    p = c.add_command(subparsers, "version", help="print keyseal's version", example="keyseal version --json")
    c.add_json(p)
    p.set_defaults(func=cmd_version)


def cmd_version(args: argparse.Namespace) -> int:
    if args.json:
        c.print_json(
            {
                "keyseal": keyseal.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    else:
        print(version_line())
    return 0
