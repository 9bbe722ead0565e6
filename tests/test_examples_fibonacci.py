"""examples/fibonacci.py: exact call counts, and the script itself runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "fibonacci.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("examples_fibonacci", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fibo = _load_example()

F = [0, 1]  # F[k] = F(k)
while len(F) < 40:
    F.append(F[-1] + F[-2])


def _distinct(n):
    """Subproblems fib(n) needs: fib(0) .. fib(n), n + 1 of them (fib(1) alone needs no fib(0))."""
    return 1 if n == 1 else n + 1


@pytest.mark.parametrize("n", range(0, 23))
def test_naive_makes_2F_n_plus_1_minus_1_calls(n):
    value, calls = fibo.fib_naive(n)
    assert value == F[n]
    assert calls == 2 * F[n + 1] - 1


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 35, 200])
def test_memoized_computes_each_subproblem_once(n):
    value, calls, computations = fibo.fib_memo(n)
    assert value == fibo.fib_iterative(n)
    assert computations == _distinct(n)
    assert calls == (1 if n == 0 else 2 * n - 1)


@pytest.mark.parametrize("n", [0, 1, 2, 10, 35, 200])
def test_functools_cache_computes_each_subproblem_once(n):
    value, computations = fibo.fib_cache(n)
    assert value == fibo.fib_iterative(n)
    assert computations == _distinct(n)
    # a fresh cache on each call: counts do not depend on earlier calls
    assert fibo.fib_cache(n) == (value, computations)


def test_measure_row():
    row = fibo.measure(15)
    assert row["fib"] == 610
    assert row["naive_calls"] == 2 * F[16] - 1 == 1973
    assert row["memo_computations"] == row["cache_computations"] == 16
    assert all(row[k] >= 0 for k in ("naive_time", "memo_time", "cache_time"))
    assert "1,973" in fibo.format_row(row)


def test_script_runs_small():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--max-n", "15"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["10", "15"]
    assert rows[0][1] == "55" and "177" in rows[0]  # F(10) = 55, 2 F(11) - 1 = 177 calls
    assert rows[1][1] == "610" and "1,973" in rows[1]
    assert result.stderr == ""


@pytest.mark.parametrize("args", [["--max-n", "1000"], ["--min-n", "20", "--max-n", "10"]])
def test_script_rejects_bad_arguments(args):
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--max-n" in result.stderr
