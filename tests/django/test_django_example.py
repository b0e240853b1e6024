"""examples/django: its own tests (Django's test client, real Redis) pass, and its settings pass
keyseal's checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _django_helpers import db_url

import keyseal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django"


def _env(redis_plain) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        KEYSEAL_KEYS=keyseal.Keyring.generate().export(),
        REDIS_URL=db_url(redis_plain.url, 5),
        PARTNER_CLIENT_SECRET="example-client-secret",
    )
    return env


def test_example_project_tests_pass(redis_plain) -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "test", "partner", "-v", "2"],
        cwd=EXAMPLE,
        env=_env(redis_plain),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert "Ran 3 tests" in proc.stderr


def test_example_settings_pass_keyseal_checks(redis_plain) -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--tag", "security", "--fail-level", "WARNING"],
        cwd=EXAMPLE,
        env=_env(redis_plain),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "keyseal." not in proc.stderr
