"""The memo table (tinygrad_memo.memo) and the command line (tinygrad_memo.cli)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_memo
from tinygrad_memo import cli, demo
from tinygrad_memo.memo import format_table, ladder, ladder_counts, memo_table

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("demo", "memo", "viz", "bench", "saved", "modes")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# -- the ladder and the memo table --------------------------------------------------------------
# Counted by hand for width 2. One level on top of `a` is
#     m1 = a * c1,  m2 = a * c2,  s = m1 + m2,  b = s.tanh()
# 4 new nodes; edges m1->a, m2->a, s->m1, s->m2, b->s: 5 new edges; and every path
# into `a` goes either through m1 or through m2: the path count doubles.
HAND_COUNTS_W2 = {
    # depth: (nodes, edges, paths)
    0: (1, 0, 1),
    1: (5, 5, 2),
    2: (9, 10, 4),
    3: (13, 15, 8),
    4: (17, 20, 16),
    5: (21, 25, 32),
    10: (41, 50, 1024),
}
# Width 3: m1, m2, m3, s1 = m1 + m2, s2 = s1 + m3, tanh: 6 nodes, 3 + 2 + 2 + 1 = 8 edges,
# and three ways down into `a`.
HAND_COUNTS_W3 = {1: (7, 8, 3), 2: (13, 16, 9), 4: (25, 32, 81)}


@pytest.mark.parametrize("depth", sorted(HAND_COUNTS_W2))
def test_ladder_stats_width2_by_hand(depth):
    nodes, edges, paths = HAND_COUNTS_W2[depth]
    root, _ = ladder(depth)
    st = root.backward()
    assert (st.nodes, st.edges, st.local_grads, st.paths) == (nodes, edges, edges, paths)
    assert ladder_counts(depth) == {"nodes": nodes, "edges": edges, "local_grads": edges,
                                    "paths": paths}


@pytest.mark.parametrize("depth", sorted(HAND_COUNTS_W3))
def test_ladder_stats_width3_by_hand(depth):
    nodes, edges, paths = HAND_COUNTS_W3[depth]
    root, _ = ladder(depth, width=3)
    st = root.backward()
    assert (st.nodes, st.edges, st.local_grads, st.paths) == (nodes, edges, edges, paths)


def test_ladder_gradient_matches_closed_form():
    # Each level is b = tanh(1.25 a), so d root / d leaf = prod over levels of
    # 1.25 * (1 - b_i ** 2): an oracle independent of both engines.
    for width in (1, 2, 3):
        root, leaf = ladder(12, width)
        root.backward()
        a, expected = leaf.data, 1.0
        for _ in range(12):
            a = math.tanh(1.25 * a)
            expected *= 1.25 * (1 - a * a)
        assert math.isclose(root.data, a, rel_tol=1e-12)
        assert math.isclose(leaf.grad, expected, rel_tol=1e-9)


def test_ladder_values_stay_finite_when_deep():
    root, leaf = ladder(5000)
    st = root.backward()
    assert st.paths == 2 ** 5000  # exact big integer, counted without enumerating
    assert -1 < root.data < 1 and math.isfinite(leaf.grad)


def test_ladder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        ladder(-1)
    with pytest.raises(ValueError, match="width"):
        ladder(3, width=0)
    with pytest.raises(TypeError, match="depth"):
        ladder(2.5)


def test_memo_table_rows():
    rows = memo_table(range(1, 11))
    assert [r["depth"] for r in rows] == list(range(1, 11))
    for r in rows:
        d = r["depth"]
        assert r["local_grads"] == r["edges"] == 5 * d       # linear in depth
        assert r["nodes"] == 1 + 4 * d
        assert r["paths"] == 2 ** d                          # exponential in depth
        assert r["skipped"] is False
        assert r["naive_evaluations"] == r["paths"]          # naive: one product per path
        assert r["agree"] is True
        assert math.isclose(r["grad"], r["naive_grad"], rel_tol=1e-9)
        assert r["backward_s"] >= 0 and r["naive_s"] >= 0
    # paths double with each level while local derivatives grow by a constant
    for a, b in zip(rows, rows[1:], strict=False):
        assert b["paths"] == 2 * a["paths"]
        assert b["local_grads"] - a["local_grads"] == 5


def test_memo_table_width3():
    rows = memo_table([1, 2, 3, 4], width=3)
    assert [r["paths"] for r in rows] == [3, 9, 27, 81]
    assert [r["local_grads"] for r in rows] == [8, 16, 24, 32]
    assert all(r["agree"] and r["naive_evaluations"] == r["paths"] for r in rows)


def test_memo_table_skips_naive_over_budget():
    # 2 ** 24 paths at any realistic cost per path is far over 50 ms; 4 paths is not.
    rows = memo_table([2, 24], naive_budget_s=0.05)
    small, big = rows
    assert small["skipped"] is False and small["agree"] is True
    assert big["skipped"] is True
    assert big["naive_s"] is None and big["naive_evaluations"] is None
    assert big["agree"] is None
    assert big["paths"] == 2 ** 24 and big["local_grads"] == 5 * 24
    assert big["predicted_naive_s"] > 0.05
    # a zero budget skips everything; the memoized side still runs
    rows = memo_table([1, 3], naive_budget_s=0)
    assert all(r["skipped"] and r["agree"] is None for r in rows)
    assert [r["paths"] for r in rows] == [2, 8]


def test_memo_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match="naive_budget_s"):
        memo_table([1], naive_budget_s=-1)
    with pytest.raises(ValueError, match="depth"):
        memo_table([-2])


def test_format_table_is_aligned():
    rows = memo_table([1, 2, 20], naive_budget_s=0.01)
    text = format_table(rows, 0.01)
    lines = text.splitlines()
    assert len(lines) == 2 + 3
    assert len({len(line) for line in lines}) == 1  # every line the same width
    for col in ("nodes", "edges", "local derivs", "paths", "backward", "naive", "agree"):
        assert col in lines[0]
    assert "skipped (> 0.01 s)" in lines[-1]
    assert "1,048,576" in lines[-1]
    assert lines[2].rstrip().endswith("yes")
    assert "skipped (> budget)" in format_table(rows)


# -- the CLI ------------------------------------------------------------------------------------
def test_memo_command(capsys):
    assert cli.main(["memo", "--depth", "6"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("depth"))
    assert "paths" in lines[header] and "naive" in lines[header]
    body = lines[header + 2:]
    assert len(body) == 6
    for d, line in enumerate(body, 1):
        cells = line.split()
        assert cells[0] == str(d)
        assert cells[4] == f"{2 ** d:,}"
        assert cells[-1] == "yes"


def test_memo_command_width_budget_quiet(capsys):
    assert cli.main(["memo", "--depth", "22", "--width", "2", "--budget", "0.01",
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].lstrip().startswith("depth")  # --quiet: the table only
    assert "skipped (> 0.01 s)" in out.splitlines()[-1]


def test_memo_module_entry_point_subprocess():
    r = subprocess.run([sys.executable, "-m", "tinygrad_memo", "memo", "--depth", "6"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env=_env())
    assert r.returncode == 0, r.stderr
    assert "paths (= naive evals)" in r.stdout
    assert r.stdout.count("yes") == 6


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["memo"],
    ["memo", "--depth", "0"],
    ["memo", "--depth", "-3"],
    ["memo", "--depth", "six"],
    ["memo", "--depth", "3", "--width", "0"],
    ["memo", "--depth", "3", "--budget", "-1"],
    ["memo", "--depth", "3", "--budget", "nan"],
    ["memo", "--depth", "3", "--bogus"],
    ["viz", "--example", "transformer", "--out", "x.svg"],
    ["viz", "--example", "mlp"],
    ["bench", "--which", "gpu"],
    ["demo", "--seed", "abc"],
])
def test_bad_arguments_exit_nonzero_with_one_line(argv, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0], captured.err
    assert captured.out == ""


def test_bad_arguments_subprocess():
    r = subprocess.run([sys.executable, "-m", "tinygrad_memo", "memo", "--depth", "0"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env())
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_for_each_subcommand(sub, capsys):
    assert cli.main([sub, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and sub in out.splitlines()[0]


def test_top_level_help_lists_subcommands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for sub in SUBCOMMANDS:
        assert sub in out
    assert cli.main(["--version"]) == 0
    assert tinygrad_memo.__version__ in capsys.readouterr().out


def test_help_subprocess():
    r = subprocess.run([sys.executable, "-m", "tinygrad_memo", "--help"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env())
    assert r.returncode == 0 and all(s in r.stdout for s in SUBCOMMANDS)


def test_consistent_flags():
    parser = cli.build_parser()
    subs = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subs.items():
        opts = {o for a in sub._actions for o in a.option_strings}
        assert "--quiet" in opts, name
    for name in ("demo", "viz"):
        opts = {o for a in subs[name]._actions for o in a.option_strings}
        assert "--out" in opts
    for name in ("demo", "bench"):
        opts = {o for a in subs[name]._actions for o in a.option_strings}
        assert "--seed" in opts


def test_demo_command(tmp_path, monkeypatch, capsys):
    # as `make demo > log 2>&1` runs it: output to a pipe, progress as one line per stage
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "tinygrad_memo", "demo", "--quick", "--out",
                           str(out), "--seed", "3"], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    log = proc.stdout + proc.stderr
    assert str(out.resolve()) in log
    assert "\r" not in log
    longest = max(log.splitlines(), key=len)
    assert len(longest) <= 300, longest
    assert "      moons (scalar MLP): " in log  # a stage's line, not a bar
    depth = demo.SETTINGS["quick"]["memo_depth"]
    assert (out / "memo_table.txt").read_text().count("yes") == depth
    assert '"paths": 32' in (out / "memo_table.json").read_text()
    monkeypatch.setattr(demo, "DEMO_DEPTH", 5)
    monkeypatch.setattr(demo, "QUICK", True)
    assert cli.main(["demo", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_run_demo_returns_results(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_DEPTH", 3)
    monkeypatch.setattr(demo, "QUICK", True)
    lines = []
    result = demo.run_demo(tmp_path, seed=1, log=lines.append)
    assert [r["paths"] for r in result["memo_rows"]] == [2, 4, 8]
    assert all(Path(f).is_file() for f in result["files"])
    assert any("memo_table.txt" in line for line in lines)


def test_viz_command(tmp_path, capsys):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "ladder.svg"
    assert cli.main(["viz", "--example", "ladder", "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert "wrote" in capsys.readouterr().out


def test_bench_runs_scripts_and_forwards_flags(tmp_path, monkeypatch, capsys):
    (tmp_path / "scalar_mlp.py").write_text(
        "import sys  # --seed\nprint('ARGS', sys.argv[1:]); sys.exit(0)\n")
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: tmp_path)
    assert cli.main(["bench", "--which", "all", "--quick", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "skipping tensor" in out  # tensor_mlp.py absent here: skipped with a message
    (tmp_path / "tensor_mlp.py").write_text("import sys; sys.exit(3)\n")
    assert cli.main(["bench", "--which", "tensor"]) == 1
    assert "status 3" in capsys.readouterr().err


def test_bench_seed_only_to_scripts_that_take_it(tmp_path, monkeypatch, capfd):
    (tmp_path / "tensor_mlp.py").write_text(
        "import sys; print('ARGS', sys.argv[1:]); sys.exit(2 if len(sys.argv) > 2 else 0)\n")
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: tmp_path)
    assert cli.main(["bench", "--which", "tensor", "--quick", "--seed", "1"]) == 0
    out = capfd.readouterr().out
    assert "ARGS ['--quick']" in out and "takes no --seed" in out


def test_bench_passes_flags_to_script(tmp_path, monkeypatch, capfd):
    (tmp_path / "scalar_mlp.py").write_text(
        "import sys  # takes --seed\nprint('ARGS', sys.argv[1:])\n")
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: tmp_path)
    assert cli.main(["bench", "--which", "scalar", "--quick", "--seed", "5"]) == 0
    assert "ARGS ['--quick', '--seed', '5']" in capfd.readouterr().out
