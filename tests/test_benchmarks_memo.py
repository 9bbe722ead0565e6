"""The memo-price benchmarks run (no timing is asserted: they are not tests of speed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                       capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_anomaly_quick():
    out = _run("anomaly.py", "--quick")
    for name in ("scalar MLP (Value)", "small MLP (Tensor)", "deep MLP (Tensor)"):
        assert name in out
    assert "after/before" in out


def test_memory_quick():
    out = _run("memory.py", "--quick")
    assert "gradients equal to store-all's (exactly)" in out
    assert "store all" in out and "4 segments" in out and "goal with sqrt(n) = 4" in out
