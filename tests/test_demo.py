"""The demo (``python -m tinygrad_memo demo``): quick settings write every picture."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_memo import data, demo
from tinygrad_memo.demo.moons import scalar_mlp_numpy

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
HAVE_DOT = shutil.which("dot") is not None


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, after checking its signature and IHDR chunk."""
    raw = Path(path).read_bytes()
    assert raw[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert raw[12:16] == b"IHDR"
    assert raw.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"), f"{path} is truncated"
    return struct.unpack(">II", raw[16:24])


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = demo.run_demo(out, seed=0, quick=True, log=lines.append)
    return out, result, lines


def expected_pngs() -> list[str]:
    names = []
    if HAVE_MPL:
        names += ["moons_loss.png", "moons_boundary.png"]
        names += (["digits_curves.png", "digits_samples.png", "cnn_curves.png"] if HAVE_SKLEARN
                  else ["spirals_curves.png", "spirals_boundary.png"])
    if HAVE_DOT:
        names += ["neuron.png", "mlp.png"] + (["cnn_graph.png"] if HAVE_SKLEARN else [])
    return names


def test_quick_demo_writes_valid_pngs(quick_run):
    out, result, _ = quick_run
    written = [Path(f).name for f in result["files"]]
    assert written[:2] == ["memo_table.txt", "memo_table.json"]
    for name in expected_pngs():
        assert name in written, name
        path = out / name
        assert path.stat().st_size > 2000, name
        width, height = png_size(path)
        assert width >= 300 and height >= 150, (name, width, height)
    assert sorted(p.name for p in out.iterdir()) == sorted(written)


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
def test_quick_demo_animates_the_backward_pass(quick_run):
    Image = pytest.importorskip("PIL.Image")
    out, result, _ = quick_run
    for name, nodes in (("neuron_backward.gif", 10), ("ladder_backward.gif", 7)):
        assert name in [Path(f).name for f in result["files"]]
        with Image.open(out / name) as im:
            assert im.n_frames == nodes + 2, name


def test_quick_demo_results(quick_run):
    out, result, _ = quick_run
    rows = result["memo_rows"]
    assert [r["depth"] for r in rows] == list(range(1, demo.SETTINGS["quick"]["memo_depth"] + 1))
    assert all(r["agree"] for r in rows)
    assert [r["paths"] for r in rows][:4] == [2, 4, 8, 16]
    assert json.loads((out / "memo_table.json").read_text())[2]["paths"] == 8
    moons = result["moons"]
    assert moons["steps"] == demo.SETTINGS["quick"]["moons_steps"]
    assert moons["accuracy"] > 0.6  # chance is 0.5
    clf = result["classifier"]
    assert clf["dataset"] == ("digits" if HAVE_SKLEARN else "spirals")
    assert clf["test_accuracy"] > 0.8  # chance is 0.1 (digits) or 1/3 (spirals)
    assert len(clf["history"]) == clf["epochs"]
    cnn = result["cnn"]
    if HAVE_SKLEARN:
        assert len(cnn["history"]) == cnn["epochs"] == demo.SETTINGS["quick"]["cnn_epochs"]
        assert cnn["test_accuracy"] > 0.6  # chance is 0.1
    else:
        assert cnn is None
    assert result["seconds"] > 0


def test_quick_demo_log(quick_run):
    out, result, lines = quick_run
    text = "\n".join(lines)
    assert str(out.resolve()) in lines[0]
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert step in text
    assert "Final accuracies:" in text
    assert f"training accuracy {100 * result['moons']['accuracy']:.1f}%" in text
    assert f"test accuracy {100 * result['classifier']['test_accuracy']:.1f}%" in text
    assert "paths (= naive evals)" in text  # the memo table, at the end
    listing = text.split("Outputs in")[1]
    for f in result["files"]:
        assert Path(f).name in listing
    assert lines[-1].startswith("Done in")


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere(monkeypatch):
    from tinygrad_memo.demo import progress as pr

    lines: list[str] = []
    ctx = {"quiet": False, "log": lines.append}

    class Terminal:
        def isatty(self):
            return True

        def write(self, s):
            pass

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Terminal())
    tqdm = pytest.importorskip("tqdm")
    bar = pr.progress(ctx, range(2), "x")
    assert isinstance(bar, tqdm.tqdm)
    bar.close()
    monkeypatch.undo()
    with pr.ticking(ctx, "training", total=3, unit="epoch") as tick:
        for i in range(3):
            tick(f"loss {i}")
    for _ in pr.progress(ctx, range(4), "memo table", total=4, unit="depth"):
        pass
    assert len(lines) == 2
    assert lines[0].startswith("      training: 3 epochs in ") and lines[0].endswith("(loss 2)")
    assert lines[1].startswith("      memo table: 4 depths in ")
    assert pr.progress({"quiet": True, "log": lines.append}, [1], "q") == [1]


