"""``manage.py keyseal keygen | rewrap [--cache NAME] | check-keys [--cache NAME]``.

Each subcommand is one entry in ``SUBCOMMANDS``: a help line, a function that adds its arguments
and a function that runs it (``(command, options) -> None``). More subcommands plug in by adding
an entry.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError

from keyseal._native import Keyring, RewrapProgress, Vault
from keyseal.exceptions import KeysealError

__all__ = ["SUBCOMMANDS", "Command", "Subcommand"]


@dataclass(frozen=True)
class Subcommand:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handle: Callable[[BaseCommand, dict[str, Any]], None]
    # A command group that adds its own parser (the `keyseal apikey` group of the CLI) sets this
    # instead of add_arguments being called on a parser made here.
    add_parser: Callable[[Any], None] | None = None


def _cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        default="default",
        metavar="NAME",
        help="the CACHES alias (a keyseal cache); default: default",
    )


def _keyseal_cache(name: str) -> Any:
    from keyseal.django.cache import EncryptedRedisCache

    try:
        cache = caches[name]
    except Exception as exc:  # InvalidCacheBackendError, ImproperlyConfigured
        raise CommandError(str(exc)) from None
    if not isinstance(cache, EncryptedRedisCache):
        raise CommandError(f"CACHES[{name!r}] is not a keyseal.django.EncryptedRedisCache")
    return cache


# -- keygen
def _keygen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="print the keyring of --cache with a fresh primary key (old keys kept to open old values)",
    )
    _cache_argument(parser)


def keygen(command: BaseCommand, options: dict[str, Any]) -> None:
    """Print a new keyring text (or the cache's keyring, rotated) on stdout; its primary id on stderr."""
    if options["rotate"]:
        ring: Keyring = _keyseal_cache(options["cache"]).settings.keyring.rotated()
    else:
        ring = Keyring.generate()
    command.stdout.write(ring.export())
    command.stderr.write(f"primary key id: {ring.primary_id}")


# -- rewrap
def _rewrap_arguments(parser: argparse.ArgumentParser) -> None:
    _cache_argument(parser)
    parser.add_argument("--batch-size", type=int, default=1000, help="keys per SCAN batch (default 1000)")


def rewrap(command: BaseCommand, options: dict[str, Any]) -> None:
    """Re-seal every value of the cache's namespace under the primary key; safe to interrupt and re-run."""
    cache = _keyseal_cache(options["cache"])
    vault: Vault = cache.vault
    tty = _isatty(command.stderr)
    last: list[tuple[int, int, int, int, int]] = []

    def progress(p: RewrapProgress) -> None:
        last[:] = [(p.scanned, p.rewrapped, p.current, p.raced, p.failed)]
        if tty:
            command.stderr.write(f"\rscanned {p.scanned}, re-sealed {p.rewrapped}", ending="")
            command.stderr.flush()

    try:
        count = vault.rewrap(batch_size=options["batch_size"], progress=progress)
    except KeysealError as exc:
        raise CommandError(
            f"rewrap stopped: {exc} (re-run to resume: values already re-sealed are skipped)"
        ) from None
    finally:
        if tty and last:
            command.stderr.write("")
    scanned, _, current, raced, failed = last[0] if last else (0, 0, 0, 0, 0)
    command.stdout.write(
        f"re-sealed {count} values under key {cache.settings.keyring.primary_id} "
        f"(scanned {scanned}, already current {current}, changed by a writer meanwhile {raced}, "
        f"failed to open {failed})"
    )


def _isatty(stream: Any) -> bool:
    inner = getattr(stream, "_out", stream)
    try:
        return bool(inner.isatty())
    except (AttributeError, ValueError):
        return False


# -- check-keys
def _check_keys_arguments(parser: argparse.ArgumentParser) -> None:
    _cache_argument(parser)
    parser.add_argument("--sample", type=int, default=10000, help="values to sample (default 10000)")


class _SampleDone(Exception):
    """Raised from a progress callback to end a sampling pass early."""


def _single_key_ring(ring: Keyring, key_id: str) -> Keyring:
    """``ring`` reduced to one sealing key (the naming key kept, so names do not move)."""
    return ring.only(key_id)


def _count_under(conf: Any, key_id: str, sample: int) -> tuple[int, int]:
    """(values sealed under ``key_id``, values looked at) over the first ``sample`` of the namespace.

    A rewrap with a keyring of that one key is read-only: values under it are already current, and
    no other value opens, so nothing is re-sealed. Stopping it after ``sample`` values makes it a
    sampling SCAN.
    """
    vault = Vault(
        conf.location,
        keyring=_single_key_ring(conf.keyring, key_id),
        namespace=conf.namespace,
        **conf.vault_options,
    )
    seen = [0, 0]

    def progress(p: RewrapProgress) -> None:
        seen[:] = [p.current, p.scanned]
        if p.scanned >= sample:
            raise _SampleDone

    quiet = logging.getLogger("keyseal.core.vault")
    old_level = quiet.level
    quiet.setLevel(logging.ERROR)  # the pass reports other keys' values as "failed to open"
    try:
        vault.rewrap(batch_size=min(sample, 1000), progress=progress)
    except _SampleDone:
        pass
    finally:
        quiet.setLevel(old_level)
        vault.close()
    return seen[0], seen[1]


def check_keys(command: BaseCommand, options: dict[str, Any]) -> None:
    """Which of the keyring's key ids the cache's values are sealed under, over a sample."""
    if options["sample"] < 1:
        raise CommandError("--sample must be at least 1")
    cache = _keyseal_cache(options["cache"])
    conf = cache.settings
    ring = conf.keyring
    counts: dict[str, int] = {}
    looked_at = 0
    for key_id in ring.key_ids:
        counts[key_id], scanned = _count_under(conf, key_id, options["sample"])
        looked_at = max(looked_at, scanned)
    command.stdout.write(f"sampled {looked_at} values of namespace {conf.namespace!r}")
    for key_id in ring.key_ids:
        role = "primary" if key_id == ring.primary_id else "older key"
        command.stdout.write(f"{key_id}  {counts[key_id]:>10}  {role}")
    other = looked_at - sum(counts.values())
    if other > 0:
        command.stdout.write(f"{'other':<8}  {other:>10}  under no key of this keyring (or tampered)")
    if any(counts[k] for k in ring.key_ids if k != ring.primary_id):
        command.stdout.write(
            "values under older keys remain: run `manage.py keyseal rewrap` before retiring them"
        )


# -- audit
def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    _cache_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument("--sample", type=int, default=10_000, help="keys to sample (default 10000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="sampling ops/s (default 1000)")
    parser.add_argument(
        "--fail-on",
        default="high",
        choices=("critical", "high", "medium", "low", "info"),
        help="exit non-zero when a finding at or above this severity exists (default high)",
    )


def audit(command: BaseCommand, options: dict[str, Any]) -> None:
    """Audit the Redis behind a keyseal cache with that cache's own connection settings (read-only)."""
    import json

    from keyseal.audit import run_audit

    conf = _keyseal_cache(options["cache"]).settings
    report = run_audit(conf.location, sample=options["sample"], rate=options["rate"], **conf.vault_options)
    if options["html"]:
        try:
            with open(options["html"], "w", encoding="utf-8") as fh:
                fh.write(report.to_html())
        except OSError as exc:
            raise CommandError(f"--html {options['html']}: {exc.strerror}") from None
    if options["json"]:
        command.stdout.write(json.dumps(report.to_dict(options["fail_on"]), indent=2))
    else:
        command.stdout.write(report.to_text())
    if report.fails(options["fail_on"]):
        raise CommandError(f"findings at or above {options['fail_on']}: see the report above")


# -- apikey (issue, list, revoke, rotate on the KEYSEAL_API_KEYS setting)
def _apikey_parser(subparsers: Any) -> None:
    from keyseal.django.apikeys import register_apikey_command

    register_apikey_command(subparsers)


def apikey(command: BaseCommand, options: dict[str, Any]) -> None:
    """Run the ``keyseal apikey`` action the arguments chose, on the project's ApiKeys."""
    status = options["func"](argparse.Namespace(**options))
    if status:
        raise CommandError(f"apikey: failed (exit status {status})")


SUBCOMMANDS: dict[str, Subcommand] = {
    "keygen": Subcommand("print a new keyring text (KEYSEAL_KEYS)", _keygen_arguments, keygen),
    "rewrap": Subcommand("re-seal a cache's values under the primary key", _rewrap_arguments, rewrap),
    "check-keys": Subcommand("count the key ids a cache's values use", _check_keys_arguments, check_keys),
    "audit": Subcommand("audit the security posture of a cache's Redis", _audit_arguments, audit),
    "apikey": Subcommand(
        "issue, list, revoke and rotate API keys", lambda _parser: None, apikey, add_parser=_apikey_parser
    ),
}


class Command(BaseCommand):
    requires_system_checks: ClassVar[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per instance, so entries added to SUBCOMMANDS after import are listed too.
        self.help = "keyseal: " + "; ".join(f"{name}: {sub.help}" for name, sub in SUBCOMMANDS.items())

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, sub in SUBCOMMANDS.items():
            if sub.add_parser is not None:
                sub.add_parser(subparsers)
            else:
                sub.add_arguments(subparsers.add_parser(name, help=sub.help, description=sub.help))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            SUBCOMMANDS[options["subcommand"]].handle(self, options)
        except KeysealError as exc:
            raise CommandError(str(exc)) from None
