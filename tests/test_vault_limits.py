"""Vault bounds: TTL limits identical on every store and path, bounded reads of foreign values,
memory:// freeing expired entries, and a repr that never shows credentials."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from _vaults import redis_key
from keyseal import DecryptionError, Keyring, Vault

HUNDRED_YEARS = 100 * 365 * 86_400


@pytest.fixture(params=["memory", "redis_plain", "redis_cluster"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://limits-{uuid.uuid4().hex}"
    return str(request.getfixturevalue(request.param).url)


@pytest.fixture
def vault(url: str) -> Iterator[Vault]:
    v = Vault(url, keyring=Keyring.generate(), namespace="limits-" + uuid.uuid4().hex[:8])
    yield v
    v.clear()
    v.close()


# ---------------------------------------------------------------------------------------------
# 1. TTL bounds


TOO_LONG = [HUNDRED_YEARS + 1, 18446744073709552, 9223372036854776, 1e300, timedelta(days=365 * 101)]


@pytest.mark.parametrize("ttl", TOO_LONG, ids=str)
def test_too_long_ttls_are_refused_on_every_path(vault: Vault, ttl: Any) -> None:
    vault.put("kept", "v")
    calls: list[Callable[[], object]] = [
        lambda: vault.put("x", "v", ttl=ttl),
        lambda: vault.put_many({"x": "v", "y": "w"}, ttl=ttl),
        lambda: vault.add("x", "v", ttl=ttl),
        lambda: vault.touch("kept", ttl=ttl),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="ttl"):
            call()

    async def async_calls() -> None:
        for make in (
            lambda: vault.aput("x", "v", ttl=ttl),
            lambda: vault.aput_many({"x": "v"}, ttl=ttl),
            lambda: vault.aadd("x", "v", ttl=ttl),
            lambda: vault.atouch("kept", ttl=ttl),
        ):
            with pytest.raises(ValueError, match="ttl"):
                await make()

    asyncio.run(async_calls())
    assert not vault.exists("x")
    assert not vault.exists("y")
    assert vault.ttl("kept") == float("inf")


@pytest.mark.parametrize("ttl", TOO_LONG, ids=str)
def test_too_long_default_ttl_is_refused(url: str, ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        Vault(url, keyring=Keyring.generate(), default_ttl=ttl)


def test_the_longest_ttl_is_kept_as_asked(vault: Vault) -> None:
    """100 years is accepted and reads back as 100 years, on Redis too (no wrap, no clamp)."""
    vault.put("long", "v", ttl=HUNDRED_YEARS)
    vault.put_many({"long2": "v"}, ttl=HUNDRED_YEARS)
    assert vault.add("long3", "v", ttl=HUNDRED_YEARS)
    vault.put("touched", "v")
    assert vault.touch("touched", ttl=HUNDRED_YEARS)
    for name in ("long", "long2", "long3", "touched"):
        left = vault.ttl(name)
        assert left is not None
        assert HUNDRED_YEARS - 60 < left <= HUNDRED_YEARS, name
        got = vault.get(name)
        assert got is not None
        assert got.reveal() == "v"
    v2 = Vault(
        vault_url(vault),
        keyring=Keyring.generate(),
        default_ttl=HUNDRED_YEARS,
        namespace="d" + uuid.uuid4().hex,
    )
    v2.put("d", "v")
    left = v2.ttl("d")
    assert left is not None
    assert HUNDRED_YEARS - 60 < left <= HUNDRED_YEARS
    v2.clear()


_URLS: dict[int, str] = {}


def vault_url(v: Vault) -> str:
    return repr(v).split("'")[1]


# ---------------------------------------------------------------------------------------------
# 19 (repr part). Credentials never shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://hunter2@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("redis://app:hunter2@127.0.0.1:6379/0", "redis://app:***@127.0.0.1:6379/0"),
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis+cluster://hunter2@127.0.0.1:1,127.0.0.1:2/", "redis+cluster://***@127.0.0.1:1,127.0.0.1:2/"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_repr_masks_any_userinfo(url: str, shown: str) -> None:
    v = Vault(url, keyring=Keyring.generate())  # connects lazily: nothing listens there
    assert repr(v) == f"Vault('{shown}', namespace='default')"
    assert "hunter2" not in repr(v)
    assert "hunter2" not in str(v)


# ---------------------------------------------------------------------------------------------
# 10. Foreign values larger than max_value_size are refused without being read whole


def test_oversized_foreign_value_is_refused_on_redis(redis_plain: Any) -> None:
    ring = Keyring.generate()
    ns = "big-" + uuid.uuid4().hex[:8]
    vault = Vault(redis_plain.url, keyring=ring, namespace=ns, max_value_size=1024)
    key = redis_key(ring, "ks", ns, "big")
    raw = redis_plain.client()
    try:
        raw.set(key, b"x" * 5000)
        with pytest.raises(DecryptionError):
            vault.get("big")
        with pytest.raises(DecryptionError):
            vault.get_bytes("big")
        assert vault.get_many_bytes(["big"], skip_undecryptable=True) == {"big": None}
        # A value written by a vault with a larger limit is equally refused by a smaller one.
        roomy = Vault(redis_plain.url, keyring=ring, namespace=ns, max_value_size=4096)
        roomy.put("big", b"y" * 2000)
        with pytest.raises(DecryptionError):
            vault.get("big")
        got = roomy.get("big")
        assert got is not None
        assert got.reveal_bytes() == b"y" * 2000
        # The exact limit still round-trips.
        vault.put("edge", b"z" * 1024)
        assert vault.get_bytes("edge") == b"z" * 1024
        # An empty string in our slot is tampering, not a miss.
        raw.set(key, b"")
        with pytest.raises(DecryptionError):
            vault.get("big")
    finally:
        vault.clear()


def test_oversized_value_is_refused_on_memory() -> None:
    ring = Keyring.generate()
    store = f"memory://big-{uuid.uuid4().hex}"
    small = Vault(store, keyring=ring, max_value_size=100)
    roomy = Vault(store, keyring=ring, max_value_size=10_000)
    roomy.put("k", b"a" * 5000)
    with pytest.raises(DecryptionError):
        small.get("k")
    assert small.get_many_bytes(["k"], skip_undecryptable=True) == {"k": None}


_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys
    from keyseal import DecryptionError, Keyring, Vault
    ring = Keyring.from_string(os.environ["KS_RING"])
    vault = Vault(os.environ["KS_URL"], keyring=ring, namespace=os.environ["KS_NS"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = "returned"
    for _ in range(3):
        try:
            vault.get("huge")
        except DecryptionError:
            outcome = "DecryptionError"
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "growth_kib": after - before}))
    """
)


