"""Convolution, transposed convolution, pooling and padding against PyTorch (forward
and gradient, float64, hypothesis shapes), by gradcheck and gradgradcheck, their
forward-mode rules, errors, and the modules against PyTorch's given the same weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import nn, optim
from tinygrad_memo.engine import topological_order
from tinygrad_memo.function import Context
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.nn import functional as F
from tinygrad_memo.ops import AvgPool2d, Conv2d, Conv2dWeight, ConvTranspose2d, MaxPool2d, Pad

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = dict(rtol=1e-9, atol=1e-10)
SMALL = settings(max_examples=8)  # the gradcheck-based properties: a full Jacobian each


def _arg(draw, a: int, b: int):
    """A pair, or (when both are equal and hypothesis likes it) the int."""
    return a if a == b and draw(st.booleans()) else (a, b)


@st.composite
def conv_cases(draw, transposed=False):
    """(x, weight, bias or None, kwargs) for conv2d (or conv_transpose2d), float64."""
    n = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(2)]
    s = [draw(st.integers(1, 3)) for _ in range(2)]
    d = [draw(st.integers(1, 2)) for _ in range(2)]
    p = [draw(st.integers(0, 2)) for _ in range(2)]
    kw = dict(stride=_arg(draw, *s), padding=_arg(draw, *p), dilation=_arg(draw, *d), groups=groups)
    if transposed:
        size = [draw(st.integers(1, 6)) for _ in range(2)]
        op = [draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d)]
        assume(all((m - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1 >= 1
                   for m, ss, pp, dd, kk, o in zip(size, s, p, d, k, op)))
        kw["output_padding"] = _arg(draw, *op)
        w_shape, n_out = (cin, cout // groups, *k), cout
    else:
        size = [draw(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), 9)) for kk, dd, pp in zip(k, d, p)]
        w_shape, n_out = (cout, cin // groups, *k), cout
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(n, cin, *size))
    w = rng.normal(size=w_shape)
    b = rng.normal(size=n_out) if draw(st.booleans()) else None
    return x, w, b, kw


@st.composite
def pool_cases(draw):
    k = [draw(st.integers(1, 4)) for _ in range(2)]
    s = [draw(st.integers(1, 3)) for _ in range(2)]
    p = [draw(st.integers(0, kk // 2)) for kk in k]
    size = [draw(st.integers(max(1, kk - 2 * pp), 9)) for kk, pp in zip(k, p)]
    kw = dict(kernel_size=_arg(draw, *k), stride=_arg(draw, *s), padding=_arg(draw, *p))
    if draw(st.booleans()):
        kw["stride"] = None  # the default: the kernel size
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(draw(st.integers(1, 3)), draw(st.integers(1, 3)), *size))
    return x, kw


@st.composite
def pad_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    k = draw(st.integers(1, len(shape)))
    pad = []
    for size in shape[::-1][:k]:
        lo = draw(st.integers(-(size - 1), 3))
        pad += [lo, draw(st.integers(-(size + min(lo, 0) - 1), 3))]  # crops leave at least one
    value = draw(st.sampled_from([0.0, 1.5, -2.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=shape), tuple(pad), value


def _compare(ours, theirs, arrays, rng, dtype=np.float64, tol=TOL):
    """Forward values and gradients (for a random upstream gradient) of ours and torch's."""
    ts = [tm.Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = ours(*ts)
    tts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = theirs(*tts)
    assert out.shape == tuple(tout.shape)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **tol)
    g = rng.normal(size=out.shape)
    out.backward(g.astype(dtype))
    tout.backward(torch.tensor(g))
    for i, (t, tt) in enumerate(zip(ts, tts)):
        assert t.grad.shape == t.shape and t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad, tt.grad.numpy(), **tol, err_msg=f"gradient of input {i}")


def _with_bias(f, b):
    """f(x, w, b) as a function of the tensors it takes (no bias argument when b is None)."""
    return (lambda x, w: f(x, w, None)) if b is None else f


