"""The redaction engine from Python: catalogue, known values, objects, modes, properties."""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import string
import sys
import threading
import urllib.parse
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keyseal
from keyseal._native import Finding, Redactor, redactor

sys.path.insert(0, str(Path(__file__).parent))
from corpus.generate import FORMATS, generate, github_like

MASK_MAX = len("[REDACTED:") + max(len(i) for i in Redactor().rule_ids) + len("]")


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor(use_known=False)


@pytest.mark.parametrize(("kind", "gen", "template"), FORMATS, ids=[f[0] for f in FORMATS])
def test_each_corpus_format_is_redacted_whole(r: Redactor, kind: str, gen, template: str) -> None:
    rng = random.Random(kind)
    for _ in range(20):
        secret = gen(rng)
        line = template.format(s=secret)
        out = r.redact(line)
        assert secret not in out, (kind, out)
        assert "[REDACTED:" in out
        # Whole: no long piece of the secret is left behind either (a webhook URL's public
        # host part excepted).
        body = secret.removeprefix("https://hooks.slack.com/")
        for i in range(0, max(len(body) - 12, 1), 6):
            piece = body[i : i + 12]
            if len(piece) == 12:
                assert piece not in out, (kind, piece, out)


def test_catalogue_size_and_ids(r: Redactor) -> None:
    cat = Redactor.catalogue()
    # The count README.md and docs/redaction.md publish: a rule added or dropped must update them.
    docs = Path(__file__).resolve().parent.parent
    for page in ("README.md", "docs/redaction.md"):
        published = {int(n) for n in re.findall(r"\b(\d+) rules\b", (docs / page).read_text())}
        assert published == {len(cat)}, (page, published, len(cat))
    ids = [c[0] for c in cat]
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(r.rule_ids)
    assert "known_secret" in r.rule_ids


def test_github_checksum_cuts_false_positives(r: Redactor) -> None:
    tok = github_like(random.Random(1), "ghp_")
    assert [f.kind for f in r.scan(tok)] == ["github_pat"]
    broken = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    assert r.scan(broken) == []


@pytest.mark.parametrize(
    "text",
    [
        str(uuid.uuid4()),
        "3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "The quick brown fox jumps over the lazy dog",
        "1234567890 9876543210 3.14159",
        "max_tokens=2048 token_count=12 password_hint=blue",
        "Invalid password: try again",
        "GET /api/v1/users?page=2 HTTP/1.1 200 https://example.com/a",
    ],
)
def test_hard_negatives(r: Redactor, text: str) -> None:
    assert r.scan(text) == []
    assert r.redact(text) is text


def test_url_header_and_pair_forms(r: Redactor) -> None:
    cases = {
        "redis://:pw-Secret1@cache:6379/0": "pw-Secret1",
        "amqp://user:Gu3stPass@mq//": "Gu3stPass",
        "mongodb+srv://a:S3cret99@cluster.example.net/db": "S3cret99",
        "Authorization: Bearer abcdefghijklmnop.qrstuv": "abcdefghijklmnop.qrstuv",
        "Set-Cookie: session=9a8b7c6d5e4f; HttpOnly": "9a8b7c6d5e4f",
        "x-api-key: 0a1b2c3d4e5f6a7b": "0a1b2c3d4e5f6a7b",
        "?access_token=tok_123456&x=1": "tok_123456",
        '{"refresh_token": "rt-abcdef123"}': "rt-abcdef123",
        "client_secret='cs-98765zz'": "cs-98765zz",
    }
    for text, secret in cases.items():
        out = r.redact(text)
        assert secret not in out, out


def test_scan_reports_spans_not_secrets(r: Redactor) -> None:
    text = "héllo wörld password=hunter22 ok"
    findings = r.scan(text)
    assert len(findings) == 1
    f = findings[0]
    assert isinstance(f, Finding)
    assert text[f.start : f.end] == "hunter22"  # code-point offsets for str
    assert "hunter22" not in repr(f)
    kind, start, end = f
    assert (kind, start, end) == (f.kind, f.start, f.end)
    raw = text.encode()
    fb = r.scan(raw)[0]
    assert raw[fb.start : fb.end] == b"hunter22"  # byte offsets for bytes