def test_quiet_prints_nothing(tmp_path, capsys):
    def fail(msg):
        raise AssertionError(f"logged while quiet: {msg}")

    result = demo.run_demo(tmp_path, quiet=True, quick=True, log=fail, parts=["memo", "graphs"])
    assert (tmp_path / "memo_table.txt").is_file()
    assert result["memo_rows"]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_parts_and_quick_default(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown part"):
        demo.run_demo(tmp_path, quiet=True, parts=["nope"])
    monkeypatch.setattr(demo, "QUICK", True)  # what run_demo(quick=None) falls back to
    result = demo.run_demo(tmp_path, quiet=True, parts=["memo"])
    assert len(result["memo_rows"]) == demo.SETTINGS["quick"]["memo_depth"]
    assert "moons" not in result


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
def test_missing_dot_logs_install_hint(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # dot cannot be found
    lines: list[str] = []
    result = demo.run_demo(tmp_path / "out", quick=True, log=lines.append, parts=["graphs"])
    hint = [line for line in lines if "`dot` is not installed" in line]
    assert len(hint) == 1 and "apt-get install graphviz" in hint[0]
    assert "\n" not in hint[0]
    assert not (tmp_path / "out" / "neuron.png").exists()
    assert result["graphs"] is None


def test_missing_matplotlib_skips_plots(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # import fails
    lines: list[str] = []
    result = demo.run_demo(tmp_path, quick=True, log=lines.append, parts=["moons"])
    assert [line for line in lines if "matplotlib is not installed" in line]
    assert result["moons"]["accuracy"] > 0.5
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.skipif(not HAVE_MPL, reason="matplotlib is not installed")
def test_spirals_without_scikit_learn(tmp_path, monkeypatch):
    def no_sklearn(*args, **kwargs):
        raise ImportError("load_digits needs scikit-learn")

    monkeypatch.setattr(data, "load_digits", no_sklearn)
    lines: list[str] = []
    result = demo.run_demo(tmp_path, quick=True, log=lines.append, parts=["digits", "cnn"])
    assert result["classifier"]["dataset"] == "spirals"
    assert any("scikit-learn" in line for line in lines)
    assert result["cnn"] is None and any("skipped the CNN" in line for line in lines)
    for name in ("spirals_curves.png", "spirals_boundary.png"):
        png_size(tmp_path / name)


def test_scalar_mlp_numpy_forward_is_the_model():
    """The boundary picture is drawn with a numpy copy of the scalar MLP: same numbers."""
    r = demo.train_moons(n=16, steps=2, seed=3)
    X = np.random.default_rng(0).normal(size=(12, 2))
    own = [r["model"]([float(a), float(b)]).data for a, b in X]
    np.testing.assert_allclose(scalar_mlp_numpy(r["model"], X), own, rtol=1e-12,
                               atol=1e-12)


def test_train_moons_is_seeded():
    a = demo.train_moons(n=16, steps=3, seed=7)
    b = demo.train_moons(n=16, steps=3, seed=7)
    assert a["losses"] == b["losses"]
    assert a["losses"] != demo.train_moons(n=16, steps=3, seed=8)["losses"]


def test_the_library_never_imports_the_demo():
    """Every module of the package but the demo (and ``__main__``, which runs the CLI)
    imports without pulling in the demo or its plotting and progress-bar libraries."""
    code = (
        "import importlib, pathlib, sys, tinygrad_memo\n"
        "root = pathlib.Path(tinygrad_memo.__file__).parent\n"
        "for f in sorted(root.rglob('*.py')):\n"
        "    parts = ('tinygrad_memo',) + f.relative_to(root).with_suffix('').parts\n"
        "    if 'demo' in parts or '__main__' in parts:\n"
        "        continue\n"
        "    importlib.import_module('.'.join(p for p in parts if p != '__init__'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'tqdm')\n"
        "             or m.startswith('tinygrad_memo.demo')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