# -- against PyTorch -------------------------------------------------------------------------------
CONVS = ["conv2d", "conv_transpose2d"]


def _conv_fns(name, kw, b):
    """Ours and torch's ``name`` with the arguments kw, as functions of the tensors."""
    return (_with_bias(lambda x, w, b: getattr(F, name)(x, w, b, **kw), b),
            _with_bias(lambda x, w, b: getattr(TF, name)(x, w, b, **kw), b))


@pytest.mark.parametrize("name", CONVS)
@given(data=st.data())
def test_convolutions_match_torch(name, data):
    x, w, b, kw = data.draw(conv_cases(transposed=name != "conv2d"))
    _compare(*_conv_fns(name, kw, b), [x, w] if b is None else [x, w, b],
             np.random.default_rng(data.draw(st.integers(0, 99))))


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@given(case=pool_cases(), seed=st.integers(0, 99))
def test_pools_match_torch(pool, case, seed):
    x, kw = case
    _compare(lambda x: getattr(F, pool)(x, **kw), lambda x: getattr(TF, pool)(x, **kw), [x],
             np.random.default_rng(seed))


@given(case=pad_cases(), seed=st.integers(0, 99))
def test_pad_matches_torch(case, seed):
    x, pad, value = case
    _compare(lambda x: F.pad(x, pad, value), lambda x: TF.pad(x, pad, value=value), [x],
             np.random.default_rng(seed))


@pytest.mark.parametrize("name", CONVS)
@pytest.mark.parametrize("stride,dilation,padding,groups", [
    (1, 1, 1, 1), (1, (1, 2), (2, 1), 1), (1, 2, 0, 2), ((1, 2), (2, 1), 1, 1), (2, 1, 1, 2),
])
def test_convolution_paths(name, stride, dilation, padding, groups):
    """The kernels' special paths (stride 1: widened rows; windows that tile the input),
    each always run, whatever hypothesis draws."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 4, 7, 6))
    w = rng.normal(size=(6, 4 // groups, 3, 2) if name == "conv2d" else (4, 6 // groups, 3, 2))
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _compare(*_conv_fns(name, kw, None), [x, w], rng)


@pytest.mark.parametrize("name", CONVS)
@pytest.mark.parametrize("chunk_bytes", [1, 3000])
def test_batches_in_chunks(name, chunk_bytes, monkeypatch):
    """A batch whose columns exceed CHUNK_BYTES is done in chunks (here one or a few
    images at a time): the same results, forward and all gradients."""
    from tinygrad_memo.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(12)
    x = rng.normal(size=(5, 4, 7, 6))
    w = rng.normal(size=(6, 2, 3, 2) if name == "conv2d" else (4, 3, 3, 2))
    for stride in (1, 2):
        kw = dict(stride=stride, padding=1, groups=2)
        _compare(*_conv_fns(name, kw, None), [x, w], rng)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape,kernel,stride", [((2, 3, 8, 6), 2, None), ((2, 3, 9, 6), 2, None),
                                                 ((2, 3, 8, 6), (2, 3), (2, 3)), ((2, 3, 8, 6), 2, 1)])
def test_pool_paths(pool, shape, kernel, stride):
    rng = np.random.default_rng(11)
    _compare(lambda x: getattr(F, pool)(x, kernel, stride), lambda x: getattr(TF, pool)(x, kernel, stride),
             [rng.normal(size=shape)], rng)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("kernel,dilation", [((2, 4), 1), ((3, 2), (2, 1)), (1, 1)])
def test_conv2d_padding_same_and_valid(kernel, dilation):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, *np.broadcast_to(kernel, 2)))
    for padding in ("same", "valid"):
        _compare(lambda x, w, p=padding: F.conv2d(x, w, padding=p, dilation=dilation),
                 lambda x, w, p=padding: TF.conv2d(x, w, padding=p, dilation=dilation), [x, w], rng)


@given(case=conv_cases(), seed=st.integers(0, 99))
@settings(max_examples=10)
def test_conv2d_float32_matches_torch(case, seed):
    x, w, b, kw = case
    arrays = [a.astype(np.float32) for a in ([x, w] if b is None else [x, w, b])]
    _compare(*_conv_fns("conv2d", kw, b), arrays, np.random.default_rng(seed), np.float32,
             dict(rtol=1e-4, atol=1e-4))


def test_unbatched_inputs_match_torch():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(3, 6, 5)), rng.normal(size=(2, 3, 3, 3))
    _compare(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), [x, w], rng)
    _compare(lambda x, w: F.conv_transpose2d(x, w, stride=2),
             lambda x, w: TF.conv_transpose2d(x, w, stride=2),
             [rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 3, 2, 2))], rng)
    _compare(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x], rng)
    _compare(lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1), [x], rng)


# -- ties, -inf padding, integer inputs ----------------------------------------------------------------
def test_max_pool_ties_share_the_gradient_as_max_does():
    """Against the library's own max (ties share equally) over the same windows."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(2, 3, 6, 4)).astype(np.float64)  # many ties
    g = rng.normal(size=(2, 3, 3, 2))
    a = tm.Tensor(x, requires_grad=True)
    F.max_pool2d(a, 2).backward(g)
    b = tm.Tensor(x, requires_grad=True)
    windows = b.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows.max(axis=(4, 5)).backward(g)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12)
    assert (a.grad != 0).sum() > g.size  # there were ties, and they shared


