"""keyseal.Vault on real redis-server processes (started by conftest.py on loopback ports).

Every test runs against a plain server, one with ``requirepass`` and one where the Vault logs in as
an ACL user limited to ``+@all -@dangerous``; each test uses its own key prefix and namespace, so the
raw keys it wrote can be found with SCAN through redis-py and inspected.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from _vaults import build_export, parse_export, redis_key
from keyseal import (
    DecryptionError,
    Keyring,
    RewrapProgress,
    Secret,
    StoreConnectionError,
    StoreError,
    Vault,
)

pytestmark = pytest.mark.redis

SERVERS = ["redis_plain", "redis_password", "redis_acl"]
KEY_SHAPE = re.compile(rb"^(?P<prefix>[A-Za-z0-9_.-]+):[A-Za-z0-9_-]{11}:[A-Za-z0-9_-]{22}$")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def inspector(server: Any) -> redis.Redis:
    """The fixture's redis-py client, made to return bytes (envelopes are binary)."""
    client = server.client()
    kwargs = dict(client.connection_pool.connection_kwargs)
    if kwargs.get("decode_responses"):
        kwargs["decode_responses"] = False
        client = redis.Redis(**kwargs)
    return client


class Env:
    """A vault on one server with a prefix of its own, plus raw access to what it wrote."""

    def __init__(self, server: Any, ring: Keyring | None = None, **options: Any) -> None:
        self.server = server
        self.ring = ring or Keyring.generate()
        self.prefix = "t" + uuid.uuid4().hex[:16]
        self.namespace = options.pop("namespace", "ns-" + uuid.uuid4().hex[:8])
        self.raw = inspector(server)
        self.vault = self.open(self.ring, namespace=self.namespace, **options)

    def open(self, ring: Keyring, **options: Any) -> Vault:
        options.setdefault("namespace", self.namespace)
        options.setdefault("key_prefix", self.prefix)
        return Vault(self.server.url, keyring=ring, **options)

    def keys(self) -> list[bytes]:
        return sorted(self.raw.scan_iter(match=f"{self.prefix}:*", count=1000))

    def key_of(self, name: str, vault: Vault | None = None) -> bytes:
        """The Redis key a name lives under, computed from the documented naming scheme."""
        namespace = vault.namespace if vault is not None else self.namespace
        return redis_key(self.ring, self.prefix, namespace, name)

    def cleanup(self) -> None:
        keys = self.keys()
        if keys:
            self.raw.delete(*keys)
        self.vault.close()


@pytest.fixture
def env(server: Any) -> Iterator[Env]:
    e = Env(server)
    yield e
    e.cleanup()


# ---------------------------------------------------------------------------------------------
# the basics


def test_put_get_delete_exists(env: Env) -> None:
    v = env.vault
    assert v.get("api-key") is None
    v.put("api-key", "sk_live_value")
    got = v.get("api-key")
    assert isinstance(got, Secret)
    assert got.reveal() == "sk_live_value"
    assert v.exists("api-key") is True
    assert len(env.keys()) == 1
    v.put("api-key", b"\x00binary\xff")
    got = v.get("api-key")
    assert got is not None
    assert got.reveal_bytes() == b"\x00binary\xff"
    assert len(env.keys()) == 1
    assert v.delete("api-key") is True
    assert v.delete("api-key") is False
    assert v.exists("api-key") is False
    assert env.keys() == []


def test_get_many_and_put_many(env: Env) -> None:
    v = env.vault
    items = {f"name-{i}": f"value-{i}" for i in range(120)}
    v.put_many(items)
    assert len(env.keys()) == 120
    got = v.get_many([*items, "missing-1", "missing-2"])
    assert set(got) == set(items)
    assert {k: s.reveal() for k, s in got.items()} == items
    assert v.get_many([]) == {}
    assert v.get_many(["missing"]) == {}


def test_values_survive_a_new_vault(env: Env) -> None:
    env.vault.put("k", "v")
    again = env.open(Keyring.from_string(env.ring.export()))
    assert again.get("k") == "v"
    again.close()


