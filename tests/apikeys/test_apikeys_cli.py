"""``keyseal apikey`` (python -m keyseal._apikey_cli until the CLI package registers it) against a real
redis-server, in subprocesses; and the register() contract the CLI assembly and manage.py use."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import keyseal
from conftest import fresh_namespace
from keyseal._apikey_cli import register


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyseal._apikey_cli", "apikey", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(apikeys_redis: Any) -> dict[str, str]:
    ring = keyseal.Keyring.generate()
    return {**os.environ, "KEYSEAL_KEYS": ring.export(), "KEYSEAL_URL": apikeys_redis.url}


def test_issue_list_rotate_revoke(env: dict[str, str]) -> None:
    ns = ["--namespace", fresh_namespace()]
    r = run(
        env, "issue", "alice", "--scope", "read", "--scope", "write", "--ttl", "3600", "--label", "ci", *ns
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("ks_")
    assert len(token) == 49
    assert "not shown again" in r.stderr
    assert token not in r.stderr
    keys = keyseal.ApiKeys(
        keyseal.Vault(env["KEYSEAL_URL"], keyring=keyseal.Keyring.from_string(env["KEYSEAL_KEYS"])),
        namespace=ns[1],
    )
    k = keys.verify(token, scopes=["read", "write"])
    assert k.label == "ci"
    assert k.expires_at is not None

    r = run(env, "issue", "alice", "--json", *ns)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["owner"] == "alice"
    assert doc["scopes"] == []
    assert doc["expires_at"] is None
    assert keys.verify(doc["token"]).key_id == doc["key_id"]

    r = run(env, "list", "alice", "--json", *ns)
    listed = json.loads(r.stdout)
    assert [x["key_id"] for x in listed] == [doc["key_id"], k.key_id]
    assert token not in r.stdout
    assert doc["token"] not in r.stdout
    r = run(env, "list", "alice", *ns)
    assert r.returncode == 0
    assert k.key_id in r.stdout
    assert token not in r.stdout

    r = run(env, "rotate", k.key_id, "--json", *ns)
    rotated = json.loads(r.stdout)
    assert rotated["scopes"] == ["read", "write"]
    assert rotated["label"] == "ci"
    with pytest.raises(keyseal.InvalidApiKey):
        keys.verify(token)
    assert keys.verify(rotated["token"]).owner == "alice"

    assert run(env, "revoke", rotated["key_id"], *ns).returncode == 0
    assert run(env, "revoke", rotated["key_id"], *ns).returncode == 1
    r = run(env, "list", "alice", "--all", *ns)
    assert r.stdout.count("revoked") == 2


def test_errors_are_clear(env: dict[str, str], apikeys_redis: Any) -> None:
    r = run(env, "issue", "alice", "--scope", "has space")
    assert r.returncode == 2
    assert "scope" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(env, "rotate", "Zzzzzzzz")
    assert r.returncode == 2
    assert "invalid API key" in r.stderr
    no_url = {k: v for k, v in env.items() if k != "KEYSEAL_URL"}
    r = run(no_url, "list", "alice")
    assert r.returncode == 2
    assert "KEYSEAL_URL" in r.stderr
    r = run(env, "revoke", "bad")
    assert r.returncode == 2
    assert "key_id" in r.stderr


def test_register_with_a_factory(apikeys_redis: Any, capsys: pytest.CaptureFixture[str]) -> None:
    keys = keyseal.ApiKeys(
        keyseal.Vault(apikeys_redis.url, keyring=keyseal.Keyring.generate()), namespace=fresh_namespace()
    )
    parser = argparse.ArgumentParser(prog="manage.py keyseal")
    register(parser.add_subparsers(dest="command", required=True), api_keys=lambda: keys)
    args = parser.parse_args(["apikey", "issue", "bob", "--scope", "x"])
    assert not hasattr(args, "url")  # the factory decides where keys live
    assert args.func(args) == 0
    token = capsys.readouterr().out.strip()
    assert keys.verify(token, scopes=["x"]).owner == "bob"