def test_max_pool_pads_with_minus_infinity():
    x = -10.0 - np.arange(16.0).reshape(1, 1, 4, 4)
    out = F.max_pool2d(tm.Tensor(x), 3, 1, 1).numpy()
    expected = TF.max_pool2d(torch.tensor(x), 3, 1, 1).numpy()
    np.testing.assert_array_equal(out, expected)
    assert out.max() < -10 + 1e-12  # no padded zero won


def test_max_pool_integer_input():
    x = np.arange(-16, 0).reshape(1, 1, 4, 4)
    out = F.max_pool2d(tm.Tensor(x), 3, 1, 1)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.tensor(x), 3, 1, 1).numpy())


def test_max_pool_nan_window_sends_the_gradient_to_the_nan():
    x = np.ones((1, 1, 2, 2))
    x[0, 0, 1, 0] = np.nan
    t = tm.Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, 2)
    assert np.isnan(out.item())
    out.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(t.grad, [[[[0.0, 0.0], [1.0, 0.0]]]])


# -- gradcheck and gradgradcheck ---------------------------------------------------------------------
def _leaves(arrays):
    return [tm.Tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name", CONVS)
@given(data=st.data())
@SMALL
def test_convolutions_gradcheck_gradgradcheck(name, data):
    x, w, b, kw = data.draw(conv_cases(transposed=name != "conv2d"))
    f = _conv_fns(name, kw, b)[0]
    leaves = _leaves([x, w] if b is None else [x, w, b])
    assert gradcheck(f, leaves)
    assert gradgradcheck(f, leaves, fast_mode=True)


@given(case=conv_cases())
@SMALL
def test_conv2d_weight_gradcheck_gradgradcheck(case):
    x, w, _, kw = case
    y = np.random.default_rng(0).normal(size=F.conv2d(x, w, **kw).shape)
    f = lambda x, y: Conv2dWeight.apply(x, y, w.shape[2:], **kw)
    np.testing.assert_allclose(  # it is the weight gradient of conv2d
        f(tm.Tensor(x), tm.Tensor(y)).data,
        torch.nn.grad.conv2d_weight(torch.tensor(x), w.shape, torch.tensor(y), **kw).numpy(), **TOL)
    assert gradcheck(f, _leaves([x, y]))
    assert gradgradcheck(f, _leaves([x, y]), fast_mode=True)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@given(case=pool_cases())
@SMALL
def test_pools_gradcheck_gradgradcheck(pool, case):
    x, kw = case
    f = lambda x: getattr(F, pool)(x, **kw)
    assert gradcheck(f, _leaves([x]))
    assert gradgradcheck(f, _leaves([x]))


@given(case=pad_cases())
@SMALL
def test_pad_gradcheck_gradgradcheck(case):
    x, pad, value = case
    f = lambda x: F.pad(x, pad, value)
    assert gradcheck(f, _leaves([x]))
    assert gradgradcheck(f, _leaves([x]))


def test_gradgradcheck_full_mode_on_a_strided_grouped_conv():
    rng = np.random.default_rng(3)
    leaves = _leaves([rng.normal(size=(2, 4, 5, 6)), rng.normal(size=(4, 2, 3, 2)), rng.normal(size=4)])
    f = lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    assert gradgradcheck(f, leaves)


def test_gradient_penalty_through_a_conv_net_matches_torch():
    """d/dw of ||d loss / d x||^2 through conv, tanh, max pool, pad, strided conv, avg pool, linear."""
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=(3, 2, 8, 8)), rng.normal(size=(4, 2, 3, 3)) * 0.5,
              rng.normal(size=(6, 4, 3, 3)) * 0.3, rng.normal(size=(3, 6)), rng.normal(size=(3, 3))]

    def penalty(f, grad, x, w1, w2, lin, y):
        h = f.max_pool2d(f.conv2d(x, w1, padding=1).tanh(), 2)
        h = f.avg_pool2d(f.conv2d(f.pad(h, (1, 0, 0, 1)), w2, stride=2), 2)
        loss = ((h.reshape(3, 6) @ lin.T - y) ** 2).sum()
        (gx,) = grad(loss, [x], create_graph=True)
        return (gx * gx).sum()

    ours = _leaves(arrays)
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    p = penalty(F, tm.grad, *ours)
    pt = penalty(TF, torch.autograd.grad, *theirs)
    np.testing.assert_allclose(p.item(), pt.item(), rtol=1e-10)
    for g, tg in zip(tm.grad(p, ours), torch.autograd.grad(pt, theirs)):
        np.testing.assert_allclose(g, tg.numpy(), rtol=1e-8, atol=1e-10)


