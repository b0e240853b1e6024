"""Draw one run's ratios (keyseal over each peer) as a PNG bar chart, with the run's date and machine.

Reads the JSON that ``bench_vault.py --json`` and ``bench_redact.py --json`` append to:

    python bench/chart.py bench/results.json bench/results.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter


def main(src: str, dst: str) -> int:
    data = json.loads(Path(src).read_text())
    # Rates only: the recall row is a ratio of percentages, and the footnote peer is no headline.
    rows = [
        r
        for r in data["rows"]
        if r.get("ratio") is not None and r["bench"] not in ("redact-footnote", "quality")
    ]
    if not rows:
        print("chart: no rows with a peer", file=sys.stderr)
        return 1
    labels = [f"{r['name']}\nvs {r['peer_name']}" for r in rows]
    ratios = [r["ratio"] for r in rows]
    colours = ["#2b7bb9" if r["ratio"] >= 1 else "#d9822b" for r in rows]
    height = 0.9 + 0.52 * len(rows)
    fig, ax = plt.subplots(figsize=(10, height), dpi=110)
    y = list(range(len(rows)))[::-1]
    ax.barh(y, ratios, color=colours, height=0.62)
    ax.set_xscale("log")
    ax.axvline(1.0, color="#444444", linewidth=1)
    for yi, r in zip(y, rows, strict=True):
        ax.text(r["ratio"] * 1.06, yi, f"{r['ratio']:.2f}x", va="center", fontsize=8)
        if r.get("target") is not None and not r.get("lower_is_better"):
            ax.plot([r["target"]], [yi], marker="|", color="#b00020", markersize=14, mew=2)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7.5)
    ax.set_xlim(min(0.5, min(ratios) * 0.8), max(ratios) * 2.2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_xlabel(
        "keyseal's rate / the peer's rate: same run, medians of alternating rounds (log scale)\n"
        "red tick: the target; orange: below 1x (slower than the peer)",
        fontsize=8,
    )
    meta = data.get("meta", {})
    ax.set_title(
        f"keyseal beside each peer: run of {meta.get('date', '?')}\n{meta.get('machine', '')}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(dst)
    print(f"chart: {len(rows)} ratios drawn into {dst}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
