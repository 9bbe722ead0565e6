"""Every registry op has a forward-mode rule ``jvp(ctx, *tangents)`` beside its
derivative, and it is right: driven by the registry itself, so that a new op
without a rule (or without a call below) fails here, naming it.

For each op, on hypothesis-drawn float64 inputs and tangents (each input's
tangent present or None):

* on arrays, the rule equals the central finite difference of the op's forward
  along the tangents;
* the adjoint identity with the op's own derivative: sum(backward(u) * v) ==
  sum(u * jvp(v)) to 1e-10 relative;
* on graph nodes (forward over reverse): with Tensor tangents the rule gives the
  same numbers as a differentiable graph, whose reverse is the op's backward;
  with the saved primals as graph nodes too (as ``create_graph`` gives them), the
  derivative of ``<u, jvp(v)>`` with respect to the primals is its finite difference.

The elementwise ops are drawn from what they declare (``domain``, ``kinks``,
``example_args``), also on floats and Values (the scalar engine); the others have a
call in :data:`CALLS` (mostly the draws of the OPS table of test_tensor_helpers).
A set of them is checked against ``torch.func.jvp`` as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tensor_helpers import OPS, rng_of

import tinygrad_memo as tm
from tinygrad_memo.function import REGISTRY, Context
from tinygrad_memo.ops import ELEMENTWISE
from tinygrad_memo.ops.shape import sum_to
from tinygrad_memo.testing import strategies as tms
from tinygrad_memo.value import _call as value_call

EPS = 1e-6
#: examples per op: a sixth of the profile's (dev 3, ci 8): over ~80 ops that is plenty
FEW = settings(max_examples=max(2, settings().max_examples // 6))


@dataclass
class Call:
    """One call of an op's ``forward``: positional ``args`` (float64 arrays and
    constants), ``kwargs``, and which positional args are differentiable inputs."""

    args: list
    kwargs: dict
    diff: tuple
    torch: object = None  # the op in PyTorch, as a function of the differentiable inputs


def _call(args, kwargs=None, diff=None, torch=None) -> Call:
    if diff is None:
        diff = tuple(i for i, a in enumerate(args)
                     if isinstance(a, np.ndarray) and a.dtype == np.float64)
    return Call(list(args), kwargs or {}, diff, torch)


# -- the elementwise ops: from what each declares --------------------------------------------------
def _off_kinks(rng, op, xs, margin=0.05):
    """``xs`` with the elements that lie within ``margin`` of a kink redrawn (for a
    kink line of a binary op, the elements of the operand it involves last)."""
    lines = [(1.0, 0.0, k) for k in op.kinks] if op.arity == 1 else list(op.kinks)
    doms = op.input_domains()
    for _ in range(200):
        clear = True
        for p, q, k in lines:
            b = xs[1] if op.arity == 2 else 0.0
            bad = np.abs(p * xs[0] + q * b - k) / max(abs(p), abs(q)) < margin
            if bad.any():
                clear = False
                side = 1 if q else 0
                x = xs[side]
                redo = sum_to(bad.astype(float), x.shape) > 0
                xs[side] = np.where(redo, rng.uniform(*_inside(doms[side]), x.shape), x)
        if clear:
            return xs
    raise AssertionError(f"{op.name}: no inputs clear of its kinks {op.kinks}")


def _inside(domain):
    lo, hi = domain
    return lo + 0.02 * (hi - lo), hi - 0.02 * (hi - lo)


SHAPES = tms.shapes(min_dims=0, max_dims=3, max_side=3)
PAIRS = tms.broadcastable_shapes(2, max_dims=3, max_side=3)


def _elementwise(op):
    def draw(d):
        rng = rng_of(d)
        shapes = [d(SHAPES)] if op.arity == 1 else d(PAIRS).input_shapes
        xs = [np.asarray(rng.uniform(*_inside(dom), s), dtype=np.float64)
              for dom, s in zip(op.input_domains(), shapes)]
        xs = _off_kinks(rng, op, xs)
        params = dict(zip(op.params, op.example_args)) if op.arity == 1 else {}
        return _call(xs, params, diff=tuple(range(op.arity)))
    return draw


# -- the other ops --------------------------------------------------------------------------------
_OPS = {o.name: o for o in OPS}


def _from_ops(name, adapt=None):
    """A call drawn by the OPS table's entry ``name`` (its arrays are the op's first
    positional inputs, its kwargs the op's); ``adapt(arrays, kw) -> (args, kwargs)``."""
    entry = _OPS[name]

    def draw(d):
        arrays, kw = entry.draw(d)
        args, kwargs = adapt(arrays, kw) if adapt else (arrays, kw)
        return _call(args, kwargs, torch=lambda *xs: entry.tfn(*xs, **kw))
    return draw


