"""The Vault's cache primitives (get_bytes, get_many_bytes, incr, delete_many and their async twins)
on memory://, a real redis-server and a real 3-master cluster."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import keyseal
from _vaults import build_export, parse_export, redis_key
from keyseal import DecryptionError, Keyring, Vault

STORES = ["memory", "redis_plain", "redis_cluster"]


class Place:
    """Where a test's vaults live: one URL and key prefix, so several vaults can share the slots."""

    def __init__(self, kind: str, server: Any) -> None:
        self.kind = kind
        self.server = server
        self.url = f"memory://cache-{uuid.uuid4().hex}" if server is None else server.url
        self.prefix = "c" + uuid.uuid4().hex[:12]
        self.ring = Keyring.generate()
        self.opened: list[Vault] = []

    def vault(self, ring: Keyring | None = None, **options: Any) -> Vault:
        options.setdefault("namespace", "cache")
        v = Vault(self.url, keyring=ring or self.ring, key_prefix=self.prefix, **options)
        self.opened.append(v)
        return v

    def impostor(self) -> Vault:
        """A vault with the same naming key but another sealing key: its values fail to open for ours."""
        name_key = parse_export(self.ring.export()).name_key
        return self.vault(Keyring.from_string(build_export(name_key, [os.urandom(32)])))

    def close(self) -> None:
        for v in self.opened:
            try:
                v.clear()
            finally:
                v.close()


@pytest.fixture(params=STORES)
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
    server = None if request.param == "memory" else request.getfixturevalue(request.param)
    p = Place(request.param, server)
    yield p
    p.close()


@pytest.fixture
def vault(place: Place) -> Vault:
    return place.vault()


# ---------------------------------------------------------------------------------------------
# get_bytes


def test_get_bytes_returns_plain_bytes(vault: Vault) -> None:
    vault.put("b", b"\x00\xffpayload")
    vault.put("s", "t\u00e9xt")
    assert vault.get_bytes("b") == b"\x00\xffpayload"
    assert vault.get_bytes("s") == "t\u00e9xt".encode()
    assert type(vault.get_bytes("b")) is bytes
    assert vault.get_bytes("missing") is None


def test_get_bytes_is_not_registered_with_the_redactor(vault: Vault) -> None:
    value = "cache-payload-" + uuid.uuid4().hex
    vault.put("p", value)
    assert vault.get_bytes("p") == value.encode()
    assert keyseal.redactor().redact(f"x {value} y") == f"x {value} y"
    # The Secret path still registers it: the check above can fail.
    secret = vault.get("p")
    assert secret is not None
    secret.reveal()
    assert value not in keyseal.redactor().redact(f"x {value} y")


def test_get_bytes_raises_decryption_error_on_a_foreign_value(place: Place) -> None:
    ours, theirs = place.vault(), place.impostor()
    theirs.put("k", b"other keyring")
    with pytest.raises(DecryptionError):
        ours.get_bytes("k")


def test_get_bytes_bad_name_and_type(vault: Vault) -> None:
    with pytest.raises(ValueError):
        vault.get_bytes("")
    with pytest.raises(TypeError):
        vault.get_bytes(b"name")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# get_many_bytes


def test_get_many_bytes_leaves_missing_names_out(vault: Vault) -> None:
    vault.put_many({f"n{i}": f"v{i}".encode() for i in range(20)})
    got = vault.get_many_bytes([*(f"n{i}" for i in range(20)), "missing", "also-missing"])
    assert got == {f"n{i}": f"v{i}".encode() for i in range(20)}
    assert vault.get_many_bytes([]) == {}
    assert vault.get_many_bytes(iter(["n1"])) == {"n1": b"v1"}
    with pytest.raises(TypeError):
        vault.get_many_bytes("n1")


def test_get_many_bytes_undecryptable_raises_or_maps_to_none(place: Place) -> None:
    ours, theirs = place.vault(), place.impostor()
    ours.put_many({"a": b"1", "b": b"2"})
    theirs.put("bad", b"sealed elsewhere")
    with pytest.raises(DecryptionError):
        ours.get_many_bytes(["a", "bad", "b"])
    got = ours.get_many_bytes(["a", "bad", "b", "missing"], skip_undecryptable=True)
    assert got == {"a": b"1", "bad": None, "b": b"2"}
    assert ours.get_many_bytes(["bad"], skip_undecryptable=True) == {"bad": None}


