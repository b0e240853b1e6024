"""Inputs that repeat a rule's anchor must not make redaction quadratic (same-run ratios)."""

from __future__ import annotations

import time

import pytest

import keyseal
from corpus.generate import generate

SIZE = 512 * 1024
# Found by a sweep over every rule's anchors repeated with short suffixes: each of these used
# to run the rule's regex over a whole window (up to 17 kB) per anchor, 100x to 1,400x slower
# than the corpus. The bound is 10x, except where a rule matches (or nearly matches) every few
# bytes: there the per-match cost of the regex engine dominates and 40x is what is reached
# today (docs/redaction.md, "Pathological inputs").
UNITS = [
    ("-----BEGIN RSA PRIVATE KEY-----\n", 40),
    ("-----BEGIN PRIVATE KEY-----\\n", 40),
    ("sessiontoken.", 40),
    ("eyJ-", 10),
    ("aws_session_token/", 10),
    ("sk-proj-", 10),
    ("1//0", 10),
]


def _rate(red: keyseal.Redactor, data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        red.redact_bytes(data)
        best = min(best, time.perf_counter() - t)
    return len(data) / best


@pytest.fixture(scope="module")
def corpus_rate() -> float:
    red = keyseal.Redactor(use_known=False)
    corpus = "\n".join(line.text for line in generate(6000)).encode()
    return _rate(red, corpus)


@pytest.mark.parametrize(("unit", "bound"), UNITS)
def test_repeated_anchor_stays_near_the_corpus_rate(unit: str, bound: int, corpus_rate: float) -> None:
    red = keyseal.Redactor(use_known=False)
    raw = unit.encode()
    data = (raw * (SIZE // len(raw) + 1))[:SIZE]
    # Interleave with the corpus measurement's conditions: measured now, compared now.
    rate = _rate(red, data)
    assert rate * bound > corpus_rate, (
        f"{unit!r}: {rate / 1e6:.2f} MB/s vs corpus {corpus_rate / 1e6:.1f} MB/s"
    )


def test_a_key_after_many_headers_is_still_redacted() -> None:
    # The whole-input fallback must find what the windows would have.
    red = keyseal.Redactor(use_known=False)
    body = "MIIEpAIBAAKCAQEA" + "A" * 60
    text = (
        "-----BEGIN RSA PRIVATE KEY-----\n" * 5000
        + f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    )
    out = red.redact(text)
    assert body not in out
    tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    out = red.redact("eyJ-" * 20000 + " " + tok + " end")
    assert tok not in out


# Inputs that are secrets wall to wall (a match every few bytes) cost the regex engine's per-match
# work (about 1 us a match here), so they cannot stay within 10x of the corpus rate: 'pwd=a&'
# runs about 80x below it (docs/redaction.md). What must hold is that the cost stays linear: four
# times the input may not take much more than four times as long.
DENSE = ["pwd=a&", "password=hunter2 ", "token=abcdefghijkl ", "-----BEGIN RSA PRIVATE KEY-----\n"]


@pytest.mark.parametrize("unit", DENSE)
def test_dense_matches_cost_linear_time(unit: str) -> None:
    red = keyseal.Redactor(use_known=False)
    raw = unit.encode()
    small = (raw * (SIZE // 4 // len(raw) + 1))[: SIZE // 4]
    large = (raw * (SIZE // len(raw) + 1))[:SIZE]
    small_rate, large_rate = _rate(red, small), _rate(red, large)
    assert large_rate * 2 > small_rate, (
        f"{unit!r}: {large_rate / 1e6:.2f} MB/s on {SIZE} bytes vs {small_rate / 1e6:.2f} MB/s on a quarter"
    )
    out = red.redact_bytes(large)
    assert out.count(b"[REDACTED:") >= len(large) // len(raw) - 1
