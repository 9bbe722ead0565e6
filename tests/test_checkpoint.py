"""tm.checkpoint / tm.checkpoint_sequential: the same gradients as without (exactly: the
same numpy calls), in both engines, with dropout, tm.grad, retain_graph and
create_graph; less memory; a clear error when a recomputation differs."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_memo as tm
from tinygrad_memo import engine, nn
from tinygrad_memo.nn import functional as F
from tinygrad_memo.testing import strategies as st

ckpt = sys.modules["tinygrad_memo.checkpointing"]


def _exact(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True), (a, b)


def _clean():
    gc.collect()
    return not ckpt._TABLE and ckpt._tap not in engine.TAPS


# -- hypothesis: checkpointed == plain, exactly, in both engines --------------------------------------
def _value_run(expr, use_ckpt, mode, seed):
    tm.manual_seed(seed)
    xs = expr.value_inputs()

    def f(*vs):  # random numbers inside: the recomputation must draw the same
        out = expr.build_value(list(vs))
        return out * (1.0 + tm.random.rng().random())

    # a node before the checkpoint, so its input is interior: the same value (x * 1.0 is
    # exact), since the recipe keeps its ops in their domains at the drawn inputs only
    a = xs[0] * 1.0
    y = tm.checkpoint(f, a, *xs[1:]) if use_ckpt else f(a, *xs[1:])
    root = y * y + y.tanh()
    if mode == "backward":
        root.backward()
        got = [x.grad for x in xs]
    elif mode == "grad":
        got = tm.grad(root, xs)
    else:  # create_graph: the second derivative of one input, through the first
        gs = tm.grad(root, xs, create_graph=True)
        total = gs[0]
        for g in gs[1:]:
            total = total + g * 0.5
        got = [g.data for g in gs] + tm.grad(total, xs)
    return got + [tm.random.rng().random()]


@given(st.value_expressions(), hst.sampled_from(["backward", "grad", "create_graph"]),
       hst.integers(0, 2 ** 16))
def test_value_graphs_checkpointed_equal_plain_exactly(expr, mode, seed):
    plain = _value_run(expr, False, mode, seed)
    checked = _value_run(expr, True, mode, seed)
    # floats: exactly (NaN where plain has NaN), and the generator ends in the same state
    np.testing.assert_array_equal(plain, checked)
    assert _clean()


def _tensor_run(expr, use_ckpt, mode, seed):
    tm.manual_seed(seed)
    xs = expr.tensor_inputs()

    def f(*ts):  # dropout inside: the recomputation must draw the same mask
        return F.dropout(expr.build_tensor(list(ts)), 0.3) * 2.0

    a = xs[0] * 1.0  # (as above)
    y = tm.checkpoint(f, a, *xs[1:]) if use_ckpt else f(a, *xs[1:])
    w = np.random.default_rng(seed).standard_normal(y.shape)
    root = (y * w).sum() + (y * y).sum()
    if mode == "backward":
        root.backward(retain_graph=True)
        root.backward()  # a second pass: the checkpoint recomputes again
        got = [x.grad for x in xs]
    elif mode == "grad":
        got = tm.grad(root, xs)
    else:
        gs = tm.grad(root, xs, create_graph=True)
        total = sum((g * (k + 1.0)).sum() for k, g in enumerate(gs))
        got = [g.data for g in gs] + tm.grad(total, xs)
    return got, tm.random.rng().random()


@given(st.tensor_expressions(), hst.sampled_from(["backward", "grad", "create_graph"]),
       hst.integers(0, 2 ** 16))
def test_tensor_graphs_checkpointed_equal_plain_exactly(expr, mode, seed):
    plain, r1 = _tensor_run(expr, False, mode, seed)
    checked, r2 = _tensor_run(expr, True, mode, seed)
    assert len(plain) == len(checked)
    for a, b in zip(plain, checked):
        _exact(a, b)
    assert r1 == r2
    assert _clean()


# -- sequential, memory, lifetime --------------------------------------------------------------------
def _stack(n=6, width=5):
    tm.manual_seed(3)
    return [nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Dropout(0.2)) for _ in range(n)]


def _sequential_grads(layers, segments, seed=0):
    for layer in layers:
        layer.zero_grad()
    tm.manual_seed(seed)
    x = tm.Tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5), requires_grad=True)
    if segments is None:
        h = x
        for layer in layers:
            h = layer(h)
    else:
        h = tm.checkpoint_sequential(layers, segments, x)
    (h * h.tanh()).sum().backward()
    return [p.grad for layer in layers for p in layer.parameters()] + [x.grad]


@pytest.mark.parametrize("segments", [1, 2, 3, 4, 6])
def test_checkpoint_sequential_equals_plain(segments):
    layers = _stack()
    plain = _sequential_grads(layers, None)
    checked = _sequential_grads(layers, segments)
    for a, b in zip(plain, checked):
        _exact(a, b)
    net = nn.Sequential(*layers)
    for a, b in zip(plain, _sequential_grads(list(net), segments)):
        _exact(a, b)
    assert _clean()


def test_checkpoint_sequential_arguments():
    layers = _stack(3)
    x = tm.Tensor(np.ones((2, 5), np.float32))
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="segments must be an int between 1 and the number"):
            tm.checkpoint_sequential(layers, bad, x)


def test_inner_nodes_are_freed_and_recomputed_only_while_needed():
    layers = [nn.Linear(8, 8) for _ in range(4)]
    x = tm.Tensor(np.ones((3, 8), np.float32), requires_grad=True)
    inner = []

    def f(h):
        for layer in layers:
            h = layer(h).tanh()
            inner.append(weakref.ref(h))
        return h

    y = tm.checkpoint(f, x)
    assert all(r() is None for r in inner[:-1])  # the inner nodes are gone...
    assert inner[-1]() is y
    report = tm.saved_tensors_report(y)
    assert report.total_bytes == 0 and report.released == report.nodes == 8  # ...and saved nothing
    stand_ins = [n for n in engine.topological_order(y) if n._inputs and n is not y]
    assert all(n.data.strides == (0, 0) for n in stand_ins)  # placeholders: no memory
    y.sum().backward(retain_graph=True)
    assert all(n.data.strides == (0, 0) for n in stand_ins)  # dropped again after the pass
    g1 = x.grad.copy()
    y.sum().backward()
    _exact(x.grad, 2 * g1)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.sum().backward()
    del y, stand_ins
    assert _clean()


def test_values_returned_or_kept_inside_stay_valid():
    lin = nn.Linear(3, 3)
    x = tm.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    kept = []
    seen = []

    def f(t):
        h = lin(t)
        h.retain_grad()
        kept.append(h)  # held outside: it must keep its data and its gradient
        g = h.tanh()
        g.register_hook(lambda grad: seen.append(np.array(grad)))
        return g.exp(), h

    out, h_out = tm.checkpoint(f, x)
    assert h_out is kept[0]
    _exact(kept[0].data, lin(x).data)
    loss = out.sum() + (h_out * 2).sum()
    loss.backward()
    h2 = lin(x)
    h2.retain_grad()
    g2 = h2.tanh()
    seen2 = []
    g2.register_hook(lambda grad: seen2.append(np.array(grad)))
    x.grad, grad1 = None, x.grad
    (g2.exp().sum() + (h2 * 2).sum()).backward()
    _exact(grad1, x.grad)
    _exact(kept[0].grad, h2.grad)
    assert len(seen) == 1
    _exact(seen[0], seen2[0])


def test_hook_inside_fires_once_per_pass():
    x = tm.Value(0.7)
    calls = []

    def f(v):
        h = v * v
        h.register_hook(lambda g: calls.append(g))
        return h.sin()

    y = tm.checkpoint(f, x)
    y.backward(retain_graph=True)
    y.backward()
    assert len(calls) == 2 and calls[0] == calls[1] == pytest.approx(np.cos(0.49))


def test_a_function_that_behaves_differently_when_recomputed_raises():
    x = tm.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    calls = [0]

    def shape_changes(t):
        calls[0] += 1
        return t.sum(axis=calls[0] % 2)

    y = tm.checkpoint(shape_changes, x.exp())
    with pytest.raises(RuntimeError, match="checkpoint: recomputing shape_changes .*gave 'sum' "
                                           "of shape \\(3,\\).*forward gave 'sum' of shape \\(2,\\)"):
        y.sum().backward()

    dtype = [np.float32]
    y = tm.checkpoint(lambda t: t * tm.Tensor(np.ones(3, dtype[0])), x.exp())
    dtype[0] = np.float64
    with pytest.raises(RuntimeError, match="gave 'mul' of shape \\(2, 3\\), dtype float64 at node "
                                           "0, the forward gave 'mul' of shape \\(2, 3\\), dtype "
                                           "float32"):
        y.sum().backward()

    y = tm.checkpoint(lambda t: F.dropout(t, 0.5), x.exp(), preserve_rng_state=False)
    with pytest.raises(RuntimeError, match="other values for output 0.*preserve_rng_state"):
        y.sum().backward()


def test_an_input_changed_in_place_between_forward_and_backward_raises():
    x = tm.Tensor(np.ones(3, np.float32), requires_grad=True)
    h = x * 1.0
    c = tm.Tensor(np.ones(3, np.float32))
    y = tm.checkpoint(lambda a, b: (a * b).tanh(), h, c)
    with tm.no_grad():
        c += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_multiple_outputs_and_no_grad_and_nesting():
    x = tm.Tensor(np.array([0.5, -1.0]), requires_grad=True)

    def f(t):
        inner = tm.checkpoint(lambda u: u.exp(), t)  # nested: part of this one
        return inner * 2, "label", inner.sin()

    a, label, b = tm.checkpoint(f, x)
    assert label == "label"
    (a.sum() + (b * b).sum()).backward()
    want = 2 * np.exp(x.data) + 2 * np.sin(np.exp(x.data)) * np.cos(np.exp(x.data)) * np.exp(x.data)
    np.testing.assert_allclose(x.grad, want, rtol=1e-12)
    with tm.no_grad():
        y = tm.checkpoint(f, x)[0]
    assert not y.requires_grad
    assert _clean()


def test_hessian_vector_product_through_a_checkpoint():
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -0.2, 0.9])
    v = np.array([1.0, 0.5, -2.0])
    x = tm.Tensor(x0, requires_grad=True)
    y = tm.checkpoint(lambda t: (t * t.sin()).exp(), x)
    (g,) = tm.grad(y.sum(), x, create_graph=True)
    (hv,) = tm.grad((g * v).sum(), x)
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad((xt * xt.sin()).exp().sum(), xt, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hv, hvt.numpy(), rtol=1e-12)


def test_anomaly_in_a_checkpointed_backward_names_the_forward_site():
    x = tm.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with pytest.raises(tm.anomaly.AnomalyError) as info, tm.detect_anomaly():
        y = tm.checkpoint(lambda t: t.sqrt() * 1.0, x)  # the sqrt node becomes a stand-in
        (y * 0.0).sum().backward()
    assert info.value.op == "sqrt" and info.value.phase == "backward"
    assert info.value.site is not None and info.value.site[0] == __file__


def test_a_pass_that_carries_no_gradient_does_not_recompute():
    calls = []

    def f(t):
        calls.append(1)
        return (t * 2).tanh()

    x = tm.Tensor(np.ones(3), requires_grad=True)
    y = tm.checkpoint(f, x)
    z = y.sum()
    assert engine.count_paths(engine.topological_order(z)) == 1
    assert len(calls) == 1
    z.backward()
    assert len(calls) == 2