@pytest.mark.parametrize("kind", ["redis_plain", "redis_cluster"])
def test_get_many_bytes_skips_a_key_of_another_redis_type(request: pytest.FixtureRequest, kind: str) -> None:
    place = Place(kind, request.getfixturevalue(kind))
    request.addfinalizer(place.close)
    ours = place.vault()
    ours.put_many({"a": b"1", "b": b"2"})
    raw = place.server.client()
    raw.rpush(redis_key(place.ring, place.prefix, "cache", "list"), "x")
    try:
        with pytest.raises(DecryptionError):
            ours.get_many_bytes(["a", "list", "b"])
        got = ours.get_many_bytes(["a", "list", "b"], skip_undecryptable=True)
        assert got == {"a": b"1", "list": None, "b": b"2"}
        assert ours.get_many_bytes(["list"], skip_undecryptable=True) == {"list": None}
    finally:
        raw.delete(redis_key(place.ring, place.prefix, "cache", "list"))


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["redis_plain", "redis_cluster"])
async def test_aget_many_bytes_skips_a_key_of_another_redis_type(
    request: pytest.FixtureRequest, kind: str
) -> None:
    """The async read finds the odd key out one key at a time too, and empty input reads nothing."""
    place = Place(kind, request.getfixturevalue(kind))
    request.addfinalizer(place.close)
    ours = place.vault()
    await ours.aput_many({"a": b"1", "b": b"2"})
    raw = place.server.client()
    raw.rpush(redis_key(place.ring, place.prefix, "cache", "list"), "x")
    try:
        with pytest.raises(DecryptionError):
            await ours.aget_many_bytes(["a", "list", "b"])
        got = await ours.aget_many_bytes(["a", "list", "b", "missing"], skip_undecryptable=True)
        assert got == {"a": b"1", "list": None, "b": b"2"}
        assert await ours.aget_many_bytes(["list"], skip_undecryptable=True) == {"list": None}
        assert await ours.aget_many_bytes([], skip_undecryptable=True) == {}
        assert await ours.aget_many_bytes([]) == {}
    finally:
        raw.delete(redis_key(place.ring, place.prefix, "cache", "list"))


# ---------------------------------------------------------------------------------------------
# incr


def test_incr_basics_and_ttl_kept(vault: Vault) -> None:
    vault.put("n", "41", ttl=300)
    assert vault.incr("n") == 42
    assert vault.incr("n", 8) == 50
    assert vault.incr("n", -60) == -10
    assert vault.get_bytes("n") == b"-10"
    ttl = vault.ttl("n")
    assert ttl is not None
    assert 290 < ttl <= 300
    assert vault.incr("missing") is None
    assert not vault.exists("missing")
    vault.put("forever", b"007")
    assert vault.incr("forever", 0) == 7
    assert vault.ttl("forever") == float("inf")


@pytest.mark.parametrize(
    "bad", [b"", b"x", b"1.5", b"+1", b" 1", b"1 ", b"--1", b"1e3", b"\xff", b"\xd9\xa3"]
)
def test_incr_refuses_a_value_that_is_not_a_decimal_integer(vault: Vault, bad: bytes) -> None:
    vault.put("v", bad)
    with pytest.raises(ValueError) as info:
        vault.incr("v")
    if bad.strip():
        assert repr(bad) not in str(info.value)
    assert vault.get_bytes("v") == bad


def test_incr_overflow_is_value_error_and_leaves_the_value(vault: Vault) -> None:
    vault.put("big", str(2**63 - 1))
    with pytest.raises(ValueError) as info:
        vault.incr("big")
    assert str(2**63 - 1) not in str(info.value)
    assert vault.get_bytes("big") == str(2**63 - 1).encode()
    vault.put("small", str(-(2**63)))
    with pytest.raises(ValueError):
        vault.incr("small", -1)
    vault.put("toobig", str(2**63))
    with pytest.raises(ValueError):
        vault.incr("toobig", 0)