def _one_of(*names, adapt=None):
    draws = [_from_ops(n, adapt) for n in names]
    return lambda d: d(st.sampled_from(draws))(d)


def _values(d, shape, lo=-2.0, hi=2.0):
    return np.asarray(rng_of(d).uniform(lo, hi, shape), dtype=np.float64)


def _index_add(d):
    rng = rng_of(d)
    shape = d(tms.shapes(min_dims=1, max_dims=3, max_side=3))
    index = rng.integers(0, shape[0], d(st.integers(1, 5)))
    return _call([_values(d, index.shape + shape[1:])], {"index": index, "shape": shape})


def _linear(d):
    lead = d(tms.shapes(min_dims=0, max_dims=2, max_side=3))
    n_in, n_out = d(st.integers(1, 3)), d(st.integers(1, 3))
    bias = d(st.sampled_from([None, (n_out,), ()]))
    args = [_values(d, lead + (n_in,)), _values(d, (n_out, n_in))]
    args.append(None if bias is None else _values(d, bias))

    def torch(x, w, b=None):
        import torch.nn.functional as TF
        return TF.linear(x, w, b)
    return _call(args, torch=torch)


def _cross_entropy(d):
    """(C,), (N, C) and (N, C, d1, ...) logits, maybe an ignored target, maybe smoothing."""
    rng = rng_of(d)
    shape = d(st.sampled_from([(4,), (1, 3), (3, 4), (2, 3, 2), (2, 3, 1, 2)]))
    cax = 1 if len(shape) >= 2 else 0
    target = rng.integers(0, shape[cax], () if cax == 0 else shape[:1] + shape[2:])
    if target.size > 1 and d(st.booleans()):
        target.reshape(-1)[0] = -100  # ignored (PyTorch's default ignore_index)
    kw = {"reduction": d(st.sampled_from(["mean", "sum", "none"])),
          "label_smoothing": d(st.sampled_from([0.0, 0.2]))}

    def torch(x):
        import torch
        import torch.nn.functional as TF
        return TF.cross_entropy(x, torch.as_tensor(target), **kw)
    return _call([_values(d, shape) * 2, target], kw, torch=torch)


def _conv(d):
    x, w, b, kw = d(st.sampled_from([
        ((2, 4, 5, 4), (6, 2, 3, 2), (6,), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
        ((1, 2, 4, 4), (3, 2, 2, 2), None, dict(stride=1, padding=0)),
    ]))
    args = [_values(d, x), _values(d, w), None if b is None else _values(d, b)]

    def torch(*xs):
        import torch.nn.functional as TF
        return TF.conv2d(*xs, **kw)
    return _call(args, kw, torch=torch)


def _conv_transpose(d):
    x, w, b, kw = d(st.sampled_from([
        ((2, 4, 3, 2), (4, 3, 2, 3), (6,), dict(stride=2, padding=1, output_padding=1, groups=2)),
        ((1, 2, 3, 3), (2, 2, 2, 2), None, dict(stride=1)),
    ]))
    return _call([_values(d, x), _values(d, w), None if b is None else _values(d, b)], kw)


def _conv_weight(d):
    x, gy, kw = d(st.sampled_from([
        ((2, 3, 6, 5), (2, 4, 3, 3), dict(kernel_size=(3, 2), stride=2, padding=1)),
        ((1, 4, 4, 4), (1, 2, 3, 3), dict(kernel_size=2, groups=2)),
    ]))
    return _call([_values(d, x), _values(d, gy)], kw)


def _pool(kind):
    def draw(d):
        kw = d(st.sampled_from([dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=1, padding=(1, 0))]))
        x = rng_of(d).permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) * 0.1  # no ties
        return _call([x.astype(np.float64)], kw)
    return draw


def _window_sum(d):
    x = _values(d, (1, 2, 4, 5))
    kernel, stride, padding = (2, 3), (1, 2), ((1, 0), (0, 1))
    out_hw = (4, 2)
    weight = d(st.sampled_from([0.5, "taps"]))
    if weight == "taps":
        weight = _values(d, (6, 1, 2) + out_hw)
    return _call([x, weight, kernel, stride, padding], diff=(0,))


