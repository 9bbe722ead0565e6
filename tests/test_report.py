"""tm.saved_tensors_report: what each node keeps for backward, and the CLI's `saved`."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import cli, nn


def _rows(report):
    return [(r.op, r.saved, r.shape, r.dtype, r.nbytes, r.leaf) for r in report.rows]


def test_linear_tanh_names_inputs_outputs_and_leaves():
    lin = nn.Linear(3, 5)
    x = tm.Tensor(np.ones((4, 3), np.float32))
    h = lin(x)
    y = h.tanh()
    loss = (y * y).sum()
    r = tm.saved_tensors_report(loss)
    assert _rows(r) == [
        ("linear", "input 0 (x)", (4, 3), "float32", 48, True),
        ("linear", "input 1 (weight)", (5, 3), "float32", 60, True),
        ("tanh", "output", (4, 5), "float32", 80, False),
        ("mul", "input 0 (a)", (4, 5), "float32", 80, False),
        ("mul", "input 1 (b)", (4, 5), "float32", 80, False),
    ]
    # the tanh output is one buffer, saved three times
    assert r.total_bytes == x.data.nbytes + lin.weight.data.nbytes + y.data.nbytes
    assert r.leaf_bytes == x.data.nbytes + lin.weight.data.nbytes
    assert r.memo_bytes == y.data.nbytes
    assert r.nodes == 4 and r.released == 0
    assert r.by_op() == {"linear": (1, 2, 108), "tanh": (1, 1, 80), "mul": (1, 2, 80)}


def test_scratch_views_and_computed_arrays():
    class Saver(tm.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.reshape(-1), x * 2)
            ctx.mask = x > 0
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g

    x = tm.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    m = x.max(axis=1)
    y = Saver.apply(m)
    r = tm.saved_tensors_report(y)
    saved = [(row.op, row.saved, row.nbytes) for row in r.rows]
    assert ("max", "grad_fn.weight", 48) in saved
    assert ("Saver", "view of input 0 (x)", 16) in saved
    assert ("Saver", "computed in forward", 16) in saved
    assert ("Saver", "grad_fn.mask", 2) in saved


def test_released_nodes_keep_nothing_and_retained_ones_keep_everything():
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    before = tm.saved_tensors_report(y)
    y.backward(retain_graph=True)
    assert _rows(tm.saved_tensors_report(y)) == _rows(before)
    y.backward()
    after = tm.saved_tensors_report(y)
    assert after.rows == [] and after.total_bytes == 0
    assert after.released == after.nodes == 3
    assert "3 nodes keep nothing" in str(after)


def test_values_keep_one_float_per_local_derivative():
    a, b = tm.Value(2.0), tm.Value(3.0)
    y = (a * b + 1).tanh()
    r = tm.saved_tensors_report(y)
    assert [(row.op, row.saved) for row in r.rows] == [
        ("mul", "d/d input 0"), ("mul", "d/d input 1"), ("add", "d/d input"), ("tanh", "d/d input")]
    assert r.total_bytes == 4 * 8 and r.leaf_bytes == 0
    y.backward()
    assert tm.saved_tensors_report(y).rows == []


def test_table_text():
    x = tm.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    r = tm.saved_tensors_report((x.exp() + x.tanh()).sum())
    lines = str(r).splitlines()
    assert lines[0].startswith("saved for backward: 4 interior nodes, 2 arrays, 32 B")
    assert lines[1].split() == ["node", "op", "saved", "shape", "dtype", "bytes"]
    assert lines[2].split() == ["1", "exp", "output", "(2,", "2)", "float32", "16"]
    assert r.table(limit=1).splitlines()[-1] == " ... 1 more rows"
    assert repr(r) == "<SavedTensorsReport: 4 nodes, 2 arrays, 32 B>"


@pytest.mark.parametrize("model", cli.SAVED_MODELS)
def test_cli_saved(model, capsys):
    assert cli.main(["saved", "--model", model, "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "saved for backward:" in out
    assert ("mul" if model == "scalar" else "linear") in out
    assert cli.main(["saved", "--model", model, "--rows", "0", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("saved for backward:")
