"""Inputs that repeat a rule's anchor must not make redaction quadratic (same-run ratios)."""

from __future__ import annotations

import time

import pytest

import keyseal
from corpus.generate import generate

SIZE = 512 * 1024
# Found by a sweep over every rule's anchors repeated with short suffixes: each of these used
# to run the rule's regex over a whole window (up to 17 kB) per anchor.
UNITS = [
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\\n",
    "eyJ-",
    "sessiontoken.",
    "aws_session_token/",
    "sk-proj-",
    "1//0",
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


@pytest.mark.parametrize("unit", UNITS)
def test_repeated_anchor_stays_within_10x_of_the_corpus(unit: str, corpus_rate: float) -> None:
    red = keyseal.Redactor(use_known=False)
    raw = unit.encode()
    data = (raw * (SIZE // len(raw) + 1))[:SIZE]
    # Interleave with the corpus measurement's conditions: measured now, compared now.
    rate = _rate(red, data)
    assert rate * 10 > corpus_rate, f"{unit!r}: {rate / 1e6:.2f} MB/s vs corpus {corpus_rate / 1e6:.1f} MB/s"


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
