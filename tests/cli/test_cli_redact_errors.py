"""``keyseal redact`` / ``scan``: modes, rules, and every user error as one line with exit 2 (issue 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _cli_helpers import assert_user_error, keyseal

from keyseal import ApiKeys, Keyring, Vault

# `password=` pairs are matched by key name.
LINE = b"login ok password=hunter2-very-secret user=bob\n"


def test_redact_in_place_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(LINE * 10)
    assert_user_error(keyseal("redact", str(f), "-o", str(f)), "also an input")
    assert f.read_bytes() == LINE * 10
    # Another name for the same file (a symlink) is caught too.
    link = tmp_path / "link.log"
    link.symlink_to(f)
    assert_user_error(keyseal("redact", str(f), "-o", str(link)), "also an input")
    assert f.read_bytes() == LINE * 10


def test_redact_partial_mode() -> None:
    token = "Zq8vLr2mNx5tWb7yKc3dHf6jPq9s"
    res = keyseal("redact", "--mode", "partial", stdin=f"password={token}\n".encode())
    assert res.returncode == 0
    out = res.stdout.decode()
    assert token not in out
    assert "[REDACTED:" in out
    assert token[-4:] in out  # partial keeps a short tail
    full = keyseal("redact", stdin=f"password={token}\n".encode()).stdout.decode()
    assert token[-4:] not in full


def test_disable_a_rule_and_unknown_rule() -> None:
    assert b"hunter2" not in keyseal("redact", stdin=LINE).stdout
    res = keyseal("redact", "--disable", "secret_assignment", stdin=LINE)
    assert res.returncode == 0
    assert b"hunter2-very-secret" in res.stdout
    assert_user_error(keyseal("redact", "--disable", "no_such_rule", stdin=LINE), "--disable", "no_such_rule")
    assert_user_error(keyseal("scan", "--disable", "no_such_rule", stdin=LINE), "--disable")


def test_disable_the_api_key_rule() -> None:
    # A real token from an ApiKeys in this process; the CLI subprocess knows the `ks` prefix.
    keys = ApiKeys(Vault("memory://", keyring=Keyring.generate()))
    token = keys.issue("cli").token.reveal().encode()
    line = b"key " + token + b" end\n"
    on = keyseal("redact", stdin=line)
    assert on.returncode == 0, on.stderr
    assert on.stdout == b"key [REDACTED:keyseal_api_key] end\n"
    assert keyseal("scan", stdin=line).returncode == 1
    off = keyseal("redact", "--disable", "keyseal_api_key", stdin=line)
    assert off.returncode == 0, off.stderr
    assert off.stdout == line
    scan = keyseal("scan", "--disable", "keyseal_api_key", stdin=line)
    assert (scan.returncode, scan.stdout) == (0, b"")


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    res = keyseal("redact", str(tmp_path / "missing.log"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr.decode()
    assert "No such file" in res.stderr.decode()
    assert keyseal("scan", str(tmp_path / "missing.log")).returncode == 2


def test_secrets_file_missing_or_directory(tmp_path: Path) -> None:
    assert_user_error(
        keyseal("redact", "--secrets-file", str(tmp_path / "nope"), stdin=LINE), "--secrets-file"
    )
    assert_user_error(keyseal("scan", "--secrets-file", str(tmp_path), stdin=LINE), "is a directory")


def test_unwritable_output(tmp_path: Path) -> None:
    assert_user_error(keyseal("redact", "-o", str(tmp_path / "no" / "dir" / "out"), stdin=LINE), "-o")
    assert_user_error(keyseal("redact", "-o", str(tmp_path), stdin=LINE), "is a directory")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        assert_user_error(keyseal("redact", "-o", str(ro / "out"), stdin=LINE), "Permission denied")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [["redact"], ["scan", "--json"], ["demo"], ["keygen"]])
def test_output_to_dev_full(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        res = subprocess.run(
            [sys.executable, "-m", "keyseal", *args],
            input=LINE * 1000,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert res.returncode == 2, res.stderr
    err = res.stderr.decode()
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert "No space left on device" in err


def test_scan_a_directory_recurses(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    (clean / "sub").mkdir(parents=True)
    (clean / "a.log").write_text("nothing here\n")
    (clean / "sub" / "b.log").write_text("still nothing\n")
    res = keyseal("scan", str(clean))
    assert res.returncode == 0, res.stderr  # was 1 ("secrets found") for any directory
    assert res.stderr == b""
    (clean / "sub" / "c.log").write_bytes(b"ok\n" + LINE)
    res = keyseal("scan", "--json", str(clean))
    assert res.returncode == 1
    items = json.loads(res.stdout)
    assert [(i["file"], i["line"]) for i in items] == [(str(clean / "sub" / "c.log"), 2)]
    red = keyseal("redact", str(clean))
    assert red.returncode == 2
    assert "Is a directory" in red.stderr.decode()


@pytest.mark.parametrize("cmd", ["redact", "scan"])
def test_broken_pipe_prints_no_noise(tmp_path: Path, cmd: str) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(LINE * 200_000)  # ~9 MB: far more than a pipe buffer
    shell = f"{sys.executable} -m keyseal {cmd} {big} | head -1"
    res = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, timeout=120, check=False
    )
    assert len(res.stdout.splitlines()) == 1
    assert res.stderr == b"", res.stderr.decode()
    assert res.returncode == 141  # 128 + SIGPIPE, as for tools the signal kills


def test_scan_many_files_progress_only_on_a_terminal(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.log").write_bytes(LINE)
    res = keyseal("scan", *(str(tmp_path / f"f{i}.log") for i in range(5)))
    assert res.returncode == 1
    # Piped: the findings and the one summary line, no bar.
    assert res.stderr.decode().strip() == "5 secret(s) found"


def test_scan_progress_bar_on_a_terminal_for_many_files(tmp_path: Path) -> None:
    from _cli_helpers import keyseal_on_tty

    files = []
    for i in range(4):
        f = tmp_path / f"g{i}.log"
        f.write_bytes(LINE)
        files.append(str(f))
    status, out, tty = keyseal_on_tty("scan", *files)
    assert status == 1
    assert "scan" in tty
    assert "4/4" in tty  # rich's M-of-N column: one step per file
    assert out.count(b"secret_assignment") == 4
    status, _, tty = keyseal_on_tty("scan", files[0])
    assert status == 1
    assert "/1" not in tty  # one file: no bar, only the summary line
    assert tty.strip() == "1 secret(s) found"