def test_a_huge_foreign_value_costs_little_memory(redis_plain: Any) -> None:
    """A 64 MiB string under our key (default max_value_size 1 MiB): refused, and the reader's
    peak RSS grows by a few MiB at most (it used to buffer the whole value, several times)."""
    ring = Keyring.generate()
    ns = "huge-" + uuid.uuid4().hex[:8]
    key = redis_key(ring, "ks", ns, "huge")
    raw = redis_plain.client()
    raw.set(key, b"\x00" * (64 * 1024 * 1024))
    try:
        env = os.environ | {"KS_RING": ring.export(), "KS_URL": redis_plain.url, "KS_NS": ns}
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        result = json.loads(out.stdout)
        print(f"\npeak RSS growth reading a 64 MiB foreign value: {result['growth_kib'] / 1024:.1f} MiB")
        assert result["outcome"] == "DecryptionError"
        assert result["growth_kib"] < 8 * 1024
    finally:
        raw.delete(key)


# ---------------------------------------------------------------------------------------------
# 9. memory:// frees expired entries

_SWEEP_SCRIPT = textwrap.dedent(
    """
    import json, time
    from keyseal import Keyring, Vault

    def rss_kib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    vault = Vault("memory://", keyring=Keyring.generate())
    payload = "x" * 200
    vault.put("warm", payload, ttl=0.05)
    start = rss_kib()
    for i in range(200_000):
        vault.put(f"k{i}", payload, ttl=0.05)
        if i % 50_000 == 0:
            time.sleep(0.06)
    swept = rss_kib() - start
    # 100k kept entries, cleared: the memory they held is reused by the next ones.
    for i in range(100_000):
        vault.put(f"p{i}", payload)
    full = rss_kib() - start
    assert vault.clear() == 100_000
    # 100k that expire while nothing else is written: only clear() can free them.
    for i in range(100_000):
        vault.put(f"e{i}", payload, ttl=1)
    time.sleep(1.1)
    cleared = vault.clear()
    for i in range(100_000):
        vault.put(f"r{i}", payload)
    refill = rss_kib() - start
    print(json.dumps({"swept": swept, "full": full, "refill": refill, "cleared": cleared}))
    """
)


def test_memory_store_frees_expired_entries_and_clear_frees_them_too() -> None:
    """Expired entries nobody reads are freed by a sweep (the RSS stays flat over 200k short-lived
    puts); clear() frees expired ones too, so refilling after it reuses the memory. glibc keeps
    freed memory for reuse rather than returning it to the OS, hence the refill measure."""
    out = subprocess.run(
        [sys.executable, "-c", _SWEEP_SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    r = json.loads(out.stdout)
    print(
        f"\nRSS growth: 200k puts with ttl=0.05 s {r['swept'] / 1024:.1f} MiB; 100k kept"
        f" {r['full'] / 1024:.1f} MiB; clear(), 100k expired, clear(), 100k new puts"
        f" {r['refill'] / 1024:.1f} MiB"
    )
    # 200k live entries of ~300 bytes would be about 80 MiB; swept, a few MiB remain.
    assert r["swept"] < 20 * 1024
    assert r["cleared"] == 0  # everything had expired: nothing live to count
    assert r["refill"] < r["full"] + 6 * 1024
