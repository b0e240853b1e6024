"""``manage.py keyseal`` (keygen, rewrap, check-keys) through call_command, and the app loaded by a
project with no database at all."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from _django_helpers import keyseal_cache
from django.core.management import call_command
from django.core.management.base import CommandError

import keyseal


class TtyIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stderr: io.StringIO | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    call_command("keyseal", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("keyseal_app")
def test_keygen_prints_a_keyring() -> None:
    out, err = run("keygen")
    ring = keyseal.Keyring.from_string(out.strip())
    assert len(ring.key_ids) == 1
    assert f"primary key id: {ring.primary_id}" in err
    assert out.strip() not in err


@pytest.mark.usefixtures("keyseal_app")
def test_keygen_rotate_keeps_old_keys(use_caches, keyring_text) -> None:
    use_caches(default=keyseal_cache("memory://", keyring_text))
    out, _ = run("keygen", "--rotate")
    ring = keyseal.Keyring.from_string(out.strip())
    old = keyseal.Keyring.from_string(keyring_text)
    assert ring.key_ids[1:] == old.key_ids
    assert ring.primary_id != old.primary_id


@pytest.mark.usefixtures("keyseal_app")
def test_rewrap_reseals_under_new_primary(use_caches, keyring_text) -> None:
    old = keyseal.Keyring.from_string(keyring_text)
    new = old.rotated()
    caches = use_caches(default=keyseal_cache("memory://rewrap-cmd", keyring_text, NAMESPACE="cmd-rewrap"))
    for i in range(25):
        caches["default"].vault.put(f"k{i}", b"v%d" % i)
    caches = use_caches(default=keyseal_cache("memory://rewrap-cmd", new.export(), NAMESPACE="cmd-rewrap"))
    out, err = run("rewrap")
    assert f"re-sealed 25 values under key {new.primary_id}" in out
    assert "scanned 25" in out
    assert err == ""  # piped: no progress output
    # Resumable: a second run finds everything current.
    out, err = run("rewrap", "--cache", "default", stderr=TtyIO())
    assert "re-sealed 0 values" in out
    assert "already current 25" in out
    assert "\rscanned 25" in err
    # Old key retired: every value still opens.
    caches = use_caches(
        default=keyseal_cache(
            "memory://rewrap-cmd", new.without(old.primary_id).export(), NAMESPACE="cmd-rewrap"
        )
    )
    assert caches["default"].vault.get("k3") == b"v3"


@pytest.mark.usefixtures("keyseal_app")
def test_rewrap_refuses_other_backends(use_caches) -> None:
    use_caches(default={"BACKEND": "django.core.cache.backends.locmem.LocMemCache"})
    with pytest.raises(CommandError, match="not a keyseal"):
        run("rewrap")
    with pytest.raises(CommandError, match="nope"):
        run("rewrap", "--cache", "nope")


@pytest.mark.usefixtures("keyseal_app")
def test_subcommand_is_required() -> None:
    with pytest.raises(CommandError):
        run()


def test_app_checks_without_a_database(tmp_path, keyring_text) -> None:
    """A project with no DATABASES loads the app, and `check --deploy` reports keyseal's checks."""
    (tmp_path / "nodb_settings.py").write_text(
        "SECRET_KEY = 'x' * 60\n"
        "INSTALLED_APPS = ['keyseal.django']\n"
        "CACHES = {'default': {'BACKEND': 'keyseal.django.EncryptedRedisCache', 'LOCATION': 'memory://'},\n"
        "          'plain': {'BACKEND': 'django.core.cache.backends.redis.RedisCache',\n"
        "                    'LOCATION': 'redis://10.0.0.5:6379'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("KEYSEAL_KEYS",)}
    env["DJANGO_SETTINGS_MODULE"] = "nodb_settings"
    env["PYTHONPATH"] = str(tmp_path)
    argv = [sys.executable, "-m", "django", "check", "--deploy", "--tag", "security"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert "keyseal.E001" in proc.stderr
    assert "keyseal.W004" in proc.stderr
    env["KEYSEAL_KEYS"] = keyring_text
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert "keyseal.E001" not in proc.stderr
    assert "keyseal.W004" in proc.stderr
    assert keyring_text not in proc.stdout + proc.stderr


@pytest.mark.usefixtures("keyseal_app")
def test_check_keys_counts_key_ids_read_only(use_caches) -> None:
    old = keyseal.Keyring.generate()
    new = old.rotated()
    store = "memory://check-keys-" + new.primary_id
    caches = use_caches(default=keyseal_cache(store, old.export(), NAMESPACE="ck"))
    caches["default"].set_many({f"old{i}": i for i in range(6)})
    caches = use_caches(default=keyseal_cache(store, new.export(), NAMESPACE="ck"))
    caches["default"].set_many({f"new{i}": i for i in range(4)})
    out, _ = run("check-keys")
    assert "sampled 10 values" in out
    assert f"{new.primary_id}           4  primary" in out
    assert f"{old.primary_id}           6  older key" in out
    assert "run `manage.py keyseal rewrap`" in out
    out, _ = run("check-keys")  # nothing was re-sealed by the first run
    assert f"{old.primary_id}           6  older key" in out
    out, _ = run("check-keys", "--sample", "3")
    assert "sampled 3 values" in out
    with pytest.raises(CommandError, match="at least 1"):
        run("check-keys", "--sample", "0")
    run("rewrap")
    out, _ = run("check-keys")
    assert f"{new.primary_id}          10  primary" in out
    assert "rewrap`" not in out


@pytest.mark.usefixtures("keyseal_app")
def test_a_subcommand_plugs_in_with_one_entry(monkeypatch) -> None:
    """The contract later subcommands (audit, apikey) follow: one SUBCOMMANDS entry."""
    from keyseal.django.management.commands import keyseal as command_module

    def add_arguments(parser) -> None:
        parser.add_argument("--name", required=True)

    def hello(command, options) -> None:
        command.stdout.write(f"hello {options['name']}")

    entry = command_module.Subcommand("say hello", add_arguments, hello)
    monkeypatch.setitem(command_module.SUBCOMMANDS, "hello", entry)
    out, _ = run("hello", "--name", "lead")
    assert out.strip() == "hello lead"
    assert "hello: say hello" in command_module.Command().help


@pytest.mark.usefixtures("keyseal_app")
def test_audit_runs_on_the_cache_redis(use_caches, keyring_text, redis_plain, tmp_path) -> None:
    """``manage.py keyseal audit`` probes the Redis behind the cache alias with its own settings."""
    import json

    use_caches(default=keyseal_cache(redis_plain.url, keyring_text, NAMESPACE="cmd-audit"))
    html = tmp_path / "audit.html"
    out = io.StringIO()
    # A test server has no password: findings at high or above, so the command must say it failed.
    with pytest.raises(CommandError, match="findings at or above high"):
        call_command("keyseal", "audit", "--json", "--sample", "50", "--html", str(html), stdout=out)
    report = json.loads(out.getvalue())
    assert isinstance(report["score"], int)
    assert 0 <= report["score"] < 95
    assert report["findings"]
    assert {"id", "severity", "title", "evidence", "remediation"} <= set(report["findings"][0])
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # --fail-on info would fail too; --fail-on critical only when something critical was found.
    severities = {f["severity"] for f in report["findings"]}
    if "critical" not in severities:
        run("audit", "--sample", "10", "--fail-on", "critical")


@pytest.mark.usefixtures("keyseal_app")
def test_apikey_issue_and_list_through_manage_py(keyring_text, capsys) -> None:
    import json

    from django.test import override_settings

    ak = keyseal.ApiKeys(keyseal.Vault("memory://", keyring=keyseal.Keyring.from_string(keyring_text)))
    with override_settings(KEYSEAL_API_KEYS=ak):
        call_command("keyseal", "apikey", "issue", "grace", "--scope", "read", "--json")
        issued = json.loads(capsys.readouterr().out)
        key = ak.verify(issued["token"], scopes=["read"])
        assert key.owner == "grace"
        call_command("keyseal", "apikey", "list", "grace")
        listed = capsys.readouterr().out
        assert key.key_id in listed
        assert issued["token"] not in listed
        with pytest.raises(CommandError, match="apikey: failed"):
            call_command("keyseal", "apikey", "revoke", "nosuchid")