def test_incr_bad_delta(vault: Vault) -> None:
    vault.put("n", "1")
    with pytest.raises(ValueError):
        vault.incr("n", 2**63)
    with pytest.raises(TypeError):
        vault.incr("n", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.incr("n", "1")  # type: ignore[arg-type]
    assert vault.get_bytes("n") == b"1"


def test_incr_on_a_foreign_value_is_decryption_error(place: Place) -> None:
    ours, theirs = place.vault(), place.impostor()
    theirs.put("n", b"5")
    with pytest.raises(DecryptionError):
        ours.incr("n")


def test_incr_is_atomic_across_threads(place: Place) -> None:
    vault = place.vault()
    vault.put("counter", "0", ttl=600)
    threads, each = 8, 500
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(each):
                assert vault.incr("counter") is not None
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert vault.get_bytes("counter") == str(threads * each).encode()
    ttl = vault.ttl("counter")
    assert ttl is not None
    assert 0 < ttl <= 600


@pytest.mark.asyncio
async def test_aincr_is_atomic_across_tasks(place: Place) -> None:
    vault = place.vault()
    await vault.aput("counter", "0")
    tasks, each = 8, 100

    async def work() -> None:
        for _ in range(each):
            assert await vault.aincr("counter") is not None

    await asyncio.gather(*(work() for _ in range(tasks)))
    assert await vault.aget_bytes("counter") == str(tasks * each).encode()
    assert await vault.aincr("counter", -5) == tasks * each - 5
    assert await vault.aincr("missing") is None
    await vault.aput("text", "abc")
    with pytest.raises(ValueError):
        await vault.aincr("text")


def test_sync_and_async_incr_together(place: Place) -> None:
    vault = place.vault()
    vault.put("mixed", "0")

    def sync_side() -> None:
        for _ in range(200):
            vault.incr("mixed")

    async def async_side() -> None:
        for _ in range(200):
            await vault.aincr("mixed")

    t = threading.Thread(target=sync_side)
    t.start()
    asyncio.run(async_side())
    t.join()
    assert vault.get_bytes("mixed") == b"400"


# ---------------------------------------------------------------------------------------------
# delete_many and async twins


def test_delete_many_counts_what_existed(vault: Vault) -> None:
    vault.put_many({f"d{i}": "x" for i in range(10)})
    assert vault.delete_many([f"d{i}" for i in range(5)] + ["missing"]) == 5
    assert vault.delete_many([]) == 0
    assert vault.delete_many(["d0", "d1"]) == 0
    assert sorted(vault.get_many_bytes([f"d{i}" for i in range(10)])) == [f"d{i}" for i in range(5, 10)]
    with pytest.raises(TypeError):
        vault.delete_many("d5")
    with pytest.raises(ValueError):
        vault.delete_many(["d5", ""])
    assert vault.exists("d5")


@pytest.mark.asyncio
async def test_async_twins(place: Place) -> None:
    ours, theirs = place.vault(), place.impostor()
    await ours.aput_many({"a": b"1", "b": b"2"})
    await theirs.aput("bad", b"x")
    assert await ours.aget_bytes("a") == b"1"
    assert await ours.aget_bytes("missing") is None
    with pytest.raises(DecryptionError):
        await ours.aget_bytes("bad")
    with pytest.raises(DecryptionError):
        await ours.aget_many_bytes(["a", "bad"])
    got = await ours.aget_many_bytes(["a", "b", "bad", "missing"], skip_undecryptable=True)
    assert got == {"a": b"1", "b": b"2", "bad": None}
    assert await ours.adelete_many(["a", "b", "missing"]) == 2
    assert await ours.aget_many_bytes(["a", "b"]) == {}


# ---------------------------------------------------------------------------------------------
# ttl=0 and negative ttl: what cache backends must know


@pytest.mark.parametrize("ttl", [0, 0.0, -1, -0.5])
def test_zero_and_negative_ttl_are_value_errors_everywhere(vault: Vault, ttl: float) -> None:
    vault.put("keep", "v")
    for call in (
        lambda: vault.put("x", "v", ttl=ttl),
        lambda: vault.put_many({"x": "v"}, ttl=ttl),
        lambda: vault.add("y", "v", ttl=ttl),
        lambda: vault.touch("keep", ttl=ttl),
    ):
        with pytest.raises(ValueError):
            call()
    assert not vault.exists("x")
    assert not vault.exists("y")
    assert vault.ttl("keep") == float("inf")


def test_expired_counter_reads_as_missing(vault: Vault) -> None:
    vault.put("short", "1", ttl=0.2)
    time.sleep(0.4)
    assert vault.incr("short") is None