def test_two_vaults_share_a_client_but_close_separately(env: Env) -> None:
    other = env.open(env.ring)
    other.put("k", "v")
    other.close()
    with pytest.raises(StoreConnectionError):
        other.get("k")
    assert env.vault.get("k") == "v"


# ---------------------------------------------------------------------------------------------
# TTLs are real Redis expiries


def test_ttl_matches_pttl(env: Env) -> None:
    v = env.vault
    assert v.ttl("missing") is None
    v.put("forever", "v")
    assert v.ttl("forever") == math.inf
    assert env.raw.pttl(env.key_of("forever")) == -1
    v.put("minute", "v", ttl=60)
    pttl = env.raw.pttl(env.key_of("minute"))
    assert 58_000 < pttl <= 60_000
    left = v.ttl("minute")
    assert left is not None
    assert 58 < left <= 60
    assert abs(left - env.raw.pttl(env.key_of("minute")) / 1000) < 1.5


def test_ttl_float_and_timedelta(env: Env) -> None:
    v = env.vault
    v.put("f", "v", ttl=2.5)
    assert 2_000 < env.raw.pttl(env.key_of("f")) <= 2_500
    v.put("td", "v", ttl=timedelta(hours=1))
    assert 3_590_000 < env.raw.pttl(env.key_of("td")) <= 3_600_000
    v.put_many({"m1": "1", "m2": "2"}, ttl=timedelta(seconds=90))
    for name in ("m1", "m2"):
        assert 85_000 < env.raw.pttl(env.key_of(name)) <= 90_000


def test_default_ttl_and_none_override(server: Any) -> None:
    e = Env(server, default_ttl=45)
    try:
        v = e.vault
        assert v.default_ttl == 45.0
        v.put("default", "v")
        assert 43_000 < e.raw.pttl(e.key_of("default")) <= 45_000
        v.put("never", "v", ttl=None)
        assert e.raw.pttl(e.key_of("never")) == -1
        assert v.ttl("never") == math.inf
        v.put_many({"many": "v"})
        assert 43_000 < e.raw.pttl(e.key_of("many")) <= 45_000
        v.put("explicit", "v", ttl=7)
        assert 5_000 < e.raw.pttl(e.key_of("explicit")) <= 7_000
    finally:
        e.cleanup()


@pytest.mark.parametrize("bad", [0, -1, 0.0, timedelta(0), timedelta(seconds=-1), math.inf, math.nan])
def test_bad_ttls_are_value_errors(env: Env, bad: Any) -> None:
    with pytest.raises(ValueError):
        env.vault.put("k", "v", ttl=bad)
    with pytest.raises(ValueError):
        env.vault.put_many({"k": "v"}, ttl=bad)
    assert env.keys() == []


def test_expiry_really_happens(env: Env) -> None:
    v = env.vault
    v.put("short", "v", ttl=0.2)
    v.put("long", "v", ttl=60)
    key = env.key_of("short")
    assert env.raw.exists(key) == 1
    time.sleep(0.4)
    assert env.raw.exists(key) == 0
    assert v.get("short") is None
    assert v.exists("short") is False
    assert v.ttl("short") is None
    assert set(v.get_many(["short", "long"])) == {"long"}


# ---------------------------------------------------------------------------------------------
# names, namespaces, opaque keys


@pytest.mark.parametrize("bad", ["", "a\x00b", "new\nline", " lead", "trail ", "x" * 1025, "é" * 513])
def test_bad_names_are_value_errors(env: Env, bad: str) -> None:
    for call in (
        lambda: env.vault.put(bad, "v"),
        lambda: env.vault.get(bad),
        lambda: env.vault.get_many([bad]),
        lambda: env.vault.delete(bad),
        lambda: env.vault.exists(bad),
        lambda: env.vault.ttl(bad),
    ):
        with pytest.raises(ValueError):
            call()
    assert env.keys() == []


def test_namespaces_are_isolated(env: Env) -> None:
    a = env.open(env.ring, namespace="team-a")
    b = env.open(env.ring, namespace="team-b")
    a.put("db-password", "for-a")
    assert b.get("db-password") is None
    b.put("db-password", "for-b")
    assert a.get("db-password") == "for-a"
    assert b.get("db-password") == "for-b"
    assert len(env.keys()) == 2
    key_a, key_b = env.key_of("db-password", a), env.key_of("db-password", b)
    assert key_a != key_b
    # the namespace part of the key differs, the layout is the same
    assert key_a.split(b":")[1] != key_b.split(b":")[1]
    a.close()
    b.close()