# -- forward mode: jvp rules on arrays and on graph nodes ---------------------------------------------
def _jvp(op, arrays, tangents, **kw):
    """op.jvp on a context made by op.forward on the arrays."""
    ctx = Context(op)
    ctx.needs_input_grad = (True,) * len(arrays)
    op.forward(ctx, *arrays, **kw)
    return op.jvp(ctx, *tangents)


def _directional(f, arrays, tangents, eps=1e-6):
    plus = f(*[a + eps * t if t is not None else a for a, t in zip(arrays, tangents)])
    minus = f(*[a - eps * t if t is not None else a for a, t in zip(arrays, tangents)])
    return (plus - minus) / (2 * eps)


JVP_CASES = [
    (Conv2d, [(2, 4, 6, 5), (6, 2, 3, 2), (6,)], dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    (ConvTranspose2d, [(2, 4, 3, 4), (4, 3, 2, 3), (6,)],
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    (Conv2dWeight, [(2, 3, 6, 5), (2, 4, 3, 3)], dict(kernel_size=(3, 2), stride=2, padding=1)),
    (MaxPool2d, [(2, 3, 7, 6)], dict(kernel_size=3, stride=2, padding=1)),
    (AvgPool2d, [(2, 3, 7, 6)], dict(kernel_size=(2, 3), stride=1, padding=1)),
    (Pad, [(2, 3, 4)], dict(pad=(1, -1, 2, 0), value=3.0)),
]


@pytest.mark.parametrize("op,shapes,kw", JVP_CASES, ids=[c[0].name for c in JVP_CASES])
@pytest.mark.parametrize("which", ["all", "first", "last"])
def test_jvp_rules(op, shapes, kw, which):
    rng = np.random.default_rng(5)
    arrays = [rng.normal(size=s) for s in shapes]
    tangents = [rng.normal(size=s) for s in shapes]
    if which == "first":
        tangents = tangents[:1] + [None] * (len(shapes) - 1)
    elif which == "last" and len(shapes) > 1:
        tangents = [None] * (len(shapes) - 1) + tangents[-1:]

    def f(*xs):
        with tm.no_grad():
            return op.apply(*[tm.Tensor(a) for a in xs], **kw).data

    expected = _directional(f, arrays, tangents)
    got = _jvp(op, arrays, tangents, **kw)
    assert isinstance(got, np.ndarray) and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    # on graph nodes (forward over reverse): the same values, recorded as a graph
    nodes = [None if t is None else tm.Tensor(t, requires_grad=True) for t in tangents]
    got_nodes = _jvp(op, arrays, nodes, **kw)
    assert isinstance(got_nodes, tm.Tensor) and got_nodes.requires_grad
    np.testing.assert_allclose(got_nodes.data, got, rtol=1e-12, atol=1e-12)
    # its gradient with respect to tangent i is J_i^T cot, so <grad_i, t_i> = <J_i t_i, cot>
    cot = rng.normal(size=got.shape)
    wanted = [i for i, n in enumerate(nodes) if n is not None]
    grads = tm.grad((got_nodes * cot).sum(), [nodes[i] for i in wanted])
    for i, g in zip(wanted, grads):
        alone = [None] * len(tangents)
        alone[i] = tangents[i]
        np.testing.assert_allclose((g * tangents[i]).sum(), (_jvp(op, arrays, alone, **kw) * cot).sum(),
                                   rtol=1e-9)


def test_jvp_with_no_tangent_is_none():
    assert _jvp(Conv2d, [np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))], [None, None]) is None
    assert _jvp(MaxPool2d, [np.ones((1, 1, 4, 4))], [None], kernel_size=2) is None


