"""Django's own tests/cache BaseCacheTests against EncryptedRedisCache (Redis and memory://), and the
sealed-session tests, each in a subprocess with settings of its own (see django_runner.py).

Django's tests come from the sdist of the installed Django version, fetched with pip at test time
into a cache directory (never copied into this repository). In CI they must run: a failed fetch
fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django
import pytest

import keyseal
from _servers import in_ci

HERE = Path(__file__).resolve().parent
CACHE_ROOT = Path(os.environ.get("KEYSEAL_TEST_CACHE", Path.home() / ".cache" / "keyseal-tests"))


def django_tests_dir() -> Path:
    """tests/ of Django's sdist (only tests/cache extracted), downloaded once per version."""
    version = django.__version__
    root = CACHE_ROOT / f"django-{version}"
    marker = root / "tests" / "cache" / "tests.py"
    if marker.exists():
        return root / "tests"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", f"django=={version}", "-d", tmp],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        archives = list(Path(tmp).glob("[Dd]jango-*.tar.gz"))
        if proc.returncode != 0 or not archives:
            why = f"could not fetch Django {version}'s sdist: {proc.stderr.strip()[-500:]}"
            if in_ci():
                pytest.fail(f"CI=true and {why}", pytrace=False)
            pytest.skip(why)
        prefix = f"{archives[0].name.removesuffix('.tar.gz')}/tests/cache/"
        with tarfile.open(archives[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.isfile()]
            for member in members:
                member.name = "tests/cache/" + member.name.removeprefix(prefix)
            tar.extractall(root, members=members, filter="data")
    assert marker.exists()
    return root / "tests"


def run_suite(suite: str, location: str, tmp_path: Path, redis_url: str = "") -> dict[str, object]:
    out = tmp_path / f"{suite}.json"
    env = dict(os.environ)
    env["KEYSEAL_KEYS"] = keyseal.Keyring.generate().export()
    env["DJSUITE_REDIS_URL"] = redis_url
    env.pop("DJANGO_SETTINGS_MODULE", None)
    argv = [sys.executable, str(HERE / "django_runner.py"), "--suite", suite, "--location", location]
    argv += ["--json", str(out)]
    if suite == "cache":
        argv += ["--django-tests", str(django_tests_dir())]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    report = proc.stdout[-4000:] + proc.stderr[-8000:]
    assert proc.returncode == 0, report
    summary: dict[str, object] = json.loads(out.read_text())
    print(json.dumps(summary, indent=1))
    return summary


def _check_cache_summary(summary: dict[str, object]) -> None:
    assert summary["failures"] == summary["errors"] == 0
    skipped = summary["skipped"]
    assert isinstance(skipped, list)
    # Only the cull tests may skip (Culling isn't implemented: Django excludes them for Redis too).
    assert {name.split(" ")[0] for name, _ in skipped} <= {
        "test_cull",
        "test_zero_cull",
        "test_cull_delete_when_store_empty",
    }
    # Every test BaseCacheTests defines ran (54 in Django 5.2), 3 of them skipped.
    assert summary["run"] == summary["defined"]
    assert isinstance(summary["run"], int)
    assert summary["run"] >= 50
    assert len(skipped) == 3


def test_django_cache_tests_on_redis(redis_plain, tmp_path: Path) -> None:
    summary = run_suite("cache", redis_plain.url.rsplit("/", 1)[0] + "/2", tmp_path)
    _check_cache_summary(summary)


def test_django_cache_tests_on_memory(tmp_path: Path) -> None:
    summary = run_suite("cache", "memory://", tmp_path)
    _check_cache_summary(summary)


def test_django_sessions_sealed_in_redis(redis_plain, tmp_path: Path) -> None:
    url = redis_plain.url.rsplit("/", 1)[0] + "/3"
    summary = run_suite("sessions", url, tmp_path, redis_url=url)
    assert summary["run"] == 2
    assert summary["failures"] == summary["errors"] == 0
    assert summary["skipped"] == []