def test_keys_and_values_in_redis_are_opaque(env: Env) -> None:
    namespace = "payments-prod"
    v = env.open(env.ring, namespace=namespace)
    secrets = {
        "stripe-api-key": "sk_live_PLAINTEXT_MARKER_123456",
        "database_url": "postgres://user:PLAINTEXT_PW_987@db/app",
        "binary-token": b"\x01\x02PLAINTEXT_BYTES_MARKER\x03",
    }
    v.put_many(secrets)
    keys = env.keys()
    assert len(keys) == 3
    needles = [n.encode() for n in secrets] + [namespace.encode(), b"payments", b"stripe", b"PLAINTEXT"]
    needles += [s.encode() if isinstance(s, str) else s for s in secrets.values()]
    for key in keys:
        match = KEY_SHAPE.match(key)
        assert match is not None, key
        assert match["prefix"] == env.prefix.encode()
        value = env.raw.get(key)
        assert value is not None
        assert value[:3] == b"KS\x01"
        for needle in needles:
            assert needle not in key
            assert needle not in value
            assert needle.hex().encode() not in value
    # the namespace part is shared by every key of the namespace
    assert len({k.split(b":")[1] for k in keys}) == 1
    v.close()


def test_keys_follow_the_documented_naming_scheme(env: Env) -> None:
    names = ["k", "名前", "x" * 1024, "with space"]
    env.vault.put_many(dict.fromkeys(names, "v"))
    assert env.keys() == sorted(env.key_of(n) for n in names)
    for n in names:
        assert env.raw.exists(env.key_of(n)) == 1


def test_naming_key_survives_rotation(env: Env) -> None:
    env.vault.put("old", "v1")
    rotated = env.open(env.ring.rotated())
    assert rotated.get("old") == "v1"  # found at the same key, opened with the old key
    rotated.put("new", "v2")
    assert env.keys() == sorted([env.key_of("old"), env.key_of("new")])
    with pytest.raises(DecryptionError):
        env.vault.get("new")  # sealed under a primary the old ring does not hold
    rotated.close()


def test_raw_values_open_with_a_third_party_aes_gcm(env: Env) -> None:
    """A Vault envelope's context is b"keyseal vault\\0" followed by the Redis key (README)."""
    env.vault.put("k", "third-party readable")
    key = env.key_of("k")
    value = env.raw.get(key)
    assert value is not None
    aes_key = parse_export(env.ring.export()).key(env.ring.primary_id)
    plain = AESGCM(aes_key).decrypt(value[7:19], value[19:], value[:7] + b"keyseal vault\0" + key)
    assert plain == b"third-party readable"
    with pytest.raises(InvalidTag):  # the bare Redis key is not the context
        AESGCM(aes_key).decrypt(value[7:19], value[19:], value[:7] + key)


def test_keyring_seal_cannot_mint_a_vault_value(env: Env) -> None:
    """Domain separation: whatever context an app passes to keyring.seal, the Vault will not open it."""
    key = env.key_of("k")
    for context in (key, key.decode(), b"keyseal vault" + key, b"vault\0" + key):
        env.raw.set(key, env.ring.seal(b"minted", context=context))
        with pytest.raises(DecryptionError):
            env.vault.get("k")
    for reserved in (b"keyseal vault\0" + key, "keyseal vault\0x", b"keyseal vault\0"):
        with pytest.raises(ValueError, match="reserved"):
            env.ring.seal(b"minted", context=reserved)
        with pytest.raises(ValueError, match="reserved"):
            env.ring.open(b"x" * 40, context=reserved)
    env.vault.put("k", "real")
    with pytest.raises(DecryptionError):  # and a Vault value does not open as a keyring.seal value
        env.ring.open(env.raw.get(key), context=key)


