"""Django cache benchmarks: keyseal's EncryptedRedisCache (sealed) against django-redis and Django's
own RedisCache (both unencrypted), through ``caches[...]``, as ratios measured in the same run.

Issue 9 targets: get+set of a small value >= 1.5x django-redis and >= 2x Django's RedisCache;
get_many of 100 keys >= 3x django-redis; 20,000 concurrent ``aget`` via asyncio.gather >= 10x
Django's RedisCache ``aget``. One throwaway redis-server on 127.0.0.1; contenders run in
alternating rounds and medians are compared.

    nice .venv/bin/python bench/bench_django.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import django
from django.conf import settings

import keyseal
from _results import Row, finish, record
from _servers import start_server, stop_all

VALUE = "v" * 40


def rounds(contenders: dict[str, Callable[[], int]], n_rounds: int) -> dict[str, float]:
    """Each contender once per round, alternating; each one's median ops/s."""
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(n_rounds):
        for name, fn in contenders.items():
            t = time.perf_counter()
            ops = fn()
            rates[name].append(ops / (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in rates.items()}


def report(what: str, ours: float, peer: float, peer_name: str, target: float) -> None:
    record(Row("django", what, ours, peer, peer_name, target, "ops/s"))


def configure(url: str) -> None:
    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=[],
        CACHES={
            "default": {
                "BACKEND": "keyseal.django.EncryptedRedisCache",
                "LOCATION": url,
                "OPTIONS": {"KEYRING": keyseal.Keyring.generate().export(), "NAMESPACE": "bench"},
            },
            "django_redis": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "dr",
            },
            "django": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "dj",
            },
        },
    )
    django.setup()


def bench(scale: int, n_rounds: int) -> None:
    from django.core.cache import caches

    names = ("default", "django_redis", "django")
    n = 2000 * scale

    def get_set(cache: Any) -> Callable[[], int]:
        def go() -> int:
            for _ in range(n):
                cache.set("small", VALUE)
                cache.get("small")
            return 2 * n

        return go

    r = rounds({name: get_set(caches[name]) for name in names}, n_rounds)
    report("get+set small value", r["default"], r["django_redis"], "django-redis", 1.5)
    report("get+set small value", r["default"], r["django"], "Django RedisCache", 2.0)

    keys = [f"k{i}" for i in range(100)]
    for name in names:
        caches[name].set_many(dict.fromkeys(keys, VALUE))
    m = 200 * scale

    def get_many(cache: Any) -> Callable[[], int]:
        def go() -> int:
            for _ in range(m):
                assert len(cache.get_many(keys)) == 100
            return m

        return go

    r = rounds({name: get_many(caches[name]) for name in ("default", "django_redis")}, n_rounds)
    report("get_many of 100 keys", r["default"], r["django_redis"], "django-redis", 3.0)

    total = 20_000

    def gathered(name: str) -> Callable[[], int]:
        async def run() -> int:
            cache = caches[name]
            got = await asyncio.gather(*(cache.aget("small") for _ in range(total)))
            assert got[0] == VALUE
            return total

        return lambda: asyncio.run(run())

    r = rounds({name: gathered(name) for name in ("default", "django")}, max(3, n_rounds - 2))
    report("20,000 gathered aget", r["default"], r["django"], "Django RedisCache", 10.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--json", help="append the rows to this JSON file (for bench/chart.py)")
    args = parser.parse_args()
    scale, n_rounds = (1, 3) if args.quick else (2, 5)
    with tempfile.TemporaryDirectory(prefix="keyseal-bench-django-") as tmp:
        try:
            server = start_server(Path(tmp) / "plain")
            configure(server.url)
            bench(scale, n_rounds)
        finally:
            stop_all()
    return finish(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
