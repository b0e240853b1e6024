"""``keyseal apikey issue|list|revoke|rotate``: the command group, registered by ``keyseal.cli``.

The token is printed once, on stdout, by ``issue`` and ``rotate``; everything else goes to stderr or,
with ``--json``, into one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from keyseal._apikey_glue import api_keys_from
from keyseal._native import ApiKey, ApiKeys, IssuedKey
from keyseal.exceptions import KeysealError

__all__ = ["main", "register"]

_Factory = Callable[[], ApiKeys]


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="store URL (default: $KEYSEAL_URL); password from $KEYSEAL_REDIS_PASSWORD")
    p.add_argument("--keys-env", default="KEYSEAL_KEYS", help="environment variable holding the keyring")
    p.add_argument("--keys-file", help="file holding the keyring text (instead of the environment)")
    p.add_argument("--namespace", default="apikeys", help="API keys namespace (default: apikeys)")
    p.add_argument("--prefix", default="ks", help="token prefix (default: ks)")
    p.add_argument("--ca-certs", help="CA bundle for rediss://")
    p.add_argument("--certfile", help="client certificate for rediss://")
    p.add_argument("--keyfile", help="client key for rediss://")
    p.add_argument("--allow-plaintext", action="store_true", help="allow redis:// to a non-loopback host")


def _from_args(args: argparse.Namespace) -> ApiKeys:
    url = args.url or os.environ.get("KEYSEAL_URL")
    if not url:
        raise KeysealError("no store URL: pass --url or set KEYSEAL_URL")
    cfg: dict[str, Any] = {
        "URL": url,
        "KEYS_ENV": args.keys_env,
        "PREFIX": args.prefix,
        "NAMESPACE": args.namespace,
        "OPTIONS": {
            "ssl_ca_certs": args.ca_certs,
            "ssl_certfile": args.certfile,
            "ssl_keyfile": args.keyfile,
            "allow_plaintext": args.allow_plaintext,
        },
    }
    if args.keys_file:
        with open(args.keys_file, encoding="utf-8") as fh:
            cfg["KEYRING"] = fh.read().strip()
    return api_keys_from(cfg)


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _as_dict(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "scopes": sorted(key.scopes),
        "label": key.label,
        "created_at": _iso(key.created_at),
        "expires_at": _iso(key.expires_at),
        "last_used_at": _iso(key.last_used_at),
        "revoked": key.revoked,
        "client_cert": key.client_cert,
    }


def _print_issued(issued: IssuedKey, as_json: bool) -> None:
    # The one place a token is ever shown.
    token = issued.token.reveal()
    if as_json:
        print(json.dumps({"token": token, **_as_dict(issued.key)}))
    else:
        print(token)
        key = issued.key
        print(
            f"key {key.key_id} for {key.owner!r}, scopes {sorted(key.scopes)}, "
            f"expires {_iso(key.expires_at) or 'never'}: store the token now, it is not shown again",
            file=sys.stderr,
        )


def _handler(factory: _Factory | None, run: Callable[[ApiKeys, argparse.Namespace], int]) -> Any:
    def handle(args: argparse.Namespace) -> int:
        try:
            keys = factory() if factory is not None else _from_args(args)
            return run(keys, args)
        except (KeysealError, ValueError, TypeError) as exc:
            print(f"keyseal apikey: {exc}", file=sys.stderr)
            return 2

    return handle


def _issue(keys: ApiKeys, args: argparse.Namespace) -> int:
    issued = keys.issue(
        args.owner, scopes=args.scope or (), ttl=args.ttl, label=args.label, client_cert=args.client_cert
    )
    _print_issued(issued, args.json)
    return 0


def _list(keys: ApiKeys, args: argparse.Namespace) -> int:
    found = keys.list(args.owner, include_revoked=args.all)
    if args.json:
        print(json.dumps([_as_dict(k) for k in found]))
        return 0
    for k in found:
        state = "revoked" if k.revoked else "active"
        print(
            f"{k.key_id}  {state:7}  {','.join(sorted(k.scopes)) or '-'}  "
            f"created {_iso(k.created_at)}  expires {_iso(k.expires_at) or 'never'}  "
            f"last used {_iso(k.last_used_at) or 'never'}  {k.label or ''}".rstrip()
        )
    return 0


def _revoke(keys: ApiKeys, args: argparse.Namespace) -> int:
    done = keys.revoke(args.key_id)
    print(f"revoked {args.key_id}" if done else f"no live key {args.key_id}", file=sys.stderr)
    return 0 if done else 1


def _rotate(keys: ApiKeys, args: argparse.Namespace) -> int:
    _print_issued(keys.rotate(args.key_id, grace=args.grace), args.json)
    return 0


_EXAMPLE = """example:
  export KEYSEAL_URL=rediss://cache:6380/0 KEYSEAL_KEYS="$(cat keys.txt)"
  keyseal apikey issue acme --scope read --scope write --ttl 7776000
  keyseal apikey list acme --json
  keyseal apikey rotate 3fZk9QbX --grace 3600
  keyseal apikey revoke 3fZk9QbX"""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], *, api_keys: _Factory | None = None
) -> None:
    """Add ``apikey`` and its subcommands. With ``api_keys`` (e.g. from Django settings) the store
    options are not offered: the factory decides."""
    top = subparsers.add_parser(
        "apikey",
        help="issue, list, revoke and rotate API keys",
        description="Issue, list, revoke and rotate API keys (kept only as keyed digests in sealed records).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXAMPLE,
    )
    sub = top.add_subparsers(dest="apikey_command", required=True)

    def add(
        name: str, help_: str, run: Callable[[ApiKeys, argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        if api_keys is None:
            _store_options(p)
        p.set_defaults(func=_handler(api_keys, run))
        return p

    p = add("issue", "issue a key; the token is printed once", _issue)
    p.add_argument("owner")
    p.add_argument("--scope", action="append", help="a scope (repeat for more)")
    p.add_argument("--ttl", type=float, help="seconds until the key expires (default: never)")
    p.add_argument("--label")
    p.add_argument("--client-cert", help="bind to this client certificate SHA-256 fingerprint")
    p.add_argument("--json", action="store_true", help="print one JSON object, token included")

    p = add("list", "an owner's keys, newest first", _list)
    p.add_argument("owner")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.add_argument("--json", action="store_true")

    p = add("revoke", "revoke a key by its id", _revoke)
    p.add_argument("key_id")

    p = add("rotate", "a new key like the old one; the new token is printed once", _rotate)
    p.add_argument("key_id")
    p.add_argument("--grace", type=float, default=0.0, help="seconds the old token keeps working")
    p.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m keyseal._apikey_cli apikey ...``: this group alone (``keyseal apikey`` once assembled)."""
    parser = argparse.ArgumentParser(prog="keyseal")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