# -- the record, dtypes, and what is computed -----------------------------------------------------------
def test_grad_fn_records_the_call():
    x = tm.Tensor(np.ones((1, 2, 5, 5)), requires_grad=True)
    w = tm.Tensor(np.ones((3, 2, 3, 3)))
    y = F.conv2d(x, w, stride=2, padding=1)
    assert y.grad_fn.name == "conv2d"
    assert y.grad_fn.args == {"bias": None, "stride": 2, "padding": 1, "dilation": 1, "groups": 1}
    assert y.grad_fn.inputs == (x, w)
    assert F.max_pool2d(y, 2).grad_fn.name == "max_pool2d"
    assert F.avg_pool2d(y, 2).grad_fn.name == "avg_pool2d"
    assert F.pad(y, (1, 1)).grad_fn.args == {"pad": (1, 1), "value": 0.0}
    assert F.conv_transpose2d(y, w).grad_fn.name == "conv_transpose2d"


def _ops_of(t) -> set:
    return {n.grad_fn.name for n in topological_order(t) if n.grad_fn is not None}


def test_double_backward_records_conv_and_pool_ops():
    """Under create_graph the gradients are made of convolution and window ops, and their
    own gradients match PyTorch's."""
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=(1, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3))
    a, b = _leaves([x, w])
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (x, w))
    gx, gw = tm.grad((F.conv2d(a, b) ** 2).sum(), [a, b], create_graph=True)
    assert "conv_transpose2d" in _ops_of(gx) and "conv2d_weight" in _ops_of(gw)
    tgx, tgw = torch.autograd.grad((TF.conv2d(ta, tb) ** 2).sum(), [ta, tb], create_graph=True)
    for ours, theirs in zip(tm.grad((gx * gx).sum() + (gw ** 3).sum(), [a, b]),
                            torch.autograd.grad((tgx * tgx).sum() + (tgw ** 3).sum(), [ta, tb])):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9)
    for pool in ("max_pool2d", "avg_pool2d"):
        (gp,) = tm.grad((getattr(F, pool)(a, 2) ** 3).sum(), [a], create_graph=True)
        assert "window_scatter" in _ops_of(gp)
        (tgp,) = torch.autograd.grad((getattr(TF, pool)(ta, 2) ** 3).sum(), [ta], create_graph=True)
        np.testing.assert_allclose(tm.grad((gp * gp).sum(), [a])[0],
                                   torch.autograd.grad((tgp * tgp).sum(), [ta])[0].numpy(), rtol=1e-9)


