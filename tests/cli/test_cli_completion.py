"""Shell completion scripts are generated from the parser: every command and option is in them."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest
from _cli_helpers import keyseal

from _servers import in_ci
from keyseal import cli
from keyseal.cli.completion import commands, script


@pytest.fixture(scope="module")
def cmds() -> list:  # type: ignore[type-arg]
    return commands(cli.build_parser())


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_command_and_option_is_in_the_script(shell: str, cmds: list) -> None:  # type: ignore[type-arg]
    res = keyseal("completion", shell)
    assert res.returncode == 0
    text = res.stdout.decode()
    assert text == script(cli.build_parser(), shell)
    for cmd in cmds:
        assert cmd.name in text
        for option in cmd.options:
            for flag in option.flags:
                token = flag
                if shell == "fish":
                    token = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                assert token in text, (shell, cmd.name, flag)


def _bash_complete(line: str) -> list[str]:
    """What bash offers after `line` (the last word being completed), with our script loaded."""
    words = line.split(" ")
    quoted = " ".join(shlex.quote(w) for w in words)
    program = (
        script(cli.build_parser(), "bash")
        + f"\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n_keyseal\n"
        + 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    res = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    return [w for w in res.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_choices() -> None:
    assert {"keygen", "put", "audit", "scan"} <= set(_bash_complete("keyseal "))
    assert set(_bash_complete("keyseal re")) == {"rewrap", "redact"}
    assert set(_bash_complete("keyseal get --re")) == {"--reveal"}
    assert set(_bash_complete("keyseal audit --fail-on h")) == {"high"}
    assert set(_bash_complete("keyseal completion ")) == {"bash", "zsh", "fish"}
    assert "--keep-newline" in _bash_complete("keyseal put --")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_script_parses_in_its_shell(shell: str) -> None:
    if shutil.which(shell) is None:
        why = f"{shell} is not installed (`make deps` installs it); the text checks above still ran"
        if in_ci():
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(why)
    res = subprocess.run(
        [shell, "-n"],
        input=script(cli.build_parser(), shell),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_bash_script_parses() -> None:
    res = subprocess.run(
        ["bash", "-n"],
        input=script(cli.build_parser(), "bash"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr
