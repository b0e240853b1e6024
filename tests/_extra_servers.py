"""Servers whose application user has only the least-privilege ACL rule of docs/redis.md.

conftest.py's `redis_acl` / `redis_cluster_acl` users have the broad `+@all -@dangerous`; the
helpers here start servers (through conftest's `redis_factory`) whose app user `app` has exactly
the documented rule, so the fault, load, rewrap and cluster suites run under it.
"""

from __future__ import annotations

import secrets
from typing import Any

# Keep in step with docs/redis.md ("Least-privilege ACL user").
SINGLE_NODE_RULE = (
    "resetkeys ~ks:* resetchannels -@all "
    "+get +mget +set +unlink +exists +pttl +pexpire +persist +type +scan +eval "
    "+ping +hello +auth +select"
)
CLUSTER_EXTRA = "+cluster|slots +asking"
CLUSTER_RULE = f"{SINGLE_NODE_RULE} {CLUSTER_EXTRA}"
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