def _window_scatter(d):
    gy = _values(d, (1, 2, 4, 2))
    return _call([gy, 0.25, (2, 3), (1, 2), ((1, 0), (0, 1)), (4, 5)], diff=(0,))


def _einsum(d):
    subs, shapes = d(st.sampled_from([("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bj->bi", [(2, 3, 4), (2, 4)]),
                                      ("ii->i", [(3, 3)]), ("i,i,i->", [(3,), (3,), (3,)])]))
    return _call([_values(d, s) for s in shapes], {"subscripts": subs})


def _embedding(d):
    idx = rng_of(d).integers(0, 4, d(SHAPES))

    def torch(w):
        import torch
        import torch.nn.functional as TF
        return TF.embedding(torch.as_tensor(idx), w)
    return _call([idx, _values(d, (4, 3))], torch=torch)


#: op name -> draw(d) -> Call, for every op that is not elementwise
CALLS = {
    "avg_pool2d": _pool("avg"),
    "astype": lambda d: _call([_values(d, d(SHAPES))], {"dtype": np.float64}),
    "clone": lambda d: _call([_values(d, d(SHAPES))]),
    "concatenate": _from_ops("concatenate"),
    "conv2d": _conv,
    "conv2d_weight": _conv_weight,
    "conv_transpose2d": _conv_transpose,
    "cross_entropy": _cross_entropy,
    "cumsum": _from_ops("cumsum"),
    "diagonal": _from_ops("diagonal"),
    "dropout": lambda d: _call([_values(d, d(SHAPES))], {"p": d(st.sampled_from([0.2, 0.6]))}),
    "einsum": _einsum,
    "embedding": _embedding,
    "expand": _from_ops("expand"),
    "flip": _from_ops("flip"),
    "gather": _from_ops("gather"),
    "getitem": _one_of("getitem_basic", "getitem_intarray", "getitem_bool",
                       adapt=lambda xs, kw: (xs, {"index": kw["index"]})),
    "index_add": _index_add,
    "linear": _linear,
    "log_softmax": _from_ops("log_softmax"),
    "logsumexp": _from_ops("logsumexp"),
    "matmul": _from_ops("matmul"),
    "max": _from_ops("max"),
    "max_pool2d": _pool("max"),
    "mean": _from_ops("mean"),
    "multinomial": lambda d: _call([_values(d, d(st.sampled_from([(4,), (2, 3)])), 0.1, 1.0)],
                                   {"num_samples": 2, "replacement": d(st.booleans())}),
    "one_hot": lambda d: _call([rng_of(d).integers(0, 4, d(SHAPES))], {"num_classes": 5}),
    "min": _from_ops("min"),
    "pad": lambda d: _call([_values(d, (2, 3, 4))], {"pad": d(st.sampled_from([(1, -1, 2, 0), (0, 2)])),
                                                     "value": 1.5}),
    "prod": _from_ops("prod"),
    "repeat": _from_ops("repeat"),
    "reshape": _from_ops("reshape"),
    "roll": _from_ops("roll"),
    "softmax": _from_ops("softmax"),
    "stack": _from_ops("stack"),
    "std": _from_ops("std"),
    "sum": _from_ops("sum"),
    "tile": _from_ops("tile"),
    "trace": _from_ops("trace"),
    "transpose": _from_ops("transpose"),
    "tril": _from_ops("tril"),
    "triu": _from_ops("triu"),
    "var": _from_ops("var"),
    "where": _from_ops("where", adapt=lambda xs, kw: ([kw["cond"], *xs], {})),
    "window_scatter": _window_scatter,
    "window_sum": _window_sum,
}


def _draw_call(name):
    return CALLS[name] if name in CALLS else _elementwise(ELEMENTWISE[name])


def test_every_registry_op_has_a_rule_and_a_call():
    no_rule = sorted(n for n, op in REGISTRY.items() if getattr(op, "jvp", None) is None)
    assert not no_rule, f"these registry ops have no forward-mode rule jvp(ctx, *tangents): {no_rule}"
    no_call = sorted(n for n in REGISTRY if n not in ELEMENTWISE and n not in CALLS)
    assert not no_call, f"add a call for these ops to CALLS in tests/test_jvp_rules.py: {no_call}"


