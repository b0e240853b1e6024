"""keyseal.Vault on the embedded ``memory://`` store: the whole API, sync and async."""

from __future__ import annotations

import asyncio
import math
import os
import pickle
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import count

import pytest

import keyseal
from _vaults import build_export, parse_export
from keyseal import DecryptionError, Keyring, RewrapProgress, Secret, StoreConnectionError, Vault

_store_ids = count()


def shared_store() -> str:
    """A fresh ``memory://NAME`` store, shared by every Vault in the process that names it."""
    return f"memory://tests-vault-{next(_store_ids)}-{time.monotonic_ns()}"


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def vault(ring: Keyring) -> Iterator[Vault]:
    v = Vault("memory://", keyring=ring, namespace="tests")
    yield v
    v.close()


# ---------------------------------------------------------------------------------------------
# put / get / delete / exists


def test_put_get_round_trip(vault: Vault) -> None:
    vault.put("api-key", "sk_live_value")
    got = vault.get("api-key")
    assert isinstance(got, Secret)
    assert got.reveal() == "sk_live_value"
    vault.put("binary", b"\x00\xff\x10")
    got_bin = vault.get("binary")
    assert got_bin is not None
    assert got_bin.reveal_bytes() == b"\x00\xff\x10"
    vault.put("from-secret", Secret("wrapped"))
    assert vault.get("from-secret") == "wrapped"


def test_get_missing_is_none(vault: Vault) -> None:
    assert vault.get("never-written") is None


def test_put_overwrites(vault: Vault) -> None:
    vault.put("k", "one")
    vault.put("k", "two")
    assert vault.get("k") == "two"


def test_empty_value_round_trips(vault: Vault) -> None:
    vault.put("empty", "")
    got = vault.get("empty")
    assert got is not None
    assert got.reveal() == ""
    assert vault.exists("empty")


def test_delete_and_exists(vault: Vault) -> None:
    assert vault.exists("k") is False
    vault.put("k", "v")
    assert vault.exists("k") is True
    assert vault.delete("k") is True
    assert vault.exists("k") is False
    assert vault.get("k") is None
    assert vault.delete("k") is False


def test_unicode_names_and_values(vault: Vault) -> None:
    vault.put("名前/with:odd chars?", "värde-🔑")
    assert vault.get("名前/with:odd chars?") == "värde-🔑"
    assert vault.get("名前/with:odd chars") is None


# ---------------------------------------------------------------------------------------------
# get_many / put_many


def test_get_many_leaves_missing_names_out(vault: Vault) -> None:
    vault.put("a", "1")
    vault.put("c", "3")
    got = vault.get_many(["a", "b", "c", "d"])
    assert isinstance(got, dict)
    assert set(got) == {"a", "c"}
    assert got["a"] == "1"
    assert got["c"] == "3"
    assert all(isinstance(v, Secret) for v in got.values())


def test_get_many_accepts_any_iterable_of_str(vault: Vault) -> None:
    vault.put_many({"x": "1", "y": "2"})
    assert set(vault.get_many(("x", "y"))) == {"x", "y"}
    assert set(vault.get_many(n for n in ["x", "z"])) == {"x"}
    assert set(vault.get_many({"y"})) == {"y"}
    assert set(vault.get_many({"x": 0}.keys())) == {"x"}
    assert vault.get_many([]) == {}
    assert set(vault.get_many(["x", "x"])) == {"x"}


def test_put_many_writes_everything(vault: Vault) -> None:
    items = {f"name-{i}": f"value-{i}" for i in range(50)}
    vault.put_many(items)
    got = vault.get_many(list(items))
    assert {k: v.reveal() for k, v in got.items()} == items
    vault.put_many({})  # a no-op
    vault.put_many({"b": b"\x01", "s": Secret("x")})
    assert vault.get("b") == b"\x01"
    assert vault.get("s") == "x"


def test_put_many_validates_before_writing(vault: Vault) -> None:
    with pytest.raises(ValueError):
        vault.put_many({"good": "1", "": "2"})
    assert vault.get("good") is None