def test_another_naming_key_writes_elsewhere(env: Env) -> None:
    env.vault.put("k", "ours")
    stranger = env.open(Keyring.generate())
    stranger.put("k", "theirs")
    assert len(env.keys()) == 2
    assert env.vault.get("k") == "ours"
    assert stranger.get("k") == "theirs"
    stranger.close()


# ---------------------------------------------------------------------------------------------
# an attacker with Redis access


def test_value_copied_to_another_key_fails_to_open(env: Env) -> None:
    v = env.vault
    v.put("public-flag", "harmless")
    v.put("admin-token", "very-secret")
    src, dst = env.key_of("admin-token"), env.key_of("public-flag")
    env.raw.set(dst, env.raw.get(src))
    with pytest.raises(DecryptionError):
        v.get("public-flag")
    with pytest.raises(DecryptionError):
        v.get_many(["public-flag"])
    assert v.get("admin-token") == "very-secret"


def test_value_copied_across_namespaces_fails_to_open(env: Env) -> None:
    a = env.open(env.ring, namespace="alpha")
    b = env.open(env.ring, namespace="beta")
    a.put("k", "from-alpha")
    b.put("k", "from-beta")
    env.raw.set(env.key_of("k", b), env.raw.get(env.key_of("k", a)))
    with pytest.raises(DecryptionError):
        b.get("k")
    a.close()
    b.close()


def test_tampered_value_fails_to_open(env: Env) -> None:
    v = env.vault
    v.put("k", "value")
    key = env.key_of("k")
    good = env.raw.get(key)
    assert good is not None
    for i in (0, 2, 3, 8, 20, len(good) - 1):
        bad = bytearray(good)
        bad[i] ^= 0x01
        env.raw.set(key, bytes(bad))
        with pytest.raises(DecryptionError):
            v.get("k")
    env.raw.set(key, good[:-1])
    with pytest.raises(DecryptionError):
        v.get("k")
    env.raw.set(key, good + b"\x00")
    with pytest.raises(DecryptionError):
        v.get("k")
    env.raw.set(key, good)
    assert v.get("k") == "value"


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"KS\x01", os.urandom(64), b"123"])
def test_garbage_in_redis_fails_to_open(env: Env, garbage: bytes) -> None:
    env.vault.put("k", "value")
    env.raw.set(env.key_of("k"), garbage)
    with pytest.raises(DecryptionError) as info:
        env.vault.get("k")
    if len(garbage) >= 4:
        assert garbage.hex() not in str(info.value)


@pytest.mark.parametrize("kind", ["list", "hash"])
def test_key_of_the_wrong_type_fails_to_open(env: Env, kind: str) -> None:
    """Something that is not a string where a sealed value should be: an error, not a silent miss.

    MGET answers nil for a key of another type; the store must notice, for get() and get_many().
    """
    env.vault.put("k", "value")
    key = env.key_of("k")
    env.raw.delete(key)
    {
        "list": lambda: env.raw.rpush(key, b"x"),
        "hash": lambda: env.raw.hset(key, "f", b"x"),
        "set": lambda: env.raw.sadd(key, b"x"),
        "zset": lambda: env.raw.zadd(key, {b"x": 1.0}),
    }[kind]()
    assert env.vault.exists("k") is True
    with pytest.raises(DecryptionError):
        env.vault.get("k")
    env.vault.put("other", "fine")
    with pytest.raises(DecryptionError):
        env.vault.get_many(["other", "k", "missing"])
    assert env.vault.get_many(["other", "missing"]) == {"other": "fine"}


def test_foreign_keyring_value_in_our_slot_fails_to_open(env: Env) -> None:
    stranger = Keyring.from_string(build_export(parse_export(env.ring.export()).name_key, [os.urandom(32)]))
    env.open(stranger).put("k", "forged")
    with pytest.raises(DecryptionError):
        env.vault.get("k")


# ---------------------------------------------------------------------------------------------
# limits and types


def test_max_value_size(server: Any) -> None:
    e = Env(server, max_value_size=32)
    try:
        e.vault.put("ok", "x" * 32)
        with pytest.raises(ValueError):
            e.vault.put("big", "x" * 33)
        with pytest.raises(ValueError):
            e.vault.put_many({"a": "1", "big": b"y" * 33})
        assert e.vault.get("big") is None
        assert e.vault.get("a") is None
        assert len(e.keys()) == 1
    finally:
        e.cleanup()


