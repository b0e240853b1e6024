"""Framework shims against what Flask and FastAPI apps do today, as ratios measured in the same run.

Issue 11, point 5:
- Flask-Caching: ``keyseal.flask.EncryptedRedisCache`` get and set against flask_caching's own
  ``RedisCache`` (redis-py, pickle, no encryption); target >= 1.5x each.
- FastAPI: an endpoint reading one secret through ``VaultDep`` (``await vault.aget``), driven by
  200 concurrent httpx.AsyncClient requests over ASGITransport, against the same endpoint doing
  a redis.asyncio GET (target >= 1.0x) and a redis.asyncio GET + Fernet decrypt (>= 1.5x).

A throwaway redis-server on 127.0.0.1 is started here and stopped at exit. Contenders run in
alternating rounds and the medians are compared, since the 2-core VM is noisy.

    nice .venv/bin/python bench/bench_frameworks.py [--quick] [--only flask fastapi]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import redis.asyncio as redis_async
from cryptography.fernet import Fernet
from fastapi import Depends, FastAPI, Request

import keyseal
from _results import Row, finish, record
from _servers import start_server, stop_all
from keyseal.fastapi import VaultDep, lifespan

SECRET = "sk-live-" + "x" * 40
NAME = "api_key:service_a"
FERNET = Fernet(Fernet.generate_key())
# A value the way apps cache things: a small dict (pickled by both backends).
CACHED = {"api_key": SECRET, "expires": 1_767_225_600, "scopes": ["read", "write"]}


def report(name: str, ours: float, peer: float, peer_name: str, target: float, unit: str) -> None:
    record(Row("frameworks", name, ours, peer, peer_name, target, unit))


def medians(rates: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in rates.items()}


# ---- Flask-Caching ---------------------------------------------------------------------------


def bench_flask(port: int, ops: int, n_rounds: int) -> None:
    from flask_caching.backends.rediscache import RedisCache

    from keyseal.flask import EncryptedRedisCache

    ring = keyseal.Keyring.generate()
    ours = EncryptedRedisCache("127.0.0.1", port, keyring=ring, key_prefix="bench_", namespace="bench")
    peer = RedisCache("127.0.0.1", port, key_prefix="bench_plain_")
    caches = {"ours": ours, "peer": peer}
    for cache in caches.values():
        cache.set("warm", CACHED)
        assert cache.get("warm") == CACHED

    def setter(cache: Any) -> Callable[[], None]:
        def run() -> None:
            for i in range(ops):
                cache.set(f"k{i % 100}", CACHED)

        return run

    def getter(cache: Any) -> Callable[[], None]:
        def run() -> None:
            for i in range(ops):
                cache.get(f"k{i % 100}")

        return run

    for op, make in (("set", setter), ("get", getter)):
        rates: dict[str, list[float]] = {k: [] for k in caches}
        runs = {k: make(c) for k, c in caches.items()}
        for _ in range(n_rounds):
            for k, run in runs.items():
                t = time.perf_counter()
                run()
                rates[k].append(ops / (time.perf_counter() - t))
        m = medians(rates)
        report(f"Flask-Caching {op}", m["ours"], m["peer"], f"flask_caching RedisCache {op}", 1.5, "op/s")
    assert ours.get("k1") == CACHED
    ours.clear()
    ours.close()
    peer.clear()


# ---- FastAPI ---------------------------------------------------------------------------------


async def get_redis(request: Request) -> Any:
    return request.app.state.redis


# Module level: endpoint annotations are strings (PEP 563) that FastAPI resolves in module globals.
RedisDep = Annotated[Any, Depends(get_redis)]


def redis_app(port: int, *, fernet: bool) -> FastAPI:
    @asynccontextmanager
    async def redis_lifespan(app: FastAPI) -> AsyncIterator[None]:
        # redis-py's default pool refuses a 101st connection; a blocking pool of 50, as in
        # bench_vault.py, is what an app serving this concurrency would configure.
        pool = redis_async.BlockingConnectionPool(host="127.0.0.1", port=port, max_connections=50)
        app.state.redis = redis_async.Redis(connection_pool=pool)
        yield
        await app.state.redis.aclose()
        await pool.aclose()

    app = FastAPI(lifespan=redis_lifespan)
    if fernet:

        @app.get("/quote")
        async def quote_fernet(client: RedisDep) -> dict[str, int]:
            key = FERNET.decrypt(await client.get(NAME + ":fernet")).decode()
            return {"n": len(key)}

    else:

        @app.get("/quote")
        async def quote_plain(client: RedisDep) -> dict[str, int]:
            key = (await client.get(NAME)).decode()
            return {"n": len(key)}

    return app


def keyseal_app(url: str, ring: keyseal.Keyring) -> FastAPI:
    app = FastAPI(lifespan=lifespan(url=url, keyring=ring, namespace="bench"))

    @app.get("/quote")
    async def quote(vault: VaultDep) -> dict[str, int]:
        secret = await vault.aget(NAME)
        assert secret is not None
        return {"n": len(secret.reveal())}

    return app


async def fastapi_rounds(url: str, port: int, concurrency: int, n_rounds: int) -> dict[str, float]:
    ring = keyseal.Keyring.generate()
    with keyseal.Vault(url, keyring=ring, namespace="bench") as seed:
        seed.put(NAME, SECRET)
    raw = redis_async.Redis(host="127.0.0.1", port=port)
    await raw.set(NAME, SECRET)
    await raw.set(NAME + ":fernet", FERNET.encrypt(SECRET.encode()))
    await raw.aclose()
    bare = FastAPI()

    @bare.get("/quote")
    async def quote_bare() -> dict[str, int]:  # no store at all: what the framework and transport cost
        return {"n": len(SECRET)}

    apps = {
        "keyseal": keyseal_app(url, ring),
        "plain": redis_app(port, fernet=False),
        "fernet": redis_app(port, fernet=True),
        "bare": bare,
    }
    rates: dict[str, list[float]] = {k: [] for k in apps}
    async with (
        apps["keyseal"].router.lifespan_context(apps["keyseal"]),
        apps["plain"].router.lifespan_context(apps["plain"]),
        apps["fernet"].router.lifespan_context(apps["fernet"]),
    ):
        clients = {
            k: httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://bench")
            for k, a in apps.items()
        }

        def burst(client: httpx.AsyncClient) -> Callable[[], Awaitable[list[httpx.Response]]]:
            async def go() -> list[httpx.Response]:
                return await asyncio.gather(*(client.get("/quote") for _ in range(concurrency)))

            return go

        runs = {k: burst(c) for k, c in clients.items()}
        for run in runs.values():  # warm-up: connection pools filled, routes compiled
            replies = await run()
            assert all(r.json() == {"n": len(SECRET)} for r in replies), replies[0].text
        for _ in range(n_rounds):
            for k, run in runs.items():
                t = time.perf_counter()
                await run()
                rates[k].append(concurrency / (time.perf_counter() - t))
        for c in clients.values():
            await c.aclose()
    return medians(rates)


def bench_fastapi(url: str, port: int, concurrency: int, n_rounds: int) -> None:
    m = asyncio.run(fastapi_rounds(url, port, concurrency, n_rounds))
    label = f"FastAPI {concurrency} concurrent"
    report(label, m["keyseal"], m["plain"], "redis.asyncio GET (pool 50), no encrypt.", 1.0, "req/s")
    report(label, m["keyseal"], m["fernet"], "redis.asyncio GET (pool 50) + Fernet", 1.5, "req/s")
    print(f"{'(context)':<30} the same endpoint without any store: {m['bare']:,.0f} req/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs (smoke)")
    parser.add_argument("--only", nargs="*", default=None, help="flask fastapi")
    parser.add_argument("--json", help="append the rows to this JSON file (for bench/chart.py)")
    args = parser.parse_args()
    ops, n_rounds = (500, 5) if args.quick else (3000, 9)
    wanted = set(args.only or ["flask", "fastapi"])
    with tempfile.TemporaryDirectory(prefix="keyseal-bench-") as tmp:
        try:
            server = start_server(Path(tmp) / "plain")
            if "flask" in wanted:
                bench_flask(server.port, ops, n_rounds)
            if "fastapi" in wanted:
                bench_fastapi(server.url, server.port, 200, n_rounds * 2)
        finally:
            stop_all()
    return finish(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
