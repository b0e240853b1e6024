"""``keyseal redact`` / ``keyseal scan`` (the ``keyseal.cli.redact`` command group)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keyseal._native import Redactor
from keyseal.cli import redact as _redact_cli

sys.path.insert(0, str(Path(__file__).parent.parent))
from corpus.generate import generate

RUNNER = "import sys\nfrom keyseal.cli import main\nsys.exit(main())\n"


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def parse(*args: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="keyseal")
    _redact_cli.register(p.add_subparsers(dest="command", required=True))
    return p.parse_args(list(args))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    lines = generate(4000, seed=21, secret_every=40)
    text = "".join(line.text + "\n" for line in lines)
    path = tmp_path_factory.mktemp("cli") / "app.log"
    path.write_text(text, encoding="utf-8")
    return path, [s for line in lines for s in line.secrets], text


def test_redact_stdin_to_stdout() -> None:
    res = run("redact", stdin=b"ok\npassword=hunter22 x\nredis://:pw-123456@h/0\n")
    assert res.returncode == 0
    assert (
        res.stdout == b"ok\npassword=[REDACTED:secret_assignment] x\nredis://:[REDACTED:url_password]@h/0\n"
    )


def test_redact_files_match_whole_text(corpus: tuple[Path, list[str], str], tmp_path: Path) -> None:
    path, secrets, text = corpus
    out = tmp_path / "out.log"
    res = run("redact", str(path), "-o", str(out))
    assert res.returncode == 0, res.stderr
    got = out.read_text(encoding="utf-8")
    assert got == Redactor(use_known=False).redact(text)
    assert not any(s in got for s in secrets)


def test_secrets_straddling_blocks(
    corpus: tuple[Path, list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, secrets, text = corpus
    expected = Redactor(use_known=False).redact(text)
    # Tiny blocks put many secrets (and key names) across block boundaries.
    for chunk in (97, 509, 1500):
        monkeypatch.setattr(_redact_cli, "CHUNK", chunk)
        monkeypatch.setattr(_redact_cli, "OVERLAP", 2048)
        monkeypatch.setattr(_redact_cli, "CONTEXT", 256)
        out = tmp_path / f"out{chunk}.log"
        args = parse("redact", str(path), "-o", str(out))
        args.func = _redact_cli.cmd_redact
        assert _redact_cli.cmd_redact(args) == 0
        got = out.read_text(encoding="utf-8")
        assert got == expected, chunk
        assert not any(s in got for s in secrets)


def test_secrets_file_adds_known_values(tmp_path: Path) -> None:
    known = tmp_path / "known.txt"
    known.write_bytes(b"plainwordvalue42\n")
    res = run("redact", "--secrets-file", str(known), stdin=b"a plainwordvalue42 b\n")
    assert res.stdout == b"a [REDACTED:known_secret] b\n"


def test_scan_reports_lines_without_secrets(corpus: tuple[Path, list[str], str]) -> None:
    path, secrets, text = corpus
    res = run("scan", str(path))
    assert res.returncode == 1
    out = res.stdout.decode()
    assert not any(s in out for s in secrets)
    reported = [line.split(":") for line in out.splitlines()]
    findings = Redactor(use_known=False).scan(text.encode())
    assert len(reported) == len(findings)
    data = text.encode()
    for (name, line, col, kind), f in zip(reported, findings, strict=True):
        assert name == str(path)
        assert int(line) == data.count(b"\n", 0, f.start) + 1
        assert int(col) == f.start - (data.rfind(b"\n", 0, f.start) + 1) + 1
        assert kind.strip() == f.kind


def test_scan_json_and_exit_codes(corpus: tuple[Path, list[str], str], tmp_path: Path) -> None:
    path, secrets, _ = corpus
    res = run("scan", "--json", str(path))
    assert res.returncode == 1
    items = json.loads(res.stdout)
    assert items
    assert {"file", "line", "column", "kind", "offset", "length"} <= set(items[0])
    assert not any(s in res.stdout.decode() for s in secrets)
    clean = tmp_path / "clean.log"
    clean.write_text("nothing to see\n" * 100)
    res = run("scan", "--json", str(clean))
    assert res.returncode == 0
    assert json.loads(res.stdout) == []
    res = run("scan", str(tmp_path / "missing.log"))
    assert res.returncode == 2


def test_scan_line_numbers_across_blocks(
    corpus: tuple[Path, list[str], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, text = corpus
    monkeypatch.setattr(_redact_cli, "CHUNK", 333)
    monkeypatch.setattr(_redact_cli, "OVERLAP", 2048)
    monkeypatch.setattr(_redact_cli, "CONTEXT", 100)
    args = parse("scan", "--json", str(path))
    assert _redact_cli.cmd_scan(args) == 1
    items = json.loads(capsys.readouterr().out)
    data = text.encode()
    findings = Redactor(use_known=False).scan(data)
    assert [(i["offset"], i["kind"]) for i in items] == [(f.start, f.kind) for f in findings]
    for i in items:
        assert i["line"] == data.count(b"\n", 0, i["offset"]) + 1
