"""Shared by the benchmarks: alternating rounds, one row per comparison, targets checked, rows saved.

Every ratio is keyseal's median over a peer's median from the same alternating rounds. A run can
append its rows to a JSON file (``--json PATH``) so that ``bench/chart.py`` draws all of them,
with the date and the machine they were measured on.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    bench: str
    name: str
    ours: float  # a rate (ops/s, MB/s) unless `lower_is_better`
    peer: float | None
    peer_name: str
    target: float | None  # on the ratio when there is a peer, else on `ours`
    unit: str = "ops/s"
    lower_is_better: bool = False  # e.g. an overhead in %

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer == 0:
            return None
        return self.ours / self.peer

    @property
    def ok(self) -> bool:
        if self.target is None:
            return True
        value = self.ratio if self.ratio is not None else self.ours
        return value <= self.target if self.lower_is_better else value >= self.target


ROWS: list[Row] = []


def rounds(contenders: dict[str, Callable[[], float]], n_rounds: int) -> dict[str, float]:
    """Run each contender once per round, alternating; each returns its work done (ops, bytes);
    return each one's median rate over the rounds."""
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(n_rounds):
        for name, fn in contenders.items():
            t = time.perf_counter()
            work = fn()
            rates[name].append(work / (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in rates.items()}


def record(row: Row) -> Row:
    ROWS.append(row)
    verdict = "" if row.target is None else (" -> PASS" if row.ok else " -> FAIL")
    if row.ratio is not None:
        cmp = "<=" if row.lower_is_better else ">="
        target = "" if row.target is None else f"   target {cmp} {row.target:g}x"
        print(
            f"{row.name:<36} keyseal {row.ours:>12,.2f} {row.unit}   {row.peer_name:<40} "
            f"{row.peer:>12,.2f}   ratio {row.ratio:7.2f}x{target}{verdict}",
            flush=True,
        )
    else:
        cmp = "<=" if row.lower_is_better else ">="
        target = "" if row.target is None else f"   target {cmp} {row.target:g}"
        print(f"{row.name:<36} keyseal {row.ours:>12,.2f} {row.unit}{target}{verdict}", flush=True)
    return row


def machine() -> str:
    """A one-line description of where the figures came from, load included."""
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    pinned = os.environ.get("KEYSEAL_BENCH_CPU")
    where = f", pinned with redis-server to CPU {pinned} (make bench BENCH_CPU)" if pinned else ""
    return (
        f"{os.cpu_count()} vCPU {model}, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start{where}"
    )


META = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}


def save(path: str | None) -> None:
    """Append this run's rows to ``path`` (created when missing), keeping the first run's metadata."""
    if not path:
        return
    p = Path(path)
    data = json.loads(p.read_text()) if p.exists() else {"meta": META, "rows": []}
    for row in ROWS:
        d = asdict(row)
        d["ratio"] = row.ratio
        d["ok"] = row.ok
        data["rows"].append(d)
    p.write_text(json.dumps(data, indent=1) + "\n")


def finish(json_path: str | None) -> int:
    """Print the verdict, save the rows; the exit status is 1 when a target was missed."""
    save(json_path)
    targets = [r for r in ROWS if r.target is not None]
    failed = [r for r in targets if not r.ok]
    print(f"\n{len(targets) - len(failed)} of {len(targets)} targets met")
    for r in failed:
        print(f"  missed: {r.name} ({r.peer_name or 'absolute'})")
    return 1 if failed else 0