def test_get_many_with_a_str_is_type_error(vault: Vault) -> None:
    vault.put("a", "1")
    with pytest.raises(TypeError):
        vault.get_many("a")
    with pytest.raises(TypeError):
        vault.get_many([b"a"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        vault.get_many(["a", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        vault.get_many(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("wrong", [1, 1.5, None, ["v"], bytearray(b"v"), object()])
def test_put_with_a_wrong_secret_type_is_type_error(vault: Vault, wrong: object) -> None:
    with pytest.raises(TypeError):
        vault.put("k", wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.put_many({"k": wrong})  # type: ignore[dict-item]
    assert vault.get("k") is None


def test_other_wrong_types(vault: Vault) -> None:
    with pytest.raises(TypeError):
        vault.put(1, "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.get(b"k")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.put_many([("k", "v")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.put_many({1: "v"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        vault.put("k", "v", ttl="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.put("k", "v", ttl=True)
    with pytest.raises(TypeError):
        Vault("memory://", keyring="not a keyring")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# TTLs


def test_ttl_missing_forever_and_finite(vault: Vault) -> None:
    assert vault.ttl("missing") is None
    vault.put("forever", "v")
    assert vault.ttl("forever") == math.inf
    vault.put("finite", "v", ttl=60)
    left = vault.ttl("finite")
    assert isinstance(left, float)
    assert 58 < left <= 60


def test_ttl_as_float_and_timedelta(vault: Vault) -> None:
    vault.put("f", "v", ttl=12.5)
    left = vault.ttl("f")
    assert left is not None
    assert 11 < left <= 12.5
    vault.put("td", "v", ttl=timedelta(minutes=2))
    left = vault.ttl("td")
    assert left is not None
    assert 118 < left <= 120


def test_default_ttl_applies_and_none_overrides(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring, default_ttl=30)
    assert v.default_ttl == 30.0
    v.put("default", "v")
    left = v.ttl("default")
    assert left is not None
    assert 28 < left <= 30
    v.put("never", "v", ttl=None)
    assert v.ttl("never") == math.inf
    v.put("explicit", "v", ttl=5)
    left = v.ttl("explicit")
    assert left is not None
    assert 3 < left <= 5
    v.put_many({"m1": "1", "m2": "2"})
    for n in ("m1", "m2"):
        left = v.ttl(n)
        assert left is not None
        assert left <= 30
    v.put_many({"m3": "3"}, ttl=None)
    assert v.ttl("m3") == math.inf


def test_default_ttl_as_timedelta_and_none(ring: Keyring) -> None:
    assert Vault("memory://", keyring=ring, default_ttl=timedelta(hours=1)).default_ttl == 3600.0
    assert Vault("memory://", keyring=ring).default_ttl is None
    assert Vault("memory://", keyring=ring, default_ttl=None).default_ttl is None


@pytest.mark.parametrize(
    "bad", [0, -1, -0.5, 0.0, timedelta(0), timedelta(seconds=-5), math.nan, math.inf, 1e-9]
)
def test_non_positive_or_absurd_ttl_is_value_error(vault: Vault, ring: Keyring, bad: object) -> None:
    with pytest.raises(ValueError):
        vault.put("k", "v", ttl=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vault.put_many({"k": "v"}, ttl=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Vault("memory://", keyring=ring, default_ttl=bad)  # type: ignore[arg-type]
    assert vault.get("k") is None


def test_expiry_really_happens(vault: Vault) -> None:
    vault.put("short", "v", ttl=0.2)
    vault.put("long", "v", ttl=60)
    assert vault.get("short") == "v"
    time.sleep(0.35)
    assert vault.get("short") is None
    assert vault.exists("short") is False
    assert vault.ttl("short") is None
    assert vault.get_many(["short", "long"]).keys() == {"long"}
    assert vault.delete("short") is False


def test_default_ttl_expiry_really_happens(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring, default_ttl=0.2)
    v.put("a", "v")
    v.put("b", "v", ttl=None)
    time.sleep(0.35)
    assert v.get("a") is None
    assert v.get("b") == "v"


# ---------------------------------------------------------------------------------------------
# names and namespaces


BAD_NAMES = [
    "",
    "\x00",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\r",
    "del\x7f",
    "c1\x85control",
    " leading",
    "trailing ",
    "\tboth\t",
    "\u3000ideographic-space",
    "x" * 1025,
    "é" * 513,  # 1026 bytes of UTF-8
]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=lambda n: repr(n)[:20])
def test_bad_names_are_value_errors(vault: Vault, bad: str) -> None:
    for call in (
        lambda: vault.put(bad, "v"),
        lambda: vault.get(bad),
        lambda: vault.get_many(["ok", bad]),
        lambda: vault.put_many({bad: "v"}),
        lambda: vault.delete(bad),
        lambda: vault.exists(bad),
        lambda: vault.ttl(bad),
    ):
        with pytest.raises(ValueError) as info:
            call()
        if len(bad.strip()) >= 5:
            assert bad.strip()[:5] not in str(info.value), "the error must not echo the name"


def test_names_up_to_1024_bytes_work(vault: Vault) -> None:
    for name in ["x" * 1024, "é" * 512, "a", "inner  spaces ok"]:
        vault.put(name, "v")
        assert vault.get(name) == "v"


def test_names_are_case_and_byte_exact(vault: Vault) -> None:
    vault.put("Name", "upper")
    vault.put("name", "lower")
    assert vault.get("Name") == "upper"
    assert vault.get("name") == "lower"
    vault.put("é", "nfc")
    assert vault.get("e\u0301") is None  # NFD spelling is another name


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "slash/", "ünï", "new\nline"])
def test_bad_namespaces_are_value_errors(ring: Keyring, bad: str) -> None:
    with pytest.raises(ValueError):
        Vault("memory://", keyring=ring, namespace=bad)


@pytest.mark.parametrize("bad", ["", "has space", "x" * 33, "a:b", "*"])
def test_bad_key_prefixes_are_value_errors(ring: Keyring, bad: str) -> None:
    with pytest.raises(ValueError):
        Vault("memory://", keyring=ring, key_prefix=bad)


def test_namespaces_are_isolated(ring: Keyring) -> None:
    store = shared_store()
    a = Vault(store, keyring=ring, namespace="app-a")
    b = Vault(store, keyring=ring, namespace="app-b")
    assert a.namespace == "app-a"
    a.put("db-password", "for-a")
    assert b.get("db-password") is None
    assert b.exists("db-password") is False
    b.put("db-password", "for-b")
    assert a.get("db-password") == "for-a"
    assert b.get("db-password") == "for-b"
    assert a.delete("db-password") is True
    assert b.get("db-password") == "for-b"


def test_shared_store_is_shared_and_private_store_is_not(ring: Keyring) -> None:
    store = shared_store()
    Vault(store, keyring=ring, namespace="n").put("k", "v")
    assert Vault(store, keyring=ring, namespace="n").get("k") == "v"
    assert Vault("memory://", keyring=ring, namespace="n").get("k") is None


def test_a_value_from_another_keyring_fails_to_open(ring: Keyring) -> None:
    """A writer with the same naming key but another sealing key lands in our slot: it must not open."""
    store = shared_store()
    name_key = parse_export(ring.export()).name_key
    stranger = Keyring.from_string(build_export(name_key, [os.urandom(32)]))
    Vault(store, keyring=stranger, namespace="n").put("k", "forged")
    ours = Vault(store, keyring=ring, namespace="n")
    assert ours.exists("k")
    with pytest.raises(DecryptionError):
        ours.get("k")
    with pytest.raises(DecryptionError):
        ours.get_many(["k"])


def test_another_naming_key_sees_nothing(ring: Keyring) -> None:
    store = shared_store()
    Vault(store, keyring=ring, namespace="n").put("k", "v")
    assert Vault(store, keyring=Keyring.generate(), namespace="n").get("k") is None


# ---------------------------------------------------------------------------------------------
# sizes


def test_max_value_size_is_enforced(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring, max_value_size=16)
    assert v.max_value_size == 16
    v.put("ok", "x" * 16)
    with pytest.raises(ValueError) as info:
        v.put("big", "SECRETVALUE-" + "y" * 5)
    assert "SECRETVALUE" not in str(info.value)
    assert v.get("big") is None
    with pytest.raises(ValueError):
        v.put_many({"fine": "x", "big": "z" * 17})
    assert v.get("fine") is None
    with pytest.raises(ValueError):
        v.put("multibyte", "é" * 9)  # 18 bytes


def test_default_max_value_size_is_one_mib(vault: Vault) -> None:
    assert vault.max_value_size == 1 << 20
    big = b"\xab" * (1 << 20)
    vault.put("big", big)
    got = vault.get("big")
    assert got is not None
    assert got.reveal_bytes() == big
    with pytest.raises(ValueError):
        vault.put("too-big", big + b"!")


def test_max_value_size_zero_is_refused(ring: Keyring) -> None:
    with pytest.raises(ValueError):
        Vault("memory://", keyring=ring, max_value_size=0)


# ---------------------------------------------------------------------------------------------
# add / touch / clear (what the cache backends build on)


def test_add_touch_clear(ring: Keyring) -> None:
    store = shared_store()
    v = Vault(store, keyring=ring, namespace="mine")
    other = Vault(store, keyring=ring, namespace="theirs")
    assert v.add("k", "first") is True
    assert v.add("k", "second") is False
    assert v.get("k") == "first"
    assert v.touch("k", ttl=60) is True
    left = v.ttl("k")
    assert left is not None
    assert 58 < left <= 60
    assert v.touch("k", ttl=None) is True
    assert v.ttl("k") == math.inf
    assert v.touch("missing", ttl=5) is False
    v.put_many({f"n{i}": "x" for i in range(20)})
    other.put("keep", "x")
    assert v.clear() == 21
    assert v.get("k") is None
    assert other.get("keep") == "x"


# ---------------------------------------------------------------------------------------------
# rewrap


def _fill(v: Vault, n: int, ttl: float | None = None) -> dict[str, str]:
    items = {f"secret-{i}": f"value-{i}" for i in range(n)}
    v.put_many(items, ttl=ttl)
    return items


def test_rewrap_after_rotation(ring: Keyring) -> None:
    store = shared_store()
    old = Vault(store, keyring=ring, namespace="rw")
    items = _fill(old, 25)
    neighbour = Vault(store, keyring=ring, namespace="neighbour")
    neighbour.put("untouched", "x")

    rotated = ring.rotated()
    new = Vault(store, keyring=rotated, namespace="rw")
    seen: list[RewrapProgress] = []
    assert new.rewrap(batch_size=7, progress=seen.append) == 25
    assert len(seen) >= 4
    assert all(isinstance(p, RewrapProgress) for p in seen)
    last = seen[-1]
    assert (last.scanned, last.rewrapped, last.current, last.raced, last.failed) == (25, 25, 0, 0, 0)
    scanned = [p.scanned for p in seen]
    assert scanned == sorted(scanned)
    assert "rewrapped=25" in repr(last)

    # idempotent
    again: list[RewrapProgress] = []
    assert new.rewrap(batch_size=7, progress=again.append) == 0
    assert again[-1].current == 25
    assert again[-1].rewrapped == 0

    # the old key can now retire and everything still opens
    retired = Vault(store, keyring=rotated.without(ring.primary_id), namespace="rw")
    got = retired.get_many(list(items))
    assert {k: v.reveal() for k, v in got.items()} == items
    # the neighbour namespace was not rewrapped: it still needs the old key
    with pytest.raises(DecryptionError):
        Vault(store, keyring=rotated.without(ring.primary_id), namespace="neighbour").get("untouched")


def test_without_rewrap_the_retired_key_cannot_read(ring: Keyring) -> None:
    store = shared_store()
    _fill(Vault(store, keyring=ring, namespace="rw"), 3)
    rotated = ring.rotated()
    retired = Vault(store, keyring=rotated.without(ring.primary_id), namespace="rw")
    with pytest.raises(DecryptionError):
        retired.get("secret-0")


def test_rewrap_keeps_ttls(ring: Keyring) -> None:
    store = shared_store()
    old = Vault(store, keyring=ring, namespace="rw")
    old.put("expiring", "v", ttl=100)
    old.put("forever", "v")
    before = old.ttl("expiring")
    new = Vault(store, keyring=ring.rotated(), namespace="rw")
    assert new.rewrap() == 2
    after = new.ttl("expiring")
    assert before is not None
    assert after is not None
    assert after <= before
    assert after > before - 5
    assert new.ttl("forever") == math.inf


def test_rewrap_counts_values_it_cannot_open(ring: Keyring) -> None:
    store = shared_store()
    name_key = parse_export(ring.export()).name_key
    stranger = Keyring.from_string(build_export(name_key, [os.urandom(32)]))
    Vault(store, keyring=stranger, namespace="rw").put("foreign", "x")
    Vault(store, keyring=ring, namespace="rw").put("ours", "y")
    new = Vault(store, keyring=ring.rotated(), namespace="rw")
    seen: list[RewrapProgress] = []
    assert new.rewrap(progress=seen.append) == 1
    assert seen[-1].failed == 1
    assert seen[-1].scanned == 2


def test_rewrap_empty_namespace(vault: Vault) -> None:
    assert vault.rewrap() == 0


def test_exception_in_progress_callback_propagates(ring: Keyring) -> None:
    store = shared_store()
    _fill(Vault(store, keyring=ring, namespace="rw"), 10)
    new = Vault(store, keyring=ring.rotated(), namespace="rw")

    class Stop(Exception):
        pass

    calls = []

    def progress(p: RewrapProgress) -> None:
        calls.append(p.rewrapped)
        raise Stop("stop here")

    with pytest.raises(Stop, match="stop here"):
        new.rewrap(batch_size=3, progress=progress)
    assert len(calls) == 1
    # interrupted: a second run finishes the rest
    assert new.rewrap() == 10 - calls[0]


# ---------------------------------------------------------------------------------------------
# close, context manager, repr, pickling


def test_close_then_use_raises_store_connection_error(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring)
    v.put("k", "v")
    v.close()
    for call in (
        lambda: v.get("k"),
        lambda: v.put("k", "v"),
        lambda: v.get_many(["k"]),
        lambda: v.put_many({"k": "v"}),
        lambda: v.delete("k"),
        lambda: v.exists("k"),
        lambda: v.ttl("k"),
        lambda: v.rewrap(),
    ):
        with pytest.raises(StoreConnectionError):
            call()
    v.close()  # closing twice is fine


def test_context_manager_closes(ring: Keyring) -> None:
    with Vault("memory://", keyring=ring) as v:
        assert isinstance(v, Vault)
        v.put("k", "v")
        assert v.get("k") == "v"
    with pytest.raises(StoreConnectionError):
        v.get("k")


def test_context_manager_does_not_swallow_exceptions(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring)

    def use() -> None:
        with v:
            v.put("k", "v")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        use()
    with pytest.raises(StoreConnectionError):
        v.get("k")


def test_repr_and_pickling(ring: Keyring, vault: Vault) -> None:
    assert "tests" in repr(vault)
    assert "memory://" in repr(vault)
    for _, raw in parse_export(ring.export()).keys:
        assert raw.hex() not in repr(vault)
    with pytest.raises(TypeError):
        pickle.dumps(vault)


def test_keyring_errors_are_keyseal_errors() -> None:
    assert issubclass(DecryptionError, keyseal.KeysealError)


# ---------------------------------------------------------------------------------------------
# async twins


@pytest.mark.asyncio
async def test_async_twins(vault: Vault) -> None:
    assert await vault.aput("a", "1") is None
    got = await vault.aget("a")
    assert isinstance(got, Secret)
    assert got == "1"
    assert await vault.aget("missing") is None
    await vault.aput_many({"b": "2", "c": b"3"})
    many = await vault.aget_many(["a", "b", "c", "nope"])
    assert set(many) == {"a", "b", "c"}
    assert many["c"] == b"3"
    assert await vault.aexists("b") is True
    assert await vault.aexists("nope") is False
    assert await vault.attl("a") == math.inf
    assert await vault.attl("nope") is None
    await vault.aput("t", "v", ttl=30)
    left = await vault.attl("t")
    assert left is not None
    assert 28 < left <= 30
    assert await vault.adelete("a") is True
    assert await vault.adelete("a") is False
    assert await vault.aget("a") is None
    assert vault.get("b") == "2"  # the sync side sees async writes


@pytest.mark.asyncio
async def test_async_add_touch_clear_close(ring: Keyring) -> None:
    v = Vault("memory://", keyring=ring)
    assert await v.aadd("k", "1") is True
    assert await v.aadd("k", "2") is False
    assert await v.atouch("k", ttl=10) is True
    assert await v.aclear() == 1
    await v.aclose()
    with pytest.raises(StoreConnectionError):
        await v.aget("k")


@pytest.mark.asyncio
async def test_async_errors_propagate(vault: Vault, ring: Keyring) -> None:
    with pytest.raises(ValueError):
        await vault.aput("", "v")
    with pytest.raises(ValueError):
        await vault.aget(" padded ")
    with pytest.raises(ValueError):
        await vault.aput("k", "v", ttl=0)
    with pytest.raises(TypeError):
        await vault.aput("k", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await vault.aget_many("abc")
    with pytest.raises(ValueError):
        await vault.aget_many(["ok", ""])
    with pytest.raises(ValueError):
        await vault.aput_many({"ok": "v", "\n": "v"})
    with pytest.raises(ValueError):
        await vault.adelete("")
    with pytest.raises(ValueError):
        await vault.aexists("")
    with pytest.raises(ValueError):
        await vault.attl("")
    store = shared_store()
    stranger = Keyring.from_string(build_export(parse_export(ring.export()).name_key, [os.urandom(32)]))
    await Vault(store, keyring=stranger).aput("k", "forged")
    with pytest.raises(DecryptionError):
        await Vault(store, keyring=ring).aget("k")


@pytest.mark.asyncio
async def test_async_expiry(vault: Vault) -> None:
    await vault.aput("short", "v", ttl=0.2)
    assert await vault.aexists("short")
    await asyncio.sleep(0.35)
    assert await vault.aget("short") is None
    assert await vault.attl("short") is None


@pytest.mark.asyncio
async def test_async_gather_many(vault: Vault) -> None:
    await asyncio.gather(*(vault.aput(f"k{i}", f"v{i}") for i in range(500)))
    results = await asyncio.gather(*(vault.aget(f"k{i}") for i in range(500)))
    assert [r.reveal() if r else None for r in results] == [f"v{i}" for i in range(500)]


@pytest.mark.asyncio
async def test_arewrap(ring: Keyring) -> None:
    store = shared_store()
    old = Vault(store, keyring=ring, namespace="arw")
    items = {f"n{i}": f"v{i}" for i in range(12)}
    await old.aput_many(items)
    rotated = ring.rotated()
    new = Vault(store, keyring=rotated, namespace="arw")
    seen: list[RewrapProgress] = []
    assert await new.arewrap(batch_size=5, progress=seen.append) == 12
    assert len(seen) >= 3
    assert seen[-1].rewrapped == 12
    assert await new.arewrap() == 0
    retired = Vault(store, keyring=rotated.without(ring.primary_id), namespace="arw")
    got = await retired.aget_many(list(items))
    assert {k: v.reveal() for k, v in got.items()} == items


@pytest.mark.asyncio
async def test_arewrap_callback_exception_propagates(ring: Keyring) -> None:
    store = shared_store()
    await Vault(store, keyring=ring, namespace="arw").aput_many({f"n{i}": "v" for i in range(4)})
    new = Vault(store, keyring=ring.rotated(), namespace="arw")

    def boom(_: RewrapProgress) -> None:
        raise KeyError("from callback")

    with pytest.raises(KeyError, match="from callback"):
        await new.arewrap(batch_size=2, progress=boom)
