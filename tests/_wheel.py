"""One wheel per test session, built from this checkout, for the packaging and README tests.

`maturin build --release` reuses the release build `make build-dev` left in target/, so this costs
a link and a zip, not a compile. The wheel's contents and metadata match `make dist`'s (that one
adds thin LTO and strips symbols).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LOCK = threading.Lock()
_BUILT: dict[str, Path] = {}


def built_wheel(out_dir: Path) -> Path:
    """The path of a wheel of this checkout (built on the first call of the session)."""
    with _LOCK:
        if "wheel" not in _BUILT:
            maturin = Path(sys.executable).with_name("maturin")
            cmd = [
                str(maturin) if maturin.exists() else "maturin",
                "build",
                "--release",
                "--out",
                str(out_dir),
            ]
            env = dict(os.environ, PYO3_PYTHON=sys.executable)
            res = subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800, env=env, check=False
            )
            if res.returncode != 0:
                raise RuntimeError(f"maturin build failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
            wheels = sorted(out_dir.glob("keyseal-*.whl"))
            if len(wheels) != 1:
                raise RuntimeError(f"expected one wheel in {out_dir}, found {wheels}")
            _BUILT["wheel"] = wheels[0]
        return _BUILT["wheel"]
