"""cachelib's and Flask-Caching's reference test suites, fetched from the installed versions' sdists.

They are downloaded with pip (``pip download --no-deps --no-binary :all: NAME==VERSION``) into a
cache directory outside the repository (``$KEYSEAL_REFTEST_CACHE``, default
``~/.cache/keyseal/reference-tests``), never copied into it. Only the generic mixins are loaded:
cachelib's tests/common.py, clear.py, has.py and delete_many_with_prefix.py (with the
``TestData`` class and ``under_uwsgi`` helper taken from its conftest.py), and Flask-Caching's
``GenericCacheTests`` from tests/test_backend_cache.py. Their code runs unchanged.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path
from typing import Any

CACHE_DIR = Path(
    os.environ.get("KEYSEAL_REFTEST_CACHE") or Path.home() / ".cache" / "keyseal" / "reference-tests"
)


class ReferenceUnavailable(RuntimeError):
    """The sdist could not be fetched or did not hold the expected tests."""


def sdist_tests(dist: str) -> Path:
    """The tests/ directory of the sdist of the installed version of ``dist`` (downloaded once)."""
    version = importlib.metadata.version(dist)
    target = CACHE_DIR / f"{dist}-{version}"
    done = target / ".complete"
    if not done.exists():
        with tempfile.TemporaryDirectory(prefix="keyseal-ref-") as tmp:
            cmd = [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--no-binary", ":all:", f"{dist}=={version}", "--dest", tmp,
            ]  # fmt: skip
            try:
                subprocess.run(cmd, check=True, timeout=300, capture_output=True)
            except (subprocess.SubprocessError, OSError) as err:
                detail = getattr(err, "stderr", b"") or b""
                raise ReferenceUnavailable(
                    f"pip download of {dist}=={version} failed: {detail.decode(errors='replace')[-500:]}"
                ) from err
            archives = list(Path(tmp).glob("*.tar.gz"))
            if len(archives) != 1:
                raise ReferenceUnavailable(f"expected one sdist of {dist}=={version}, got {archives}")
            _extract_tests(archives[0], target)
        done.touch()
    tests = target / "tests"
    if not tests.is_dir():
        raise ReferenceUnavailable(f"no tests/ directory in the sdist of {dist}=={version}")
    return tests


def _extract_tests(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) > 2 and parts[1] == "tests" and member.isfile() and ".." not in parts:
                member.name = str(Path(*parts[1:]))
                members.append(member)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse links and odd paths
            tar.extractall(target, members=members, filter="data")
        else:  # only regular files under tests/ were kept above
            tar.extractall(target, members=members)


def _exec_module(name: str, path: Path, source: str | ast.Module | None = None) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    code = compile(source if source is not None else path.read_text(), str(path), "exec")
    exec(code, module.__dict__)
    return module


def cachelib_mixins() -> dict[str, Any]:
    """CommonTests, ClearTests, HasTests and DeleteManyWithPrefixTests from cachelib's sdist."""
    tests = sdist_tests("cachelib")
    # The mixins do `from conftest import TestData, under_uwsgi`; cachelib's conftest also starts
    # servers with pytest-xprocess, which we do not want: take only those two definitions.
    tree = ast.parse((tests / "conftest.py").read_text())
    wanted = {"TestData", "under_uwsgi"}
    kept = [n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name in wanted]
    if {n.name for n in kept} != wanted:
        raise ReferenceUnavailable("cachelib's conftest.py no longer defines TestData and under_uwsgi")
    shim = _exec_module("cachelib_reference_conftest", tests / "conftest.py", ast.Module(kept, []))
    saved = sys.modules.get("conftest")
    sys.modules["conftest"] = shim
    try:
        found: dict[str, Any] = {}
        for stem, cls in (
            ("common", "CommonTests"),
            ("clear", "ClearTests"),
            ("has", "HasTests"),
            ("delete_many_with_prefix", "DeleteManyWithPrefixTests"),
        ):
            module = _exec_module(f"cachelib_reference_{stem}", tests / f"{stem}.py")
            found[cls] = getattr(module, cls)
    finally:
        if saved is None:
            del sys.modules["conftest"]
        else:
            sys.modules["conftest"] = saved
    found["TestData"] = shim.TestData
    return found


def flask_caching_generic() -> Any:
    """GenericCacheTests from Flask-Caching's sdist (tests/test_backend_cache.py)."""
    tests = sdist_tests("Flask-Caching")
    module = _exec_module("flask_caching_reference_backend", tests / "test_backend_cache.py")
    return module.GenericCacheTests
