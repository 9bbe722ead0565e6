"""The benchmarks run (they are not tests of speed: no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_scalar_mlp_quick():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scalar_mlp.py"), "--quick"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tinygrad_memo" in r.stdout and "plain floats" in r.stdout
    try:
        import micrograd  # noqa: F401
    except ImportError:
        return
    assert "gradients agree" in r.stdout
    assert "micrograd / tinygrad_memo" in r.stdout
