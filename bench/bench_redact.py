"""Redaction benchmarks: throughput against Python peers, logging overhead, CLI streaming, quality.

Every ratio compares medians of alternating rounds on the same input, measured in the same run,
with every contender's set-up (regex compilation, automaton construction, the engine's tables)
done before the timing starts:

* ``redact_bytes`` over a generated web-app log corpus (access logs, JSON logs, tracebacks,
  hard negatives, one secret per ~200 lines), full catalogue plus 1,000 registered known values,
  against what a competent Python user would write: the same catalogue compiled by ``re`` and
  applied rule by rule, plus an Aho-Corasick matcher (``ahocorasick-rs``) for the known values.
  Also printed: the catalogue alone on both sides, and (a footnote, not a headline) a peer
  that puts the 1,000 values in one ``re`` alternation, which ``re`` cannot optimise;
* what the 1,000 known values cost the engine, in nanoseconds per input byte;
* pathological inputs (one unit repeated to 512 KiB) against the corpus rate, no peer;
* ``RedactingFilter`` on a ~200-byte record with no secret, ``logger.info`` through a
  ``StreamHandler`` writing to ``os.devnull``, with and without the filter;
* ``keyseal redact FILE -o OUT`` on a file, beside ``cat`` and ``wc -l`` on the same file;
* recall and false positives per 10,000 lines on the labelled corpus, beside detect-secrets
  (``SecretsCollection.scan_file`` with its default plugins) when it is installed, both scored
  by one rule: a secret counts as found when the tool's findings cover every character of it.

Run: ``python bench/bench_redact.py [--mb 1] [--cli-mb 32] [--quality-lines 30000] [--json PATH]``
(modest defaults for a shared machine; larger sizes give steadier absolute rates).
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import Row, finish, record, rounds
from corpus.generate import Line, generate
from keyseal._native import Redactor
from keyseal.logging import RedactingFilter

CLI = [sys.executable, "-m", "keyseal"]


def known_values(rng: random.Random, n: int = 1000) -> list[str]:
    alphabet = string.ascii_letters + string.digits + "-_!@#"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(16, 41))) for _ in range(n)]


def corpus_bytes(mb: float, seed: int = 7) -> bytes:
    """About ``mb`` MB of the generated log corpus (whole lines)."""
    lines = generate(60_000, seed=seed)
    block = "".join(line.text + "\n" for line in lines).encode()
    want = int(mb * (1 << 20))
    data = block * max(1, -(-want // len(block)))
    cut = data.rfind(b"\n", 0, want)
    return data[: cut + 1] if cut > 0 else data


# ---- the Python peers: the same catalogue, compiled by `re`, applied pattern by pattern


def python_re_catalogue() -> Callable[[bytes], bytes]:
    """Each catalogue regex in turn with ``re.sub`` (compiled here, outside any timing)."""
    pats: list[tuple[bytes, re.Pattern[bytes]]] = []
    for rule_id, _anchors, pattern in Redactor.catalogue():
        if rule_id == "url_password":
            # The engine matches this one by hand; this is the equivalent regex.
            pattern = r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/?#@:\"'<>]*:(?P<s>[^\s/?#\"'<>]+)@"
        if rule_id == "secret_assignment":
            # The engine walks the key back by hand; bound the prefix as a hand-written filter would.
            pattern = pattern.replace("(?P<k>[A-Za-z0-9_.-]*?", "(?P<k>\\b[A-Za-z0-9_.-]{0,48}?", 1)
        pats.append((b"[REDACTED:" + rule_id.encode() + b"]", re.compile(pattern.encode())))

    def apply(data: bytes) -> bytes:
        for mask, pat in pats:

            def repl(m: re.Match[bytes], mask: bytes = mask) -> bytes:
                if "s" in m.re.groupindex and m.group("s") is not None:
                    whole = m.group(0)
                    s, e = m.span("s")
                    base = m.start()
                    return whole[: s - base] + mask + whole[e - base :]
                return mask

            data = pat.sub(repl, data)
        return data

    return apply


def aho_corasick_known(values: list[str]) -> Callable[[bytes], bytes]:
    """The known values through one Aho-Corasick automaton (leftmost-longest), built here."""
    from ahocorasick_rs import BytesAhoCorasick, MatchKind

    ac = BytesAhoCorasick([v.encode() for v in values], matchkind=MatchKind.LeftmostLongest)
    mask = b"[REDACTED:known_secret]"

    def apply(data: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        for _, s, e in ac.find_matches_as_indexes(data, overlapping=False):
            out += (data[pos:s], mask)
            pos = e
        if not out:
            return data
        out.append(data[pos:])
        return b"".join(out)

    return apply


def re_alternation_known(values: list[str]) -> Callable[[bytes], bytes]:
    """The known values as one 1,000-way ``re`` alternation (no user would write this)."""
    known = re.compile(b"|".join(re.escape(v.encode()) for v in sorted(values, key=len, reverse=True)))
    return lambda data: known.sub(b"[REDACTED:known_secret]", data)


def chain(*steps: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        for step in steps:
            data = step(data)
        return data

    return apply


def bench_throughput(mb: float, big_mb: int, n_rounds: int) -> None:
    rng = random.Random(1)
    data = corpus_bytes(mb)
    size = len(data)
    values = known_values(rng)
    engine = Redactor(use_known=False)
    for v in values:
        engine.add_secret(v)
    catalogue_only = Redactor(use_known=False)
    # Set-up outside the timing, for every contender: the engine's known-value tables are built
    # on first use; the peers compile their regexes and automaton here.
    engine.redact_bytes(data)
    catalogue_only.redact_bytes(data)
    cat = python_re_catalogue()
    peer_ac = chain(cat, aho_corasick_known(values))
    peer_alt = chain(cat, re_alternation_known(values))
    # Same output from the engine in every round, so nothing is cached between calls.
    reps = 20  # the engine takes milliseconds on a few MB: repeat it within its round

    def ours() -> float:
        for _ in range(reps):
            engine.redact_bytes(data)
        return reps * size / 1e6

    def ours_cat() -> float:
        for _ in range(reps):
            catalogue_only.redact_bytes(data)
        return reps * size / 1e6

    def run(fn: Callable[[bytes], bytes]) -> Callable[[], float]:
        return lambda: (fn(data), size / 1e6)[1]

    r = rounds(
        {
            "ours": ours,
            "ours_cat": ours_cat,
            "ac": run(peer_ac),
            "cat": run(cat),
            "alt": run(peer_alt),
        },
        n_rounds,
    )
    rules = len(Redactor.catalogue())
    print(
        f"[throughput] same {size / 1e6:.1f} MB corpus for every contender, {rules} rules + "
        f"1,000 known values, one thread, medians of {n_rounds} alternating rounds"
    )
    record(
        Row(
            "redact",
            "redact_bytes, catalogue + 1,000 known",
            r["ours"],
            r["ac"],
            "Python re catalogue + Aho-Corasick known",
            100.0,
            "MB/s",
        )
    )
    record(
        Row(
            "redact",
            "redact_bytes, catalogue only",
            r["ours_cat"],
            r["cat"],
            "Python re, same catalogue",
            None,
            "MB/s",
        )
    )
    record(
        Row(
            "redact-footnote",
            "redact_bytes, catalogue + 1,000 known",
            r["ours"],
            r["alt"],
            "re catalogue + 1,000-way re alternation",
            None,
            "MB/s",
        )
    )
    # What the 1,000 known values cost the engine: the difference of the two engine medians.
    ns_per_byte = (1 / r["ours"] - 1 / r["ours_cat"]) * 1e3  # (s/MB) * 1e9 ns / 1e6 bytes
    print(f"  1,000 known values cost the engine {ns_per_byte:.2f} ns per input byte")

    # Absolute engine rate on a bigger corpus, one call and 1 MiB blocks (how a log shipper or
    # the CLI feeds it: the output buffers are recycled instead of faulting in fresh pages).
    big = corpus_bytes(big_mb)
    blocks = [big[i : i + (1 << 20)] for i in range(0, len(big), 1 << 20)]
    engine.redact_bytes(big)

    def whole() -> float:
        engine.redact_bytes(big)
        return len(big) / 1e6

    def in_blocks() -> float:
        for b in blocks:
            engine.redact_bytes(b)
        return len(big) / 1e6

    rb = rounds({"whole": whole, "blocks": in_blocks}, n_rounds)
    mb_big = f"{len(big) / 1e6:.0f} MB"
    record(Row("redact", f"redact_bytes, {mb_big}, one call", rb["whole"], None, "", 300.0, "MB/s"))
    record(Row("redact", f"redact_bytes, {mb_big}, 1 MiB blocks", rb["blocks"], None, "", None, "MB/s"))


# Inputs that repeat one unit to 512 KiB: anchors that never complete, then denser and denser
# matches (docs/redaction.md, "Pathological inputs"). Printed as the rate and how far below the
# corpus rate (same run, alternating rounds) each one runs; no peer.
PATHOLOGICAL = [
    "eyJ-",
    "AKIA",
    "ghp_",
    "xoxb-",
    "sk_live_",
    "aws_session_token/",
    "sk-proj-",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "sessiontoken.",
    "password=hunter2 ",
    "pwd=a&",
]


def bench_pathological(n_rounds: int, size: int = 512 * 1024) -> None:
    engine = Redactor(use_known=False)
    corpus = corpus_bytes(1)
    inputs = {u: (u.encode() * (size // len(u) + 1))[:size] for u in PATHOLOGICAL}
    engine.redact_bytes(corpus)

    def run(data: bytes) -> Callable[[], float]:
        return lambda: (engine.redact_bytes(data), len(data) / 1e6)[1]

    contenders = {"corpus": run(corpus)} | {u: run(d) for u, d in inputs.items()}
    r = rounds(contenders, n_rounds)
    print(f"{'corpus (catalogue only)':<36} {r['corpus']:10.1f} MB/s")
    for unit in PATHOLOGICAL:
        print(f"{unit!r:<36} {r[unit]:10.1f} MB/s   {r['corpus'] / r[unit]:6.1f}x below the corpus")


def bench_filter(n_rounds: int, n: int = 50_000) -> None:
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    devnull = open(os.devnull, "w")  # noqa: SIM115

    def make(name: str, with_filter: bool) -> logging.Logger:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = False
        lg.setLevel(logging.INFO)
        h = logging.StreamHandler(devnull)
        h.setFormatter(fmt)
        if with_filter:
            h.addFilter(RedactingFilter())
        lg.addHandler(h)
        return lg

    plain, filtered = make("bench.plain", False), make("bench.filtered", True)
    args = ("/api/v1/orders/8812/items", 200, "10.1.2.3", "user-4411", 87.5)
    msg = (
        "request %s status=%d from %s user=%s in %.1fms "
        "(cache hit, 3 rows, upstream=orders-svc, az=b2, pool=7/32)"
    )
    line = fmt.format(logging.LogRecord("bench.plain", logging.INFO, "", 0, msg, args, None))
    assert "[REDACTED" not in line

    def run(lg: logging.Logger) -> Callable[[], float]:
        def go() -> float:
            for _ in range(n):
                lg.info(msg, *args)
            return n

        return go

    r = rounds({"plain": run(plain), "filtered": run(filtered)}, n_rounds)
    base, filt = 1e6 / r["plain"], 1e6 / r["filtered"]
    print(f"[logging] record of {len(line)} bytes, no secret, {n} logger.info calls per round")
    print(f"  without filter {base:6.2f} us/call, with filter {filt:6.2f} us/call")
    record(Row("logging", "RedactingFilter overhead", (filt - base) / base * 100, None, "", 25.0, "%", True))
    devnull.close()


def bench_cli(mb: int, n_rounds: int) -> None:
    data = corpus_bytes(min(mb, 32), seed=11)
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "big.log", Path(d) / "out.log"
        with open(src, "wb") as fh:
            written = 0
            while written < (mb << 20):
                fh.write(data)
                written += len(data)
        size = src.stat().st_size / 1e6

        def wc() -> float:
            subprocess.run(["wc", "-l", str(src)], check=True, capture_output=True)
            return size

        def cat() -> float:
            with open(dst, "wb") as out:
                subprocess.run(["cat", str(src)], check=True, stdout=out)
            return size

        def ours(target: str) -> Callable[[], float]:
            def go() -> float:
                subprocess.run([*CLI, "redact", str(src), "-o", target], check=True)
                return size

            return go

        r = rounds({"wc": wc, "cat": cat, "ours": ours(str(dst)), "null": ours(os.devnull)}, n_rounds)
        print(f"[cli] keyseal redact of a {size / 1e3:.2f} GB file, end to end (process start included)")
        print(
            f"  to /dev/null {r['null']:.1f} MB/s; cat to a file {r['cat']:.1f} MB/s; "
            f"wc -l {r['wc']:.1f} MB/s"
        )
        record(Row("cli", "keyseal redact, file to file", r["ours"], None, "", 200.0, "MB/s"))


def covered(spans: list[tuple[int, int]], start: int, end: int) -> tuple[bool, bool]:
    """(every character of [start, end) is inside a span, some character is)."""
    pos, partly = start, False
    for s, e in sorted(spans):
        if e <= start or s >= end:
            continue
        partly = True
        if s <= pos:
            pos = max(pos, e)
    return pos >= end, partly


def score(text: str, secrets: list[str], spans: list[tuple[int, int]]) -> tuple[bool, bool]:
    """One rule for every tool: whole when each occurrence of each secret is covered entirely."""
    whole, partly = True, False
    for secret in secrets:
        at = text.find(secret)
        while at >= 0:
            w, p = covered(spans, at, at + len(secret))
            whole &= w
            partly |= p
            at = text.find(secret, at + 1)
    return whole, partly


def value_spans(text: str, values: list[str]) -> list[tuple[int, int]]:
    """Where the values a reporting tool returned sit in the record."""
    out = []
    for v in values:
        if not v:
            continue
        at = text.find(v)
        while at >= 0:
            out.append((at, at + len(v)))
            at = text.find(v, at + 1)
    return out


def bench_quality(n_lines: int) -> None:
    lines = generate(n_lines, seed=99)
    engine = Redactor(use_known=False)
    labelled = [ln for ln in lines if ln.secrets]
    clean = [ln for ln in lines if not ln.secrets]
    whole = partly = 0
    for ln in labelled:
        w, p = score(ln.text, ln.secrets, [(f.start, f.end) for f in engine.scan(ln.text)])
        whole += w
        partly += p
    fp = sum(len(engine.scan(ln.text)) for ln in clean)
    kinds = len({ln.kind for ln in labelled})
    print(f"[quality] {len(lines)} records, {len(labelled)} with a secret ({kinds} kinds)")
    print("  rule for both tools: found = the tool's findings cover every character of the secret")
    print(
        f"  keyseal        : recall {100 * whole / len(labelled):5.1f} % whole, "
        f"{100 * partly / len(labelled):5.1f} % partly; "
        f"false positives {fp * 10_000 / len(clean):6.2f} per 10k lines"
    )
    recall = whole / len(labelled)
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        print("  detect-secrets : not installed (pip install detect-secrets)")
        return
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "corpus.log"
        spans: list[tuple[int, int, Line]] = []  # 1-based line ranges per record
        lineno = 1
        with open(path, "w", encoding="utf-8") as fh:
            for ln in lines:
                k = ln.text.count("\n") + 1
                spans.append((lineno, lineno + k - 1, ln))
                lineno += k
                fh.write(ln.text + "\n")
        coll = SecretsCollection()
        with default_settings():
            coll.scan_file(str(path))
        by_line: dict[int, list[str]] = {}
        for _, secret in coll:
            by_line.setdefault(secret.line_number, []).append(secret.secret_value or "")
    ds_whole = ds_partly = ds_fp = 0
    for first, last, ln in spans:
        found = [v for i in range(first, last + 1) for v in by_line.get(i, [])]
        if ln.secrets:
            w, p = score(ln.text, ln.secrets, value_spans(ln.text, found))
            ds_whole += w
            ds_partly += p
        else:
            ds_fp += len(found)
    print(
        f"  detect-secrets : recall {100 * ds_whole / len(labelled):5.1f} % whole, "
        f"{100 * ds_partly / len(labelled):5.1f} % partly; "
        f"false positives {ds_fp * 10_000 / len(clean):6.2f} per 10k lines (it reports, it does not redact)"
    )
    record(
        Row(
            "quality",
            "recall, whole secret covered",
            100 * recall,
            100 * ds_whole / len(labelled),
            "detect-secrets, same rule",
            None,
            "%",
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=1, help="corpus size every contender redacts")
    ap.add_argument("--big-mb", type=int, default=16, help="corpus size for the engine's absolute rate")
    ap.add_argument("--cli-mb", type=int, default=32, help="file size for the CLI run (1024 for 1 GB)")
    ap.add_argument("--quality-lines", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=["throughput", "pathological", "logging", "cli", "quality"])
    ap.add_argument("--json", help="append the rows to this JSON file (for bench/chart.py)")
    args = ap.parse_args()
    if args.only in (None, "throughput"):
        bench_throughput(args.mb, args.big_mb, args.rounds)
    if args.only in (None, "pathological"):
        bench_pathological(args.rounds)
    if args.only in (None, "logging"):
        bench_filter(args.rounds)
    if args.only in (None, "cli"):
        bench_cli(args.cli_mb, max(3, args.rounds - 2))
    if args.only in (None, "quality"):
        bench_quality(args.quality_lines)
    return finish(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