def test_one_mib_values_round_trip(env: Env) -> None:
    big = os.urandom(1 << 20)
    env.vault.put("big", big)
    got = env.vault.get("big")
    assert got is not None
    assert got.reveal_bytes() == big
    with pytest.raises(ValueError):
        env.vault.put("bigger", big + b"!")


def test_wrong_types_are_type_errors(env: Env) -> None:
    with pytest.raises(TypeError):
        env.vault.put("k", 12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        env.vault.get_many("k")
    with pytest.raises(TypeError):
        env.vault.put_many({"k": 1.5})  # type: ignore[dict-item]
    assert env.keys() == []


# ---------------------------------------------------------------------------------------------
# rewrap


def test_rewrap_after_rotation_keeps_ttls(env: Env) -> None:
    old = env.vault
    items = {f"s{i}": f"v{i}" for i in range(40)}
    old.put_many(items)
    old.put("expiring", "e", ttl=300)
    neighbour = env.open(env.ring, namespace="neighbour")
    neighbour.put("other", "x")
    keys_before = env.keys()
    exp_key = env.key_of("expiring")
    pttl_before = env.raw.pttl(exp_key)
    forever_key = env.key_of("s0")
    values_before = {k: env.raw.get(k) for k in keys_before}

    rotated = env.ring.rotated()
    new = env.open(rotated)
    seen: list[RewrapProgress] = []
    assert new.rewrap(batch_size=8, progress=seen.append) == 41
    assert seen
    assert all(isinstance(p, RewrapProgress) for p in seen)
    assert seen[-1].rewrapped == 41
    assert seen[-1].scanned == 41
    assert seen[-1].failed == 0

    # same keys, new envelopes under the new primary
    assert env.keys() == keys_before
    changed = [k for k in keys_before if env.raw.get(k) != values_before[k]]
    assert len(changed) == 41
    for k in changed:
        value = env.raw.get(k)
        assert value is not None
        assert value[3:7] == bytes.fromhex(rotated.primary_id)

    pttl_after = env.raw.pttl(exp_key)
    assert pttl_before - 5_000 < pttl_after <= pttl_before
    assert env.raw.pttl(forever_key) == -1

    assert new.rewrap(batch_size=8) == 0

    retired = env.open(rotated.without(env.ring.primary_id))
    got = retired.get_many(list(items))
    assert {k: s.reveal() for k, s in got.items()} == items
    assert retired.get("expiring") == "e"
    neighbour_retired = env.open(rotated.without(env.ring.primary_id), namespace="neighbour")
    with pytest.raises(DecryptionError):
        neighbour_retired.get("other")
    for x in (neighbour, new, retired, neighbour_retired):
        x.close()


def test_rewrap_progress_callback_exception_propagates(env: Env) -> None:
    env.vault.put_many({f"s{i}": "v" for i in range(10)})
    new = env.open(env.ring.rotated())

    class Abort(RuntimeError):
        pass

    def progress(_: RewrapProgress) -> None:
        raise Abort("abort rewrap")

    with pytest.raises(Abort, match="abort rewrap"):
        new.rewrap(batch_size=2, progress=progress)
    # finishing later is safe
    assert new.rewrap() <= 10
    assert new.rewrap() == 0
    new.close()


def test_rewrap_leaves_unopenable_values_alone(env: Env) -> None:
    env.vault.put("ours", "v")
    env.vault.put("garbled", "v")
    key = env.key_of("garbled")
    garbage = b"KS\x01" + os.urandom(40)
    env.raw.set(key, garbage)
    new = env.open(env.ring.rotated())
    seen: list[RewrapProgress] = []
    assert new.rewrap(progress=seen.append) == 1
    assert seen[-1].failed == 1
    assert env.raw.get(key) == garbage
    new.close()


# ---------------------------------------------------------------------------------------------
# close and context manager


def test_close_then_use(server: Any) -> None:
    e = Env(server)
    try:
        e.vault.put("k", "v")
        e.vault.close()
        with pytest.raises(StoreConnectionError):
            e.vault.get("k")
        with pytest.raises(StoreConnectionError):
            e.vault.put("k", "v")
        with pytest.raises(StoreConnectionError):
            e.vault.rewrap()
    finally:
        e.cleanup()


def test_context_manager(env: Env) -> None:
    with env.open(env.ring) as v:
        v.put("k", "v")
        assert v.get("k") == "v"
    with pytest.raises(StoreConnectionError):
        v.get("k")
    assert env.vault.get("k") == "v"


# ---------------------------------------------------------------------------------------------
# async twins


@pytest.mark.asyncio
async def test_async_twins(env: Env) -> None:
    v = env.vault
    assert await v.aput("a", "1") is None
    assert await v.aget("a") == "1"
    assert await v.aget("missing") is None
    assert await v.aput_many({"b": "2", "c": b"3"}, ttl=30) is None
    many = await v.aget_many(["a", "b", "c", "missing"])
    assert set(many) == {"a", "b", "c"}
    assert many["b"] == "2"
    assert await v.aexists("c") is True
    assert await v.aexists("missing") is False
    assert await v.attl("a") == math.inf
    assert await v.attl("missing") is None
    left = await v.attl("b")
    assert left is not None
    assert 28 < left <= 30
    assert 28_000 < env.raw.pttl(env.key_of("b")) <= 30_000
    assert await v.adelete("a") is True
    assert await v.adelete("a") is False
    assert v.get("b") == "2"
    assert len(env.keys()) == 2


@pytest.mark.asyncio
async def test_async_errors(env: Env) -> None:
    v = env.vault
    await v.aput("k", "v")
    env.raw.set(env.key_of("k"), b"tampered")
    with pytest.raises(DecryptionError):
        await v.aget("k")
    with pytest.raises(DecryptionError):
        await v.aget_many(["k"])
    with pytest.raises(ValueError):
        await v.aput("", "v")
    with pytest.raises(ValueError):
        await v.aput("k", "v", ttl=-1)
    with pytest.raises(TypeError):
        await v.aget_many("k")


@pytest.mark.asyncio
async def test_async_expiry(env: Env) -> None:
    await env.vault.aput("short", "v", ttl=0.2)
    assert await env.vault.aget("short") == "v"
    await asyncio.sleep(0.4)
    assert await env.vault.aget("short") is None
    assert await env.vault.aexists("short") is False


@pytest.mark.asyncio
async def test_async_gather(env: Env) -> None:
    v = env.vault
    await asyncio.gather(*(v.aput(f"k{i}", f"v{i}") for i in range(300)))
    got = await asyncio.gather(*(v.aget(f"k{i}") for i in range(300)))
    assert [g.reveal() if g else None for g in got] == [f"v{i}" for i in range(300)]
    assert len(env.keys()) == 300


@pytest.mark.asyncio
async def test_arewrap(env: Env) -> None:
    items = {f"s{i}": f"v{i}" for i in range(15)}
    await env.vault.aput_many(items)
    await env.vault.aput("exp", "e", ttl=200)
    exp_key = env.key_of("exp")
    before = env.raw.pttl(exp_key)
    rotated = env.ring.rotated()
    new = env.open(rotated)
    seen: list[RewrapProgress] = []
    assert await new.arewrap(batch_size=4, progress=seen.append) == 16
    assert seen[-1].rewrapped == 16
    assert await new.arewrap() == 0
    assert before - 5_000 < env.raw.pttl(exp_key) <= before
    retired = env.open(rotated.without(env.ring.primary_id))
    got = await retired.aget_many(list(items))
    assert {k: s.reveal() for k, s in got.items()} == items

    def boom(_: RewrapProgress) -> None:
        raise LookupError("from async callback")

    await env.vault.aput("again", "v")  # a value under the old key again
    with pytest.raises(LookupError, match="from async callback"):
        await new.arewrap(progress=boom)
    new.close()
    retired.close()


@pytest.mark.asyncio
async def test_async_close(server: Any) -> None:
    e = Env(server)
    try:
        await e.vault.aput("k", "v")
        await e.vault.aclose()
        with pytest.raises(StoreConnectionError):
            await e.vault.aget("k")
    finally:
        e.cleanup()


# ---------------------------------------------------------------------------------------------
# the ACL user


def acl_client(redis_acl: Any) -> redis.Redis:
    return redis.Redis(
        host=redis_acl.host, port=redis_acl.port, username=redis_acl.username, password=redis_acl.password
    )


def test_acl_restriction_is_live(redis_acl: Any) -> None:
    assert redis_acl.username == "keyseal"
    client = acl_client(redis_acl)
    try:
        assert client.ping() is True
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.keys("*")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushdb()
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.config_get("*")
    finally:
        client.close()


def test_acl_user_runs_the_whole_vault(redis_acl: Any) -> None:
    e = Env(redis_acl)
    try:
        v = e.vault
        assert "keyseal" in e.server.url
        v.put("a", "1", ttl=60)
        v.put_many({"b": "2", "c": "3"})
        assert set(v.get_many(["a", "b", "c", "d"])) == {"a", "b", "c"}
        assert v.exists("a")
        ttl = v.ttl("a")
        assert ttl is not None
        assert 0 < ttl <= 60
        assert v.add("a", "x") is False
        assert v.touch("b", ttl=30) is True
        new = e.open(e.ring.rotated())
        assert new.rewrap(batch_size=1) == 3  # SCAN + EVAL under the restricted user
        assert new.rewrap() == 0
        assert new.delete("c") is True
        assert new.clear() == 2
        assert e.keys() == []
        new.close()
    finally:
        e.cleanup()


@pytest.mark.asyncio
async def test_acl_user_runs_the_async_vault(redis_acl: Any) -> None:
    e = Env(redis_acl)
    try:
        v = e.vault
        await v.aput_many({"a": "1", "b": "2"})
        assert set(await v.aget_many(["a", "b"])) == {"a", "b"}
        new = e.open(e.ring.rotated())
        assert await new.arewrap() == 2
        assert await new.aclear() == 2
        new.close()
    finally:
        e.cleanup()


# ---------------------------------------------------------------------------------------------
# the GIL


def test_blocking_io_releases_the_gil(redis_blackhole: Any) -> None:
    """While a call waits on a silent server, other Python threads keep running."""
    v = Vault(redis_blackhole.url, keyring=Keyring.generate(), socket_timeout=0.5, socket_connect_timeout=0.5)
    done = threading.Event()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            v.get("k")
        except StoreError as exc:
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=call)
    ticks = 0
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    v.close()
    assert len(errors) == 1
    assert ticks > 10_000, f"the main thread only ran {ticks} times: the GIL was held during I/O"


