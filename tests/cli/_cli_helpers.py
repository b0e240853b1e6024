"""Running the real ``keyseal`` command in a subprocess, and checks every user error must pass."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def keyseal(
    *args: str,
    stdin: bytes | None = b"",
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`python -m keyseal ARGS` with a clean environment (no KEYSEAL_* from the caller) plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "keyseal", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=base,
        cwd=cwd,
        check=False,
    )


def assert_user_error(res: subprocess.CompletedProcess[bytes], *fragments: str) -> str:
    """Exit 2, one line on stderr, no traceback, nothing on stdout; returns the line."""
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 2, (res.returncode, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def keyseal_on_tty(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int, bytes, str]:
    """Run with stderr on a pseudo-terminal (where progress bars go): (status, stdout, terminal text)."""
    import pty

    parent, child = pty.openpty()
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    full.update(env or {}, COLUMNS="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyseal", *args],
        stdout=subprocess.PIPE,
        stderr=child,
        stdin=subprocess.DEVNULL,
        env=full,
    )
    os.close(child)
    out, _ = proc.communicate(timeout=timeout)
    chunks = []
    while True:
        try:
            data = os.read(parent, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(parent)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")