def test_redact_bytes_and_types(r: Redactor) -> None:
    data = b"\xff\xfe binary password=hunter22 \x00"
    out = r.redact_bytes(data)
    assert b"hunter22" not in out
    assert out.startswith(b"\xff\xfe")
    clean = b"nothing here"
    assert r.redact_bytes(clean) is clean
    with pytest.raises(TypeError):
        r.redact(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        r.redact_bytes("str")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        r.scan(123)  # type: ignore[arg-type]


def test_known_values_in_encodings() -> None:
    r = Redactor(use_known=False)
    secret = "Zq8!v/x+Kd#2 pw"
    assert r.add_secret(secret) is True
    assert r.known_count == 1
    b1 = base64.b64encode(f"user:{secret}".encode()).decode()
    b2 = base64.b64encode(f"xx{secret}yy".encode()).decode()
    b3 = base64.urlsafe_b64encode(f"x{secret}".encode()).decode()
    # (text as logged, the piece that must not survive)
    forms = [
        (secret, secret),
        (urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret, safe="")),
        (urllib.parse.quote_plus(secret), urllib.parse.quote_plus(secret)),
        (json.dumps({"v": secret}), json.dumps(secret)[1:-1]),
        (repr({"v": secret}), repr(secret)[1:-1]),
        ("Basic " + b1, b1),
        (b2, b2[4:-4]),
        (b3, b3[4:-4]),
    ]
    for logged, piece in forms:
        out = r.redact(f"headers {logged} end")
        assert piece not in out, (logged, out)
        assert "[REDACTED:" in out
    assert r.remove_secret(secret) is True
    assert r.redact(f"x {secret} y") == f"x {secret} y"
    assert r.add_secret("short") is False  # too short to match safely
    with pytest.raises(TypeError):
        r.add_secret(12345)  # type: ignore[arg-type]


def test_revealed_secret_is_known_process_wide() -> None:
    value = "revealed-" + uuid.uuid4().hex
    s = keyseal.Secret(value)
    before = redactor().redact(f"log {value}")
    assert before == f"log {value}"
    assert s.reveal() == value
    assert redactor().redact(f"log {value}") == "log [REDACTED:known_secret]"
    # Instances that opt in (the default) see the process-wide set too.
    assert Redactor().redact(value) == "[REDACTED:known_secret]"
    assert Redactor(use_known=False).redact(value) == value
    redactor().remove_secret(value)


def test_redact_obj_nested_by_value_and_key_name(r: Redactor) -> None:
    Point = namedtuple("Point", "user token")
    obj = {
        "api_token": "plain-looking",
        "clientSecret": 123456,
        "X-Api-Key": b"raw-bytes-key",
        "Authorization": "Bearer zzzzzzzzzzzzzzzzzzzz",
        "password_hint": "blue",
        "max_tokens": 100,
        "nested": [{"db": "postgres://u:dbpass1@h/x"}, ("a", "password=hunter22"), {"k": None}],
        "point": Point("bob", "tuple-field"),
        "tags": {"sk_live_" + "a" * 24},
        "ok": True,
        "password": None,
    }
    before = copy.deepcopy(obj)
    out = r.redact_obj(obj)
    assert obj == before, "input was mutated"
    assert out["api_token"] == "[REDACTED:sensitive_field]"
    assert out["clientSecret"] == "[REDACTED:sensitive_field]"
    assert out["X-Api-Key"] == b"[REDACTED:sensitive_field]"
    assert "zzzz" not in out["Authorization"]
    assert out["password_hint"] == "blue"
    assert out["max_tokens"] == 100
    assert "dbpass1" not in out["nested"][0]["db"]
    assert out["nested"][1] == ("a", "password=[REDACTED:secret_assignment]")
    assert out["nested"][2] == {"k": None}
    assert isinstance(out["point"], Point)
    assert out["point"].user == "bob"
    assert out["tags"] == {"[REDACTED:stripe_secret_key]"}
    assert out["ok"] is True
    assert out["password"] is None


def test_redact_obj_deep_and_cyclic(r: Redactor) -> None:
    deep: object = "password=hunter22"
    for _ in range(1000):
        deep = [deep]
    out = r.redact_obj(deep)
    assert "hunter22" not in repr(out)
    cyc: list[object] = ["token=abcdef123"]
    cyc.append(cyc)
    out = r.redact_obj(cyc)
    assert out[0] == "token=[REDACTED:secret_assignment]"
    assert out[1] == "[...]"


