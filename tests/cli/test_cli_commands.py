"""Every command of the ``keyseal`` tool, run as users run it (a subprocess) against a real redis-server."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _cli_helpers import assert_user_error, keyseal, keyseal_on_tty

import keyseal as ks
from keyseal import cli


@pytest.fixture
def store(redis_plain: object, tmp_path: Path) -> dict[str, str]:
    """KEYSEAL_URL / KEYSEAL_KEYS for a fresh namespace on the shared plain server."""
    ring = ks.Keyring.generate()
    return {
        "KEYSEAL_URL": redis_plain.url,  # type: ignore[attr-defined]
        "KEYSEAL_KEYS": ring.export(),
        "NS": "cli-" + secrets.token_hex(4),
    }


def ns(store: dict[str, str]) -> list[str]:
    return ["--namespace", store["NS"]]


# -- keygen


def test_keygen_prints_a_keyring_that_loads() -> None:
    res = keyseal("keygen")
    assert res.returncode == 0
    ring = ks.Keyring.from_string(res.stdout.decode().strip())
    assert f"primary key id: {ring.primary_id}" in res.stderr.decode()


def test_keygen_rotate_keeps_old_keys_and_adds_a_primary() -> None:
    old = ks.Keyring.generate()
    res = keyseal("keygen", "--rotate", "--json", env={"KEYSEAL_KEYS": old.export()})
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    new = ks.Keyring.from_string(doc["keyring"])
    assert new.primary_id == doc["primary_key_id"] != old.primary_id
    assert old.primary_id in new.key_ids
    envelope = old.seal(b"x", context=b"c")
    assert new.open(envelope, context=b"c") == b"x"


def test_keygen_rotate_without_a_keyring_is_a_user_error() -> None:
    assert_user_error(keyseal("keygen", "--rotate"), "no keyring", "KEYSEAL_KEYS")


# -- put / get / delete / ttl


def test_put_from_stdin_then_get_masked_and_revealed(store: dict[str, str]) -> None:
    value = "sk_test_" + secrets.token_hex(12)
    res = keyseal("put", "stripe/api_key", *ns(store), stdin=value.encode() + b"\n", env=store)
    assert res.returncode == 0, res.stderr
    assert value not in (res.stdout + res.stderr).decode()
    masked = keyseal("get", "stripe/api_key", *ns(store), env=store)
    assert masked.returncode == 0
    assert value not in masked.stdout.decode()
    assert masked.stdout.strip() == b"**********"
    shown = keyseal("get", "stripe/api_key", "--reveal", *ns(store), env=store)
    assert shown.returncode == 0
    assert shown.stdout == value.encode() + b"\n"  # the newline from stdin was dropped
    doc = json.loads(keyseal("get", "stripe/api_key", "--json", *ns(store), env=store).stdout)
    assert doc == {"name": "stripe/api_key", "found": True, "value": "**********", "revealed": False}


def test_put_keep_newline(store: dict[str, str]) -> None:
    assert keyseal("put", "pem", "--keep-newline", *ns(store), stdin=b"line\n", env=store).returncode == 0
    assert keyseal("get", "pem", "--reveal", *ns(store), env=store).stdout == b"line\n"
    assert keyseal("put", "pem2", *ns(store), stdin=b"line\n", env=store).returncode == 0
    assert keyseal("get", "pem2", "--reveal", *ns(store), env=store).stdout == b"line\n"  # newline added back
    vault = ks.Vault(
        store["KEYSEAL_URL"], keyring=ks.Keyring.from_string(store["KEYSEAL_KEYS"]), namespace=store["NS"]
    )
    assert vault.get("pem") == "line\n"
    assert vault.get("pem2") == "line"


def test_put_refuses_an_empty_secret(store: dict[str, str]) -> None:
    assert_user_error(keyseal("put", "x", *ns(store), stdin=b"", env=store), "empty secret")
    assert_user_error(keyseal("put", "x", *ns(store), stdin=b"\n", env=store), "empty secret")


def test_put_binary_stdin_needs_binary_flag(store: dict[str, str]) -> None:
    blob = b"\xff\xfe\x00raw"
    assert_user_error(keyseal("put", "blob", *ns(store), stdin=blob, env=store), "not UTF-8", "--binary")
    assert keyseal("put", "blob", "--binary", *ns(store), stdin=blob, env=store).returncode == 0
    got = keyseal("get", "blob", "--reveal", *ns(store), env=store)
    assert got.stdout == blob + b"\n"


def test_put_with_ttl_and_ttl_command(store: dict[str, str]) -> None:
    assert keyseal("put", "t", "--ttl", "120", *ns(store), stdin=b"v" * 8, env=store).returncode == 0
    res = keyseal("ttl", "t", *ns(store), env=store)
    assert res.returncode == 0
    assert 100 < float(res.stdout) <= 120
    assert keyseal("put", "f", *ns(store), stdin=b"v" * 8, env=store).returncode == 0
    assert keyseal("ttl", "f", *ns(store), env=store).stdout.strip() == b"forever"
    doc = json.loads(keyseal("ttl", "f", "--json", *ns(store), env=store).stdout)
    assert doc == {"name": "f", "found": True, "ttl": None, "forever": True}
    missing = keyseal("ttl", "nope", *ns(store), env=store)
    assert missing.returncode == 1


def test_get_exit_codes_found_missing_error(store: dict[str, str], refused_port: object) -> None:
    keyseal("put", "here", *ns(store), stdin=b"value-123", env=store)
    assert keyseal("get", "here", *ns(store), env=store).returncode == 0
    missing = keyseal("get", "absent", *ns(store), env=store)
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr.decode()
    down = dict(store, KEYSEAL_URL=refused_port.url)  # type: ignore[attr-defined]
    assert_user_error(keyseal("get", "here", *ns(store), env=down), "StoreConnectionError")


def test_delete(store: dict[str, str]) -> None:
    keyseal("put", "gone", *ns(store), stdin=b"value-123", env=store)
    res = keyseal("delete", "gone", "--json", *ns(store), env=store)
    assert res.returncode == 0
    assert json.loads(res.stdout) == {"name": "gone", "deleted": True}
    assert keyseal("delete", "gone", *ns(store), env=store).returncode == 1
    assert keyseal("get", "gone", *ns(store), env=store).returncode == 1


# -- rewrap


def test_rewrap_exit_codes(store: dict[str, str]) -> None:
    for i in range(5):
        keyseal("put", f"n{i}", *ns(store), stdin=f"value-{i}".encode(), env=store)
    old = ks.Keyring.from_string(store["KEYSEAL_KEYS"])
    rotated = old.rotated()
    res = keyseal("rewrap", "--json", *ns(store), env=dict(store, KEYSEAL_KEYS=rotated.export()))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["rewrapped"] == 5
    assert doc["failed"] == 0
    assert doc["primary_key_id"] == rotated.primary_id
    assert res.stderr == b""  # piped: no progress bar
    # A value sealed under a key the keyring no longer has cannot be re-sealed: exit 1.
    keyseal("put", "stale", *ns(store), stdin=b"value-old", env=store)
    retired = rotated.without(old.primary_id)
    res = keyseal("rewrap", *ns(store), env=dict(store, KEYSEAL_KEYS=retired.export()))
    assert res.returncode == 1
    assert b"1 could not be opened" in res.stdout
    assert_user_error(keyseal("rewrap", "--batch-size", "0", *ns(store), env=store), "--batch-size")


def test_rewrap_progress_bar_only_on_a_terminal(store: dict[str, str]) -> None:
    for i in range(3):
        keyseal("put", f"p{i}", *ns(store), stdin=b"value-xyz", env=store)
    status, out, tty_err = keyseal_on_tty("rewrap", *ns(store), env=store, timeout=60)
    assert status == 0
    assert "rewrap" in tty_err, tty_err
    assert "━" in tty_err, tty_err  # rich's bar
    assert b"re-sealed" in out


# -- user errors: one line, exit 2, no traceback (issue 8 point 14)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("a\x01b", "control character"),
        ("tab\tname", "control character"),
        (" x", "whitespace"),
    ],
)
def test_bad_names(store: dict[str, str], name: str, fragment: str) -> None:
    for cmd in ("put", "get", "delete", "ttl"):
        assert_user_error(keyseal(cmd, name, *ns(store), stdin=b"value-1", env=store), fragment)


@pytest.mark.parametrize("ttl", ["nan", "-5", "0", "inf", "abc", "18446744073709552"])
def test_bad_ttls(store: dict[str, str], ttl: str) -> None:
    assert_user_error(keyseal("put", "x", "--ttl", ttl, *ns(store), stdin=b"value-1", env=store), "--ttl")


def test_value_over_one_mib(store: dict[str, str]) -> None:
    assert_user_error(keyseal("put", "big", *ns(store), stdin=b"a" * ((1 << 20) + 1), env=store), "1 MiB")
    assert keyseal("put", "max", *ns(store), stdin=b"a" * (1 << 20), env=store).returncode == 0


def test_keys_file_missing_or_directory(store: dict[str, str], tmp_path: Path) -> None:
    env = {"KEYSEAL_URL": store["KEYSEAL_URL"]}
    missing = str(tmp_path / "missing.keys")
    assert_user_error(keyseal("get", "x", "--keys-file", missing, env=env), "--keys-file", "No such file")
    assert_user_error(keyseal("get", "x", "--keys-file", str(tmp_path), env=env), "is a directory")
    assert_user_error(keyseal("get", "x", env=env), "no keyring")
    assert_user_error(keyseal("get", "x", env={"KEYSEAL_KEYS": store["KEYSEAL_KEYS"]}), "no store URL")
    good = tmp_path / "good.keys"
    good.write_text(store["KEYSEAL_KEYS"] + "\n")
    assert keyseal("get", "x", "--keys-file", str(good), *ns(store), env=env).returncode == 1


def test_bad_url_and_unreachable_server(store: dict[str, str], refused_port: object) -> None:
    env = dict(store, KEYSEAL_URL="bogus://x")
    assert_user_error(keyseal("get", "x", env=env))
    env = dict(store, KEYSEAL_URL="redis://cache.example.invalid:6379/0")
    assert_user_error(keyseal("get", "x", env=env), "ConfigurationError", "plaintext")
    env = dict(store, KEYSEAL_URL=refused_port.url)  # type: ignore[attr-defined]
    assert_user_error(keyseal("delete", "x", env=env), "StoreConnectionError")
    assert_user_error(keyseal("get", "x", "--ca-certs", "/nonexistent.pem", env=store), "--ca-certs")


# -- main() itself


def test_main_returns_2_on_user_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KEYSEAL_URL", raising=False)
    monkeypatch.setenv("KEYSEAL_KEYS", ks.Keyring.generate().export())
    assert cli.main(["get", "x"]) == 2
    assert capsys.readouterr().err.strip() == (
        "keyseal: no store URL: pass --url or set KEYSEAL_URL (e.g. rediss://cache.example:6380/0)"
    )
    assert cli.main(["no-such-command"]) == 2
    assert cli.main([]) == 2
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"keyseal {ks.__version__} ")


def test_main_returns_130_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyseal.cli import demo

    def interrupted(out: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run", interrupted)
    assert cli.main(["demo"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_sigint_while_put_waits_on_stdin(store: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    env.update(store)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyseal", "put", "x", *ns(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    time.sleep(1.5)  # let it import and block on stdin (the machine is loaded: generous)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err


# -- demo, version, help


def test_demo_runs_the_tour() -> None:
    res = keyseal("demo")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    for step in (
        "1. A new keyring",
        "2. Stored and fetched",
        "DecryptionError",
        "4. Rotation",
        "5. Plaintext",
    ):
        assert step in out
    assert "still opens: True" in out
    assert "rewrap() re-sealed 6 values under the new key; a second run re-sealed 0" in out
    assert "4eC39HqLyjWDarjtT1zdp7dc" not in out  # the fake key is shown only as a prefix


def test_version_command() -> None:
    res = keyseal("version", "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["keyseal"] == ks.__version__
    assert keyseal("--version").stdout.decode().startswith(f"keyseal {ks.__version__}")


def test_every_command_has_help_with_an_example() -> None:
    from keyseal.cli.completion import commands

    names = [c.name for c in commands(cli.build_parser())]
    expected = {
        "keygen",
        "put",
        "get",
        "delete",
        "ttl",
        "rewrap",
        "redact",
        "scan",
        "audit",
        "demo",
        "version",
    }
    assert expected <= set(names)
    for name in names:
        res = keyseal(name, "--help")
        assert res.returncode == 0, name
        text = res.stdout.decode()
        example = text.split("example:\n", 1)[1]
        assert f"keyseal {name}" in example or "keyseal keygen" in example, name
        assert "KEYSEAL_" in text or name in ("redact", "scan", "demo", "version", "completion", "keygen"), (
            name
        )


def test_reporting_commands_take_json_and_store_commands_share_options() -> None:
    from keyseal.cli.completion import commands

    by_name = {c.name: {f for o in c.options for f in o.flags} for c in commands(cli.build_parser())}
    for name in ("keygen", "put", "get", "delete", "ttl", "rewrap", "scan", "audit", "version"):
        assert "--json" in by_name[name], name
    for name in ("put", "get", "delete", "ttl", "rewrap", "audit"):
        assert {"--url", "--ca-certs", "--certfile", "--keyfile", "--username"} <= by_name[name], name


def test_put_hidden_prompt_on_a_terminal(store: dict[str, str]) -> None:
    """On a terminal, put asks without echoing (getpass on the controlling tty)."""
    import fcntl
    import pty
    import termios

    parent, child = pty.openpty()

    def controlling_tty() -> None:  # in the child, before exec
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    env.update(store)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyseal", "put", "typed", *ns(store)],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        preexec_fn=controlling_tty,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 60
    while b"secret for typed:" not in seen and time.monotonic() < deadline:
        seen += os.read(parent, 4096)
    assert b"secret for typed:" in seen
    os.write(parent, b"typed-secret-42\n")
    rest = b""
    while proc.poll() is None or rest == b"":
        try:
            chunk = os.read(parent, 4096)
        except OSError:
            break
        if not chunk:
            break
        rest += chunk
    proc.wait(timeout=60)
    os.close(parent)
    assert proc.returncode == 0, seen + rest
    assert b"typed-secret-42" not in seen + rest  # not echoed
    got = keyseal("get", "typed", "--reveal", *ns(store), env=store)
    assert got.stdout == b"typed-secret-42\n"
