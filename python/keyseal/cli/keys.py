"""``keyseal keygen``: a new keyring, or the current one with a fresh primary key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from keyseal._native import Keyring
from keyseal.cli import _common as c

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = c.add_command(
        subparsers,
        "keygen",
        help="print a new keyring (for KEYSEAL_KEYS), or with --rotate the current one plus a new primary",
        example="""
            export KEYSEAL_KEYS="$(keyseal keygen)"
            export KEYSEAL_KEYS="$(keyseal keygen --rotate)"     # then: keyseal rewrap
        """,
    )
    p.add_argument(
        "--rotate", action="store_true", help="add a new primary key to the keyring in the environment"
    )
    c.add_keyring_options(p)
    c.add_json(p)
    p.set_defaults(func=cmd_keygen)


def cmd_keygen(args: argparse.Namespace) -> int:
    ring = c.keyring(args).rotated() if args.rotate else Keyring.generate()
    if args.json:
        c.print_json({"keyring": ring.export(), "primary_key_id": ring.primary_id, "key_ids": ring.key_ids})
    else:
        print(ring.export())
        print(f"primary key id: {ring.primary_id}", file=sys.stderr)
    return 0
