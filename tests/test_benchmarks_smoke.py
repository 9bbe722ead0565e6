"""The benchmarks run (they are not tests of speed: no timing is asserted)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _quick(script: str, timeout: float):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_scalar_mlp_quick():
    r = _quick("scalar_mlp.py", 120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tinygrad_memo" in r.stdout and "plain floats" in r.stdout
    try:
        import micrograd  # noqa: F401
    except ImportError:
        return
    assert "gradients agree" in r.stdout
    assert "micrograd / tinygrad_memo" in r.stdout


def test_conv_quick():
    r = _quick("conv.py", 300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split()[0:3] for line in r.stdout.splitlines() if line.startswith(("conv ", "digits"))]
    assert [" ".join(row) for row in rows] == ["conv 1->8 28x28", "conv 8->16 28x28", "digits CNN step"]
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert "agree with PyTorch" in r.stdout


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs Valgrind")
def test_instructions_quick():
    r = _quick("instructions.py", 600)
    assert r.returncode == 0, r.stdout + r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("small"))
    buffers, eager = (float(v) for v in re.findall(r"([\d.]+) \(", row))
    # thousands of instructions per step: hand-written numpy does a few hundred thousand,
    # and the eager engine (graph, memo, the same numpy calls) does more
    assert 100 < buffers < eager, row