def test_float32_stays_float32_and_only_needed_grads_are_made():
    rng = np.random.default_rng(9)
    x, w = rng.normal(size=(2, 1, 6, 6)).astype(np.float32), rng.normal(size=(4, 1, 3, 3)).astype(np.float32)
    a, b = tm.Tensor(x), tm.Tensor(w, requires_grad=True)
    y = F.avg_pool2d(F.max_pool2d(F.conv2d(F.pad(a, (1, 1, 1, 1)), b), 2), 1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad is None and b.grad.dtype == np.float32
    tb = torch.tensor(w, requires_grad=True)
    TF.avg_pool2d(TF.max_pool2d(TF.conv2d(TF.pad(torch.tensor(x), (1, 1, 1, 1)), tb), 2), 1).sum().backward()
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-5, atol=1e-5)


# -- errors name the op and the shapes ------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 3, 3, 3))),
     r"conv2d: given groups=1 and weight of shape \(3, 3, 3, 3\), expected an input with 3 channels, "
     r"got input of shape \(1, 2, 5, 5\)"),
    (lambda: F.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
     r"out_channels \(weight.shape\[0\]\) \(3\) must be divisible by groups \(2\)"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(4)),
     r"conv2d: bias of shape \(4,\) does not fit weight of shape \(3, 2, 3, 3\) \(expected \(3,\)\)"),
    (lambda: F.conv2d(np.ones((1, 2, 2, 5)), np.ones((3, 2, 3, 3))),
     r"conv2d: the padded input size per channel \(2 x 5\) is smaller than the \(dilated\) kernel "
     r"size \(3 x 3\)"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), stride=0),
     r"conv2d: stride must be an int or a pair of ints >= 1, got 0"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), padding=-1),
     r"conv2d: padding must be an int or a pair of ints >= 0, got -1"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), padding="same", stride=2),
     r"padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(np.ones((2, 5, 5)), np.ones((3, 2, 3))),
     r"conv2d: expected a 4-D weight \(out_channels, in_channels / groups, kH, kW\), got shape \(3, 2, 3\)"),
    (lambda: F.conv2d(np.ones((5, 5)), np.ones((3, 2, 3, 3))),
     r"conv2d: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, got shape \(5, 5\)"),
    (lambda: F.conv_transpose2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))),
     r"conv_transpose2d: weight of shape \(3, 2, 3, 3\) expects an input with 3 channels"),
    (lambda: F.conv_transpose2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding 2 must be smaller than either stride 2 or dilation 1"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2),
     r"max_pool2d: padding should be at most half of the kernel size, got padding=2 and kernel_size=2"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 2, 2)), 3),
     r"avg_pool2d: input of shape \(1, 1, 2, 2\) is too small for kernel_size 3"),
    (lambda: F.pad(np.ones((2, 3)), (1, 2, 3)), r"pad: padding length must be divisible by 2"),
    (lambda: F.pad(np.ones((2, 3)), (1, 1, 1, 1, 1, 1)),
     r"pad: padding length must be at most twice the number of dimensions .* shape \(2, 3\)"),
    (lambda: F.pad(np.ones((2, 3)), (-2, -2)),
     r"pad: cropping 2 and 2 from an axis of size 3 leaves a negative size at dimension 1"),
    (lambda: F.pad(np.ones((2, 3)), (1, 1), "reflect"), r"pad: only constant padding is offered"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), r"Conv2d: padding='same' is not supported"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- modules against PyTorch's, state dicts both ways ----------------------------------------------------