# -- running an op on arrays -----------------------------------------------------------------------
def _run(name, call, args, need):
    """forward on ``args`` (same random draws each time: dropout): (output, ctx)."""
    fn = REGISTRY[name]
    ctx = Context(fn, tuple(args), call.kwargs)
    ctx.needs_input_grad = need
    tm.manual_seed(0)
    return np.asarray(fn.forward(ctx, *args, **call.kwargs)), ctx


def _moved(args, tangents, step):
    return [a if t is None else np.asarray(a + step * t) for a, t in zip(args, tangents)]


def _fd(name, call, args, tangents, need):
    up, _ = _run(name, call, _moved(args, tangents, EPS), need)
    down, _ = _run(name, call, _moved(args, tangents, -EPS), need)
    return (up - down) / (2 * EPS)


def _close(x, y, scale, rel):
    return abs(x - y) <= rel * scale + 1e-300


def _draw_tangents(d, call, rng):
    """One tangent per positional arg: random for a drawn (non-empty) subset of the
    differentiable inputs, None elsewhere."""
    picked = [i for i in call.diff if d(st.booleans())] or list(call.diff[:1])
    tangents = [_normal(rng, np.shape(a)) if i in picked else None for i, a in enumerate(call.args)]
    return tangents, tuple(t is not None for t in tangents)


def _normal(rng, shape):
    return np.asarray(rng.normal(size=shape))  # (an array also when 0-d)


def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (tuple(grads) if isinstance(grads, list) else (grads,))


@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_rule_on_arrays_and_graph_nodes(name, data):
    if name not in ELEMENTWISE and name not in CALLS:
        pytest.skip("no call yet (see test_every_registry_op_has_a_rule_and_a_call)")
    fn = REGISTRY[name]
    call = _draw_call(name)(data.draw)
    if not call.diff:  # nothing to differentiate (integer inputs): no tangent, no rule output
        _, ctx = _run(name, call, call.args, (False,) * len(call.args))
        assert fn.jvp(ctx, *[None] * len(call.args)) is None
        return
    rng = rng_of(data.draw)
    args = call.args
    tangents, need = _draw_tangents(data.draw, call, rng)
    out, ctx = _run(name, call, args, need)
    assert fn.jvp(ctx, *[None] * len(args)) is None, f"{name}: all-None tangents must give None"
    if out.dtype.kind != "f":  # an integer result (samples, indices) has no tangent
        assert fn.jvp(ctx, *tangents) is None, f"{name}: an integer result has no tangent"
        return

    # on arrays: the directional derivative
    got = fn.jvp(ctx, *tangents)
    assert isinstance(got, np.ndarray | np.generic), f"{name}.jvp on arrays gave {type(got)}"
    got = np.asarray(got)
    assert got.shape == out.shape and got.dtype == np.float64, (name, got.shape, out.shape, got.dtype)
    np.testing.assert_allclose(got, _fd(name, call, args, tangents, need), rtol=1e-6, atol=1e-6,
                               err_msg=f"{name}: jvp != finite difference")

    # the adjoint identity with the op's backward
    u = _normal(rng, out.shape)
    grads = _as_tuple(fn.backward(ctx, u))
    pairs = [(sum_to(np.asarray(grads[i]), np.shape(args[i])), tangents[i])
             for i in range(len(args)) if need[i]]
    lhs = sum(float(np.sum(g * v)) for g, v in pairs)
    rhs = float(np.sum(u * got))
    scale = sum(float(np.sum(np.abs(g * v))) for g, v in pairs) + float(np.sum(np.abs(u * got)))
    assert _close(lhs, rhs, scale, 1e-10), f"{name}: <backward(u), v> = {lhs} != <u, jvp(v)> = {rhs}"

    # on graph nodes: Tensor tangents, saved arrays; its reverse is the backward rule
    nodes = [None if t is None else tm.Tensor(t, requires_grad=True) for t in tangents]
    _, ctx = _run(name, call, args, need)
    on_nodes = fn.jvp(ctx, *nodes)
    assert isinstance(on_nodes, tm.Tensor) and on_nodes.requires_grad, (name, type(on_nodes))
    np.testing.assert_allclose(on_nodes.data, got, rtol=1e-12, atol=1e-14)
    wanted = [i for i, n in enumerate(nodes) if n is not None]
    back = tm.grad((on_nodes * u).sum(), [nodes[i] for i in wanted])
    for (g, _), r in zip(pairs, back):
        np.testing.assert_allclose(r, g, rtol=1e-10, atol=1e-12, err_msg=f"{name}: reverse of jvp")

    # forward over reverse: the primals as graph nodes too; d<u, jvp(v)>/dx along s
    _full_nodes(name, call, tangents, need, u, rng)