def test_modes() -> None:
    text = "password=s3cr3t-Value-0987654321"
    partial = Redactor(mode="partial", use_known=False).redact(text)
    assert partial == "password=[REDACTED:secret_assignment...4321]"
    k1 = Redactor(mode="fingerprint", fingerprint_key=b"k" * 32, use_known=False)
    k2 = Redactor(mode="fingerprint", fingerprint_key=b"j" * 32, use_known=False)
    a, b, c = k1.redact(text), k1.redact("other " + text), k2.redact(text)
    tag = a.rsplit("#", 1)[1]
    assert b.endswith(tag)
    assert not c.endswith(tag)
    assert "0987654321" not in a
    with pytest.raises(ValueError):
        Redactor(mode="fingerprint")
    with pytest.raises(ValueError):
        Redactor(mode="fingerprint", fingerprint_key=b"short")
    with pytest.raises(TypeError):
        Redactor(mode="fingerprint", fingerprint_key="text-key-0123456789")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Redactor(mode="loud")  # type: ignore[arg-type]


def test_disable_and_custom_rules() -> None:
    r = Redactor(
        disable=["secret_assignment"],
        custom_rules=[("acme", r"\bacme_(?P<s>[a-z0-9]{12})\b", ["acme_"]), ("emp", r"EMP[0-9]{6}")],
        use_known=False,
    )
    assert r.redact("password=hunter22") == "password=hunter22"
    assert r.redact("k acme_abcdef123456") == "k acme_[REDACTED:acme]"
    assert r.redact("EMP123456") == "[REDACTED:emp]"
    with pytest.raises(ValueError, match="unknown rule"):
        Redactor(disable=["no_such_rule"])
    with pytest.raises(ValueError):
        Redactor(custom_rules=[("bad", "(")])
    with pytest.raises(ValueError):
        Redactor(custom_rules=[("jwt", "x")])
    with pytest.raises(TypeError):
        Redactor(disable="jwt")


def test_is_sensitive_key() -> None:
    for k in ["api_token", "client_secret", "x-api-key", "apiKey", "DB_PASSWORD", "set-cookie"]:
        assert Redactor.is_sensitive_key(k), k
    for k in ["token_count", "max_tokens", "author", "secret_name", "username"]:
        assert not Redactor.is_sensitive_key(k), k


def test_large_input_from_threads() -> None:
    r = Redactor(use_known=False)
    lines = generate(3000, seed=9)
    text = "\n".join(line.text for line in lines)
    secrets = [s for line in lines for s in line.secrets]
    assert secrets
    results: list[str] = []

    def work() -> None:
        results.append(r.redact(text))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert not any(s in results[0] for s in secrets)


# ---- properties

_words = st.text(alphabet=string.ascii_letters + string.digits + " .,:;-_/=?&\"'{}[]\n", max_size=300)
_secret_lines = st.sampled_from(FORMATS).flatmap(
    lambda f: st.integers(0, 2**32).map(lambda seed: f[2].format(s=f[1](random.Random(seed))))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_words, _secret_lines), max_size=8))
def test_property_idempotent_and_bounded(parts: list[str]) -> None:
    r = Redactor(use_known=False)
    text = " ".join(parts)
    once = r.redact(text)
    assert r.redact(once) == once
    assert len(once) <= len(text) + len(r.scan(text)) * MASK_MAX
    lines_in, lines_out = text.split("\n"), once.split("\n")
    if len(lines_in) == len(lines_out):  # no multi-line secret (PEM block) was folded
        for line_in, line_out in zip(lines_in, lines_out, strict=True):
            assert len(line_out) <= len(line_in) + len(r.scan(line_in)) * MASK_MAX


@settings(max_examples=300, deadline=None)  # a loaded CI machine is no reason to fail
@given(
    st.lists(
        st.one_of(
            st.uuids().map(str),
            st.text(alphabet="0123456789abcdef", min_size=7, max_size=64),
            st.integers().map(str),
            st.sampled_from(["the", "user", "order", "created", "GET", "/api/v1", "ok", "200"]),
        ),
        max_size=30,
    )
)
def test_property_no_secret_is_byte_identical(parts: list[str]) -> None:
    r = Redactor(use_known=False)
    text = " ".join(parts)
    assert r.scan(text) == []
    assert r.redact(text) is text
