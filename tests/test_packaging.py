"""Packaging: the package imports, its native part is the compiled extension, types ship and match it."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import keyseal

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(keyseal.__file__).resolve().parent
STUBTEST_ALLOWLIST = ROOT / ".ci" / "stubtest-allowlist"

# The public names architecture.md promises (issue 2 and the redaction layer).
PUBLIC_NAMES = [
    "Keyring",
    "Vault",
    "Secret",
    "KeysealError",
    "DecryptionError",
    "StoreError",
    "ConfigurationError",
    "redactor",
    "Redactor",
    "RedactingFilter",
]


def test_import_keyseal() -> None:
    assert keyseal.__name__ == "keyseal"
    assert PACKAGE_DIR.name == "keyseal"


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name(name: str) -> None:
    assert hasattr(keyseal, name), f"keyseal.{name} is part of the documented API (architecture.md)"


def test_exception_hierarchy() -> None:
    for name in ("DecryptionError", "StoreError", "ConfigurationError"):
        cls = getattr(keyseal, name)
        assert issubclass(cls, keyseal.KeysealError)
        assert cls is not keyseal.KeysealError
    assert issubclass(keyseal.KeysealError, Exception)
    # Distinct: none is a subclass of another.
    assert not issubclass(keyseal.DecryptionError, keyseal.StoreError)
    assert not issubclass(keyseal.StoreError, keyseal.DecryptionError)
    assert not issubclass(keyseal.ConfigurationError, keyseal.StoreError | keyseal.DecryptionError)


def test_version_matches_the_distribution() -> None:
    version = importlib.metadata.version("keyseal")
    assert keyseal.__version__ == version


def test_native_is_the_compiled_extension() -> None:
    native = importlib.import_module("keyseal._native")
    assert native.__name__ == "keyseal._native"
    spec = native.__spec__
    assert spec is not None
    assert spec.origin is not None
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    origin = Path(spec.origin)
    assert origin.suffix in {".so", ".pyd"}
    assert any(origin.name.endswith(sfx) for sfx in importlib.machinery.EXTENSION_SUFFIXES)
    if sys.platform != "win32":
        assert origin.name.endswith(".abi3.so"), "the wheel is abi3 (CPython >= 3.11)"
    assert origin.resolve().parent == PACKAGE_DIR


def test_public_classes_come_from_the_native_module() -> None:
    for name in ("Keyring", "Vault", "Secret"):
        assert getattr(keyseal, name).__module__ == "keyseal._native", name


def test_py_typed_and_stubs_ship() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_native.pyi").is_file()


def test_py_typed_is_tracked_in_git() -> None:
    """A file only in the working tree would be missing from a wheel built in a fresh clone."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for rel in ("python/keyseal/py.typed", "python/keyseal/_native.pyi"):
        result = subprocess.run(
            [git, "ls-files", "--error-unmatch", rel], cwd=ROOT, capture_output=True, check=False
        )
        assert result.returncode == 0, f"{rel} is not tracked by git"


def test_stubs_match_the_extension() -> None:
    pytest.importorskip("mypy")
    cmd = [sys.executable, "-m", "mypy.stubtest", "keyseal._native"]
    if STUBTEST_ALLOWLIST.is_file():
        cmd += ["--allowlist", str(STUBTEST_ALLOWLIST)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"stubtest found differences:\n{result.stdout}\n{result.stderr}"


def test_types_are_visible_to_a_type_checker(tmp_path: Path) -> None:
    """py.typed works: mypy --strict on user code sees keyseal's types (and catches a misuse)."""
    pytest.importorskip("mypy")
    good = tmp_path / "good.py"
    good.write_text(
        textwrap.dedent(
            """
            import keyseal

            ring: keyseal.Keyring = keyseal.Keyring.generate()
            envelope: bytes = ring.seal(b"x", context=b"c")
            plain: bytes = ring.open(envelope, context=b"c")
            ids: list[str] = list(ring.key_ids)
            """
        )
    )
    bad = tmp_path / "bad.py"
    bad.write_text("import keyseal\n\nn: int = keyseal.Keyring.generate().seal(b'x')\n")
    base = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    ok = subprocess.run([*base, str(good)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run([*base, str(bad)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert wrong.returncode == 1
    assert "Incompatible types in assignment" in wrong.stdout