def _on_nodes(name, call, tangents, need):
    """jvp with the saved primals resolved to graph nodes (as create_graph does) and
    Tensor tangents: (the result, the primal nodes)."""
    fn = REGISTRY[name]
    xs = [tm.Tensor(a, requires_grad=True) if need[i] else a for i, a in enumerate(call.args)]
    tm.manual_seed(0)
    out = fn.apply(*xs, **call.kwargs)
    ctx = out.grad_fn
    ctx.saved_tensors = tuple(out._resolve(s, ctx) for s in ctx.saved_tensors)
    nodes = [None if t is None else tm.Tensor(t) for t in tangents]
    return fn.jvp(ctx, *nodes), [x for x, n in zip(xs, need) if n]


@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_rule_keeps_float32(name, data):
    """float32 primals and tangents: the tangent has the result's dtype (no float64
    creeping in from a constant of the rule)."""
    if name not in ELEMENTWISE and name not in CALLS:
        pytest.skip("no call yet (see test_every_registry_op_has_a_rule_and_a_call)")
    call = _draw_call(name)(data.draw)
    call.args = [a.astype(np.float32) if i in call.diff else a for i, a in enumerate(call.args)]
    tangents = [np.ones(np.shape(a), np.float32) if i in call.diff else None
                for i, a in enumerate(call.args)]
    out, ctx = _run(name, call, call.args, tuple(t is not None for t in tangents))
    got = REGISTRY[name].jvp(ctx, *tangents)
    if out.dtype.kind == "f" and call.diff:
        assert np.asarray(got).dtype == out.dtype, (name, np.asarray(got).dtype, out.dtype)


def _full_nodes(name, call, tangents, need, u, rng):
    res, primals = _on_nodes(name, call, tangents, need)
    pair = (res * u).sum()
    if not pair.requires_grad:  # the rule does not depend on the primals (a linear op)
        return
    grads = tm.grad(pair, primals)
    ss = [_normal(rng, p.shape) for p in primals]
    directional = sum(float(np.sum(g * s)) for g, s in zip(grads, ss))
    it = iter(ss)
    dirs = [next(it) if n else None for n in need]
    fn = REGISTRY[name]

    def pairing(step):
        _, ctx = _run(name, call, _moved(call.args, dirs, step), need)
        return float(np.sum(u * np.asarray(fn.jvp(ctx, *tangents))))

    fd = (pairing(EPS) - pairing(-EPS)) / (2 * EPS)
    assert math.isclose(directional, fd, rel_tol=1e-5, abs_tol=1e-6), \
        f"{name}: d<u, jvp(v)>/dx on graph nodes {directional} != finite difference {fd}"


# -- the scalar engine: the same rules on floats and on Values -------------------------------------
SCALAR_OPS = sorted(n for n, op in ELEMENTWISE.items() if getattr(op, "scalar", None) is not None)


@pytest.mark.parametrize("name", SCALAR_OPS)
@FEW
@given(data=st.data())
def test_elementwise_rule_in_the_scalar_engine(name, data):
    """On floats the rule is the Value engine's local derivative times the tangent
    (and the finite difference of the float forward); on Values it is a graph."""
    op = ELEMENTWISE[name]
    call = _elementwise(op)(data.draw)
    xs = [float(np.asarray(a).reshape(-1)[0]) for a in call.args]
    params = tuple(call.kwargs.values())
    rng = rng_of(data.draw)
    ts = [float(t) for t in rng.normal(size=op.arity)]
    out = op.scalar(*xs, *params)

    def ctx_of(*saved):
        ctx = Context(op)
        ctx.saved_tensors = saved
        ctx.params = params
        return ctx

    saved = (xs[0], out) if op.arity == 1 else (xs[0], xs[1], out)
    got = op.jvp(ctx_of(*saved), *ts)
    fd = (op.scalar(*[x + EPS * t for x, t in zip(xs, ts)], *params)
          - op.scalar(*[x - EPS * t for x, t in zip(xs, ts)], *params)) / (2 * EPS)
    assert math.isclose(float(got), fd, rel_tol=1e-6, abs_tol=1e-6), (name, xs, got, fd)
    vs = [tm.Value(x) for x in xs]
    v = value_call(op, vs, call.kwargs)
    ds = [v._d0, v._d1][:op.arity]  # the local derivatives the Value engine computed
    local = sum(d * t for d, t in zip(ds, ts))
    assert math.isclose(float(got), local, rel_tol=1e-12, abs_tol=1e-15), (name, got, local)
    # on Values: the saved primals and tangents as nodes
    tv = [tm.Value(t) for t in ts]
    on_values = op.jvp(ctx_of(*(vs + [v])), *tv)
    assert isinstance(on_values, tm.Value) and math.isclose(on_values.data, local, rel_tol=1e-12,
                                                            abs_tol=1e-15)
    for g, d in zip(tm.grad(on_values, tv), ds):  # linear in the tangents: their coefficients
        assert math.isclose(float(g), d, rel_tol=1e-12, abs_tol=1e-15)


