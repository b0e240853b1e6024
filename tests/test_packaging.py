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
from typing import Any

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


# ---------------------------------------------------------------------------------------------
# the wheel a release ships (issue 13 point 5): built once per session, see tests/_wheel.py


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _wheel import built_wheel

    return built_wheel(tmp_path_factory.mktemp("wheel"))


def _wheel_names(wheel: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _wheel_metadata(wheel: Path) -> Any:
    import email.parser
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def test_wheel_is_abi3_and_holds_only_the_package(wheel: Path) -> None:
    assert "-cp311-abi3-" in wheel.name
    names = _wheel_names(wheel)
    package = [n for n in names if not n.startswith("keyseal-")]
    assert all(n.startswith("keyseal/") for n in package), package
    for needed in (
        "keyseal/__init__.py",
        "keyseal/py.typed",
        "keyseal/_native.pyi",
        "keyseal/cli/__init__.py",
        "keyseal/audit.py",
        "keyseal/__main__.py",
    ):
        assert needed in names, needed
    assert [n for n in names if n.startswith("keyseal/_native.") and n.endswith(".abi3.so")]
    for forbidden in ("tests/", "bench/", "fuzz/", "conftest", "test_", "/corpus/", ".rs"):
        assert not [n for n in names if forbidden in n], forbidden
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)
    assert any("LICENSE" in n and ".dist-info/" in n for n in names), "the license file ships in the wheel"


def test_wheel_metadata_is_complete(wheel: Path) -> None:
    meta = _wheel_metadata(wheel)
    assert meta["Name"] == "keyseal"
    assert meta["Version"] == keyseal.__version__
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Summary"]
    assert meta.get("License") == "Apache-2.0" or meta.get("License-Expression") == "Apache-2.0"
    assert meta["Description-Content-Type"].startswith("text/markdown")
    assert "Is my Redis safe?" in meta.get_payload()  # the README is the long description
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(urls)
    classifiers = meta.get_all("Classifier")
    for c in (
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Rust",
        "Programming Language :: Python :: 3.11",
        "Development Status :: 3 - Alpha",
        "Typing :: Typed",
    ):
        assert c in classifiers, c
    assert any(r.startswith("rich") for r in meta.get_all("Requires-Dist"))


def test_wheel_entry_point_is_the_cli(wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = zf.read(name).decode()
    assert text.split() == ["[console_scripts]", "keyseal=keyseal.cli:main"]
