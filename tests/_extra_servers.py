"""Servers whose application user has only the least-privilege ACL rule of docs/redis.md.

conftest.py's `redis_acl` / `redis_cluster_acl` users have the broad `+@all -@dangerous`; the
helpers here start servers (through conftest's `redis_factory`) whose app user `app` has exactly
the documented rule, so the fault, load, rewrap and cluster suites run under it.
"""

from __future__ import annotations

import secrets
from typing import Any

# Keep in step with docs/redis.md ("Least-privilege ACL user"). Every command here is needed:
# tests/test_least_privilege.py drops each in turn and watches the Vault fail.
KEY_RULE = "resetkeys ~ks:* resetchannels -@all"
SINGLE_NODE_COMMANDS = "+getrange +set +unlink +exists +pttl +pexpire +persist +scan +eval"
SINGLE_NODE_RULE = f"{KEY_RULE} {SINGLE_NODE_COMMANDS}"
# Only for a database other than 0 (a cluster has only database 0).
OTHER_DB_EXTRA = "+select"
# A cluster client needs the slot map; ASKING is sent only while a slot migrates (resharding),
# which the suite does not exercise.
CLUSTER_COMMANDS = SINGLE_NODE_COMMANDS + " +cluster|slots +asking"
CLUSTER_RULE = f"{KEY_RULE} {CLUSTER_COMMANDS}"
APP_USER = "app"


def least_privilege_server(redis_factory: Any, name: str, **config: Any) -> Any:
    """A single server (any extra ServerConfig fields, e.g. aof=True) whose `.url` is the app user's."""
    return redis_factory.server(
        name, acl_user=APP_USER, acl_password=secrets.token_urlsafe(18), acl_rule=SINGLE_NODE_RULE, **config
    )


def least_privilege_cluster(redis_factory: Any, name: str, **config: Any) -> Any:
    """A 3-master cluster whose `.url` (redis+cluster://app:PW@...) is the app user's."""
    return redis_factory.cluster(
        name, acl_user=APP_USER, acl_password=secrets.token_urlsafe(18), acl_rule=CLUSTER_RULE, **config
    )


# A TCP proxy to a Redis server that holds every reply back for DELAY seconds, run as a separate
# process (so it never competes for this interpreter's GIL). Connections are served concurrently.
_SLOW_PROXY = r"""
import asyncio, sys

UP_HOST, UP_PORT, DELAY = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

async def pump(reader, writer, delay):
    try:
        while data := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

async def serve(client_r, client_w):
    try:
        up_r, up_w = await asyncio.open_connection(UP_HOST, UP_PORT)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pump(client_r, up_w, 0), pump(up_r, client_w, DELAY))

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


class SlowProxy:
    """`with SlowProxy(host, port, delay) as proxy:` then connect to 127.0.0.1:proxy.port."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_PROXY, host, str(port), str(delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())

    def __enter__(self) -> SlowProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