# -- against PyTorch ----------------------------------------------------------------------------
TORCH_OPS = ["add", "mul", "div", "pow", "maximum", "tanh", "exp", "log", "sigmoid", "sqrt", "sin",
             "sum", "mean", "max", "min", "softmax", "log_softmax", "logsumexp", "var", "std", "prod",
             "cumsum", "matmul", "linear", "cross_entropy", "conv2d", "where", "getitem",
             "concatenate", "stack", "expand", "transpose", "reshape", "gather", "diagonal",
             "embedding"]


@pytest.mark.parametrize("name", TORCH_OPS)
@FEW
@given(data=st.data())
def test_rule_matches_torch_func_jvp(name, data):
    torch = pytest.importorskip("torch")
    call = _draw_call(name)(data.draw)
    tfn = call.torch
    if tfn is None:
        tfn = getattr(torch, name)
    rng = rng_of(data.draw)
    tangents = [_normal(rng, np.shape(a)) if i in call.diff else None
                for i, a in enumerate(call.args)]
    need = tuple(t is not None for t in tangents)
    out, ctx = _run(name, call, call.args, need)
    got = np.asarray(REGISTRY[name].jvp(ctx, *tangents))
    primals = tuple(torch.tensor(call.args[i]) for i in call.diff)
    tt = tuple(torch.tensor(tangents[i]) for i in call.diff)
    tout, tjvp = torch.func.jvp(tfn, primals, tt)
    np.testing.assert_allclose(out, tout.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, tjvp.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


# -- at ties: the tangent is shared as the gradient is ------------------------------------------------
TIES = [
    ("max", [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], {"axis": 1}),
    ("min", [np.array([[1.0, 1.0], [0.5, 4.0]])], {"axis": None, "keepdims": True}),
    ("maximum", [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])], {}),
    ("minimum", [np.array([[1.0], [2.0]]), np.array([2.0, 1.0])], {}),
    ("max_pool2d", [np.ones((1, 1, 3, 3))], {"kernel_size": 2, "stride": 1}),
]


@pytest.mark.parametrize("name,args,kwargs", TIES, ids=[c[0] for c in TIES])
def test_ties_share_the_tangent_as_backward_shares_the_gradient(name, args, kwargs):
    """Tied extremes: the tangent is the mean of the tied inputs' tangents, so that the
    adjoint identity holds with the backward that shares the gradient equally."""
    rng = np.random.default_rng(0)
    call = _call(args, kwargs)
    tangents = [_normal(rng, a.shape) for a in args]
    need = (True,) * len(args)
    out, ctx = _run(name, call, args, need)
    got = np.asarray(REGISTRY[name].jvp(ctx, *tangents))
    u = _normal(rng, out.shape)
    grads = _as_tuple(REGISTRY[name].backward(ctx, u))
    lhs = sum(float(np.sum(sum_to(np.asarray(g), a.shape) * t)) for g, a, t in zip(grads, args, tangents))
    assert math.isclose(lhs, float(np.sum(u * got)), rel_tol=1e-12)
    if name == "max":
        np.testing.assert_allclose(got, [(tangents[0][0, 1] + tangents[0][0, 2]) / 2, tangents[0][1].mean()])
    if name == "maximum":
        np.testing.assert_allclose(got[[0, 2]], ((tangents[0] + tangents[1]) / 2)[[0, 2]])
