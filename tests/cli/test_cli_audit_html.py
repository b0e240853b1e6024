"""The audit's HTML report in a real headless browser (Debian's chromium): it renders, logs no
console error, loads nothing from outside, and shows every finding."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from _servers import in_ci
from keyseal.audit import run_audit


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    why = "Debian's chromium is not installed (`make deps` installs it)"
    if in_ci():
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why)


def headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def bad_report(redis_factory: Any) -> Any:
    server = redis_factory.server("audit_html", aof=True, extra=("--protected-mode", "no"))
    server.client().set("api_key:carol", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "ABCDE999")
    return run_audit(server.url, rate=0)


def test_html_report_in_chromium(bad_report: Any, tmp_path: Path) -> None:
    browser = chromium()
    page = tmp_path / "audit.html"
    page.write_text(bad_report.to_html(), encoding="utf-8")
    html = page.read_text()
    # Self-contained: no script, stylesheet, image or font from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, flags=re.I)
    assert "<script" not in html.lower()
    assert "@import" not in html
    res = headless(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-3000:]
    dom = res.stdout
    assert len(bad_report.findings) >= 5
    for f in bad_report.findings:
        assert f'data-finding-id="{f.id}"' in dom, f.id
        assert f.title.replace("&", "&amp;") in dom or f.title in dom
    assert f'id="score">{bad_report.score}<' in dom
    assert f">{bad_report.grade}</div>" in dom
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    shot = tmp_path / "audit.png"
    res = headless(
        browser, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri()
    )
    assert res.returncode == 0, res.stderr[-3000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one


def test_cli_writes_the_html_report(bad_report: Any, tmp_path: Path) -> None:
    from _cli_helpers import keyseal

    out = tmp_path / "report.html"
    target = bad_report.observations["target"]
    res = keyseal("audit", target, "--html", str(out), "--rate", "0")
    assert res.returncode == 1
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>")
    for f in bad_report.findings:
        assert f'data-finding-id="{f.id}"' in text
    assert "4eC39HqLyjWDarjtT1zdp7dc" not in text
