"""The README's first two shell blocks work as written (issue 8 point 21).

The first installs keyseal into a fresh venv and runs the demo; the second runs the test suite.
The first is run for real: a fresh venv gets the wheel of this checkout (built once per session
by tests/_wheel.py; `pip install .` would compile the same code again) and runs `keyseal demo`.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shell_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[list[str]]:
    """Each simple command of a block (split on newlines, &&, ;), comments dropped."""
    out = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|;", line):
            if part.strip():
                out.append(shlex.split(part))
    return out


def test_first_two_blocks_are_install_demo_and_make_ci() -> None:
    first, second = shell_blocks()[:2]
    assert commands(first) == [
        ["python3", "-m", "venv", ".venv"],
        [".venv/bin/pip", "install", "."],
        [".venv/bin/keyseal", "demo"],
    ]
    assert commands(second) == [["make", "ci"]]


def test_first_two_blocks_name_only_things_that_exist() -> None:
    first, second = shell_blocks()[:2]
    assert shutil.which("python3")
    assert (ROOT / "pyproject.toml").is_file()  # what `pip install .` installs
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'keyseal = "keyseal.cli:main"' in pyproject  # what makes .venv/bin/keyseal
    assert shutil.which("make")
    assert re.search(r"^ci:", (ROOT / "Makefile").read_text(), flags=re.M)
    for argv in commands(first) + commands(second):
        for word in argv[1:]:
            if "/" in word or word.endswith((".log", ".txt", ".pem")):
                # Every file a command reads must exist (only .venv/... is made by the block itself).
                assert word.startswith(".venv/") or (ROOT / word).exists(), word


def test_first_block_runs_the_demo_from_a_fresh_venv(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from _wheel import built_wheel

    wheel = built_wheel(tmp_path_factory.mktemp("readme-wheel"))
    env_dir = tmp_path / ".venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    first = shell_blocks()[0]
    for argv in commands(first):
        if argv[:3] == ["python3", "-m", "venv"]:
            continue  # done above, in tmp_path
        if argv[0] == ".venv/bin/pip":
            # `pip install .` builds this checkout; the wheel is that build. --no-deps: the demo
            # needs nothing else and CI should not depend on a package index for it.
            argv = [str(env_dir / "bin" / "pip"), "install", "--quiet", "--no-deps", str(wheel)]
        else:
            argv = [str(tmp_path / argv[0]), *argv[1:]]
        res = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
    out = res.stdout
    assert "1. A new keyring" in out
    assert out.rstrip().splitlines()[-1].startswith("Done.")
    assert sys.prefix not in res.stderr