MODULES = [
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=1,
                    dilation=(1, 2), groups=2), (2, 4, 9, 8)),
    ("Conv2d", dict(in_channels=3, out_channels=5, kernel_size=3, padding="same", bias=False), (2, 3, 7, 6)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1,
                             output_padding=1, groups=2), (2, 4, 5, 4)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 6)),
    ("AvgPool2d", dict(kernel_size=2, padding=1), (2, 3, 7, 6)),
    ("Flatten", dict(), (2, 3, 4, 5)),
    ("Flatten", dict(start_dim=0, end_dim=2), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,kw,shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch_with_the_same_weights(name, kw, shape):
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**kw).double()
    ours = getattr(nn, name)(**kw, **({"dtype": np.float64} if "Conv" in name else {}))
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in sd.items()}
    ours.load_state_dict(sd)  # torch -> ours
    x = rng.normal(size=shape)
    _compare(ours, theirs, [x], rng)
    for (k, p), (tk, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert k == tk
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), **TOL)
    if not sd:
        return
    fresh = getattr(nn, name)(**kw, dtype=np.float64)  # ours -> torch
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in fresh.state_dict().items()})
    np.testing.assert_allclose(fresh(tm.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), **TOL)


@pytest.mark.parametrize("cls,kw", [
    ("Conv2d", dict(in_channels=6, out_channels=8, kernel_size=(3, 5), groups=2)),
    ("ConvTranspose2d", dict(in_channels=6, out_channels=8, kernel_size=3, groups=2)),
])
def test_module_default_init_is_pytorch_s(cls, kw):
    """weight and bias uniform in +-1/sqrt(fan_in), fan_in = weight.shape[1] * kH * kW, as in
    PyTorch (kaiming_uniform_ with a = sqrt(5))."""
    tm.manual_seed(0)
    ours = [getattr(nn, cls)(**kw) for _ in range(20)]
    theirs = getattr(torch.nn, cls)(**kw)
    w = np.stack([m.weight.data for m in ours])
    b = np.stack([m.bias.data for m in ours])
    assert ours[0].weight.shape == tuple(theirs.weight.shape) and ours[0].weight.dtype == np.float32
    fan_in = theirs.weight.shape[1] * theirs.weight.shape[2] * theirs.weight.shape[3]
    bound = 1 / math.sqrt(fan_in)
    for arr in (w, b):
        assert np.abs(arr).max() <= bound and np.abs(arr).max() > 0.95 * bound
        assert abs(arr.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform's std
    assert np.abs(theirs.weight.detach().numpy()).max() <= bound


def test_module_reprs_read_like_pytorch():
    assert repr(nn.Conv2d(1, 8, 3, padding=1)) == (
        "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))")
    assert repr(nn.Conv2d(2, 4, (3, 1), stride=2, groups=2, bias=False)) == (
        "Conv2d(2, 4, kernel_size=(3, 1), stride=(2, 2), groups=2, bias=False)")
    assert repr(nn.ConvTranspose2d(8, 3, 2, stride=2, output_padding=1)) == (
        "ConvTranspose2d(8, 3, kernel_size=(2, 2), stride=(2, 2), output_padding=(1, 1))")
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"


def test_a_small_cnn_trains_like_torch():
    """Three SGD steps of the same CNN in both libraries: the same losses and weights."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(8, 1, 8, 8)), rng.integers(0, 10, 8)

    def layers(lib, dtype):
        return lib.Sequential(lib.Conv2d(1, 4, 3, padding=1, dtype=dtype), lib.ReLU(), lib.MaxPool2d(2),
                              lib.Conv2d(4, 8, 3, padding=1, dtype=dtype), lib.ReLU(), lib.AvgPool2d(2),
                              lib.Flatten(), lib.Linear(32, 10, dtype=dtype))

    torch.manual_seed(0)
    theirs = layers(torch.nn, torch.float64)
    ours = layers(nn, np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    opt, topt = optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(3):
        loss = F.cross_entropy(ours(tm.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-9, atol=1e-12)
