"""rewrap() at scale: interrupted and resumed, beside a live writer, TTLs kept, nothing lost.

The 1,000,000-secret rate comes from bench/bench_vault.py --full; 100,000 keeps CI quick.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from _extra_servers import least_privilege_server
from keyseal import Keyring, RewrapProgress, Vault

COUNT = 100_000


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_rewrap_resumes_under_a_live_writer(redis_factory: Any) -> None:
    # Its own server (every key here is ours), the Vault as the least-privilege ACL user.
    redis_plain = least_privilege_server(redis_factory, "rewrap-scale")
    old = Keyring.generate()
    ns = "rewrap-scale"
    loader = Vault(redis_plain.url, keyring=old, namespace=ns)
    for start in range(0, COUNT, 10_000):
        loader.put_many({f"s{i}": f"v{i}" for i in range(start, start + 10_000)}, ttl=3_600)
    new = old.rotated()
    vault = Vault(redis_plain.url, keyring=new, namespace=ns)

    batches: list[RewrapProgress] = []

    def stop_after_three(p: RewrapProgress) -> None:
        batches.append(p)
        if len(batches) == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        vault.rewrap(batch_size=2_000, progress=stop_after_three)
    partly = batches[-1].rewrapped
    assert 0 < partly < COUNT

    # A writer with the new keyring overwrites some names while the rewrap finishes: its values
    # must win, never the re-sealed older ones.
    writer_done = threading.Event()
    written: dict[str, str] = {}

    def writer() -> None:
        for i in range(0, COUNT, 97):
            name, value = f"s{i}", f"new-{i}"
            vault.put(name, value, ttl=3_600)
            written[name] = value
        writer_done.set()

    t = threading.Thread(target=writer)
    t.start()
    final: list[RewrapProgress] = []
    began = time.monotonic()
    vault.rewrap(batch_size=2_000, progress=final.append)
    took = time.monotonic() - began
    t.join()
    print(
        f"\nrewrap: {COUNT:,} scanned, {final[-1].rewrapped:,} re-sealed in {took:.2f} s "
        f"({final[-1].rewrapped / took:,.0f}/s) beside a writer"
    )
    assert writer_done.is_set()
    last = final[-1]
    assert last.failed == 0
    assert last.scanned == COUNT
    # Together the two runs re-sealed each old value at most once: the rest were current already.
    assert last.current + last.rewrapped + last.raced == COUNT
    assert partly + last.rewrapped <= COUNT
    assert vault.rewrap() == 0, "a third run finds nothing left to do"

    retired = Vault(redis_plain.url, keyring=new.without(old.primary_id), namespace=ns)
    names = [f"s{i}" for i in range(COUNT)]
    got: dict[str, Any] = {}
    for start in range(0, COUNT, 5_000):
        got.update(retired.get_many(names[start : start + 5_000]))
    assert len(got) == COUNT, "a value was lost"
    wrong = [n for n in names if got[n] != written.get(n, f"v{n[1:]}")]
    assert wrong == []
    raw = redis_plain.admin_client()
    ttls = [raw.pttl(k) for k in list(raw.scan_iter(match="ks:*", count=1_000))[:500]]
    assert all(0 < t <= 3_600_000 for t in ttls), "rewrap must keep every TTL"
    retired.clear()