# ---------------------------------------------------------------------------------------------
# unix sockets


def test_unix_socket(redis_plain: Any) -> None:
    if redis_plain.unix_url is None:
        pytest.skip("the fixture's socket path is too long for sun_path")
    ring = Keyring.generate()
    prefix = "u" + uuid.uuid4().hex[:12]
    via_unix = Vault(redis_plain.unix_url, keyring=ring, key_prefix=prefix, namespace="unix")
    via_tcp = Vault(redis_plain.url, keyring=ring, key_prefix=prefix, namespace="unix")
    try:
        via_unix.put("k", "over the socket", ttl=60)
        assert via_tcp.get("k") == "over the socket"  # the same server
        assert via_unix.get("k") == "over the socket"
        left = via_unix.ttl("k")
        assert left is not None
        assert 58 < left <= 60
        assert str(redis_plain.unix_path) in repr(via_unix)
        assert via_unix.rewrap() == 0
        assert via_unix.delete("k") is True
        assert via_tcp.get("k") is None
    finally:
        via_unix.close()
        via_tcp.close()


@pytest.mark.asyncio
async def test_unix_socket_async(redis_plain: Any) -> None:
    if redis_plain.unix_url is None:
        pytest.skip("the fixture's socket path is too long for sun_path")
    v = Vault(redis_plain.unix_url, keyring=Keyring.generate(), key_prefix="u" + uuid.uuid4().hex[:12])
    try:
        await v.aput("k", "v")
        assert await v.aget("k") == "v"
        assert await v.adelete("k") is True
    finally:
        v.close()
