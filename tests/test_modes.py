"""The lesson of issue 15, runnable: ``python -m tinygrad_memo modes`` and tinygrad_memo.modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tinygrad_memo import cli
from tinygrad_memo.modes import format_table, mixing, modes_table

ROOT = Path(__file__).resolve().parent.parent


def _rows(text: str) -> list[list[str]]:
    lines = text.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["n", "m"])
    return [line.split() for line in lines[start + 1:]]


def test_modes_cli_prints_the_counted_sweeps(capsys):
    assert cli.main(["modes", "--n", "1,6", "--m", "2,5", "--repeats", "1", "--quiet"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [(int(r[0]), int(r[1])) for r in rows] == [(1, 2), (1, 5), (6, 2), (6, 5)]
    for r in rows:
        n, m = int(r[0]), int(r[1])
        assert (int(r[2]), int(r[4])) == (n, m)  # jacfwd: n sweeps; jacrev: m sweeps
        assert int(r[6].replace(",", "")) == m * n * 4 * 4  # naive: m runs, n * 4^2 paths each
        assert r[8] in ("forward", "reverse") and r[9] == "yes"


def test_modes_cli_in_a_subprocess_and_bad_sizes():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "tinygrad_memo", "modes", "--n", "2", "--m", "3",
                        "--repeats", "1"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "jacfwd" in r.stdout and [x[:2] for x in _rows(r.stdout)] == [["2", "3"]]
    assert cli.main(["modes", "--n", "0"]) == 2
    assert cli.main(["modes", "--m", "x"]) == 2


def test_modes_table_skips_naive_past_the_budget():
    rows = modes_table(ns=(2, 8), ms=(8,), repeats=1, naive_budget_s=0.0)
    assert rows[0]["naive_paths"] == 8 * 2 * 16  # the first row calibrates
    assert rows[1]["naive_paths"] is None and rows[1]["naive_s"] is None
    assert all(r["agree"] for r in rows)
    assert "-" in format_table(rows).splitlines()[-1].split()


def test_mixing_is_the_function_it_says():
    f = mixing(3, 2, hidden=4, seed=1)
    x = [0.2, -0.4, 0.6]
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((4, 3)) / np.sqrt(3)
    w2 = rng.standard_normal((4, 4)) / 2
    w3 = rng.standard_normal((2, 4)) / 2
    want = w3 @ np.tanh(w2 @ np.tanh(w1 @ np.array(x)))
    np.testing.assert_allclose([y.data for y in f(x)], want, rtol=1e-12)
