"""Graphs: fan-out against the naive path-enumeration oracle, the same expression
from Values and from a Tensor, no gradient aliasing, a 100,000-op chain, and the
graph and its saved arrays being freed after backward."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_tensor_helpers import op_settings, pairs, rng_of, values

import tinygrad_memo as tm
from tinygrad_memo.engine import naive_grad

Tensor = tm.Tensor


def leaf(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- naive oracle
def fanout_graph(x, W, b, depth):
    h = (x @ W + b).tanh()
    for i in range(depth):  # every level reuses the last one twice: 2**depth paths
        h = h * h.sigmoid() + (h if i % 2 else h.exp() * 0.1)
    return h


@pytest.mark.parametrize("depth", [0, 1, 3, 6])
def test_fanout_matches_naive_grad(depth):
    rng = np.random.default_rng(depth)
    x, W, b = leaf(rng.normal(size=(3, 2))), leaf(rng.normal(size=(2, 4))), leaf(rng.normal(size=4))
    w = Tensor(rng.normal(size=(3, 4)))
    root = (fanout_graph(x, W, b, depth) * w).sum()  # naive_grad needs a scalar root
    expected, evaluations = naive_grad(root, [x, W, b])
    stats = root.backward()
    assert evaluations == stats.paths
    assert stats.local_grads == stats.edges
    for t, e in zip((x, W, b), expected):
        np.testing.assert_allclose(t.grad, e, rtol=1e-10, atol=1e-12)


def test_naive_grad_after_retained_backward_and_diamond():
    a = leaf([0.5, -1.0])
    b = a * 2
    c = a.exp()
    d = (b * c + b / (c + 1)).mean()  # diamond: a -> b, a -> c -> d
    d.backward(retain_graph=True)
    (ga,), n = naive_grad(d, [a])
    np.testing.assert_allclose(a.grad, ga, rtol=1e-12)
    assert n == d.backward(retain_graph=True).paths


def test_naive_grad_root_must_be_scalar():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar"):
        naive_grad(a * a, [a])


def test_reused_interior_node_path_counts():
    a = leaf([1.0, 2.0])
    b = a + a
    c = b + b
    root = (c * Tensor([1.0, 3.0], dtype=np.float64)).sum()
    (ga,), n = naive_grad(root, [a])
    stats = root.backward()
    assert n == stats.paths == 4 and stats.local_grads == stats.edges
    np.testing.assert_array_equal(a.grad, ga)
    np.testing.assert_array_equal(a.grad, [4.0, 12.0])


# ---------------------------------------------------------- Values vs a Tensor
def expr(a, b):
    """The same elementwise expression for Values and for Tensors (broadcasting)."""
    s = (a * b + 2.0) / (b * b + 1.0)
    t = s.tanh() * (a * 0.5).exp().sqrt() + (a - b).sigmoid() * abs(b) ** 1.5
    u = (a * a + 1.0).log() - (3.0 - a).relu() + 2.0 ** b - b ** 2 / (1.0 + a * a)
    return t * u + t - (-a) * b


@op_settings(30)
@given(data=st.data())
def test_values_and_tensor_agree_elementwise(data):
    rng = rng_of(data.draw)
    sa, sb = data.draw(pairs).input_shapes
    a, b = values(rng, sa), values(rng, sb)
    ta, tb = leaf(a), leaf(b)
    out = expr(ta, tb)
    w = rng.normal(size=out.shape)
    out.backward(w)

    va = np.empty(a.shape, dtype=object)
    vb = np.empty(b.shape, dtype=object)
    for i in np.ndindex(a.shape):
        va[i] = tm.Value(float(a[i]))
    for i in np.ndindex(b.shape):
        vb[i] = tm.Value(float(b[i]))
    pa, pb = np.broadcast_arrays(va, vb)  # each Value reused at every broadcast position
    root = tm.Value(0.0)
    for i in np.ndindex(out.shape):
        v = expr(pa[i], pb[i])
        assert v.data == pytest.approx(float(out.data[i]), rel=1e-12, abs=1e-12)
        root = root + v * float(w[i])
    root.backward()
    ga = np.vectorize(lambda v: v.grad, otypes=[float])(va).reshape(a.shape)
    gb = np.vectorize(lambda v: v.grad, otypes=[float])(vb).reshape(b.shape)
    np.testing.assert_allclose(ta.grad, ga, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad, gb, rtol=1e-10, atol=1e-12)


def test_values_and_tensor_agree_on_matmul_and_sum():
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    ta, tb = leaf(A), leaf(B)
    w = rng.normal(size=(2, 2))
    ((ta @ tb).tanh() * Tensor(w)).sum().backward()
    va = [[tm.Value(float(v)) for v in row] for row in A]
    vb = [[tm.Value(float(v)) for v in row] for row in B]
    root = tm.Value(0.0)
    for i in range(2):
        for j in range(2):
            s = tm.Value(0.0)
            for k in range(3):
                s = s + va[i][k] * vb[k][j]
            root = root + s.tanh() * float(w[i, j])
    root.backward()
    np.testing.assert_allclose(ta.grad, [[v.grad for v in r] for r in va], rtol=1e-12)
    np.testing.assert_allclose(tb.grad, [[v.grad for v in r] for r in vb], rtol=1e-12)


# --------------------------------------------------------------------- aliasing
def test_x_plus_x():
    x = leaf([1.0, 2.0])
    (x + x).backward(np.array([1.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 10.0])
    x.grad = None
    (x * x).backward(np.array([1.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])


def test_reused_interior_node_no_aliasing():
    a = leaf([1.0, 2.0])
    b = a + a
    b.retain_grad()
    c = b + b
    c.retain_grad()
    G = np.array([1.0, 3.0])
    c.backward(G)
    np.testing.assert_array_equal(a.grad, 4 * G)
    np.testing.assert_array_equal(b.grad, 2 * G)
    np.testing.assert_array_equal(c.grad, G)
    arrays = [a.grad, b.grad, c.grad, G]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.shares_memory(arrays[i], arrays[j]), (i, j)
    a.grad += 100
    np.testing.assert_array_equal(b.grad, 2 * G)
    np.testing.assert_array_equal(c.grad, G)


@pytest.mark.parametrize("make", [
    lambda a, b: (a + b).sum(),
    lambda a, b: (a + b).mean() * 2,
    lambda a, b: (a - (-b)).sum(),
    lambda a, b: tm.concatenate([a, b]).sum(),
    lambda a, b: tm.stack([a, b]).max(axis=0).sum() + tm.stack([a, b]).sum(),
    lambda a, b: (a.reshape(2, 1) + b.reshape(1, 2)).sum(),
    lambda a, b: tm.where(np.array([True, False]), a, b).sum() + (a + b).sum(),
], ids=["add", "mean", "sub_neg", "concatenate", "stack", "broadcast", "where"])
def test_two_leaves_receiving_the_same_upstream_array_do_not_alias(make):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 5.0])
    make(a, b).backward()
    gb = b.grad.copy()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1
    np.testing.assert_array_equal(b.grad, gb)
    make(a, b).backward()  # accumulating in place into one must not touch the other
    np.testing.assert_array_equal(b.grad, 2 * gb)


@pytest.mark.parametrize("make", [
    lambda a, b: a + b,
    lambda a, b: a,
    lambda a, b: a * 1 + b * 1,
    lambda a, b: (a + b).reshape(2),
    lambda a, b: tm.concatenate([a, b]).reshape(2, 2)[0] * 0 + a,
], ids=["add", "leaf_root", "mul", "reshape", "getitem"])
def test_grads_do_not_alias_the_users_grad_array(make):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 5.0])
    G = np.array([1.0, 7.0])
    make(a, b).backward(G)
    ga = a.grad.copy()
    assert not np.shares_memory(a.grad, G) and not np.shares_memory(a.grad, b.grad)
    G += 100
    np.testing.assert_array_equal(a.grad, ga)
    a.grad += 1
    np.testing.assert_array_equal(G, [101.0, 107.0])


def test_tm_grad_results_do_not_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 5.0])
    G = np.array([1.0, 7.0])
    ga, gb = tm.grad(a + b, [a, b], grad_outputs=G)
    assert not np.shares_memory(ga, gb) and not np.shares_memory(ga, G)


# ------------------------------------------------------------------ deep chains
def test_100k_op_chain_at_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x = leaf([0.5, -0.25])
    y = x
    for i in range(50_000):  # 100,000 ops
        y = y * 1.0000001 if i % 2 else y + 0.001
        y = y - 0.0005
    stats = y.backward(np.array([1.0, 2.0]))
    assert stats.nodes == 100_001
    np.testing.assert_allclose(x.grad, np.array([1.0, 2.0]) * 1.0000001 ** 25_000, rtol=1e-12)


def test_deep_chain_of_mixed_ops():
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    y = x
    for _ in range(2_000):
        y = (y.tanh() * 1.1).reshape(3, 2).T.reshape(2, 3)
    y.backward(np.ones((2, 3)))
    assert np.isfinite(x.grad).all()


# ------------------------------------------------------------------- freeing
@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_graph_freed_by_refcount_after_del(no_gc):
    x = leaf(np.ones((50, 50)))
    h = (x @ x).tanh()
    y = (h.exp() * h).sum()
    ref_h = weakref.ref(h)
    ref_saved = weakref.ref(h._ctx.saved_tensors[1])  # tanh saves its output array (x, out)
    tanh_record = weakref.ref(h.grad_fn)
    y2 = (h * 2).sum()  # a second graph that keeps h (retained: not released)
    y2.backward(retain_graph=True)
    del h
    y.backward()
    # the released graph keeps its structure (records and shapes), not the activations
    assert ref_h() is not None  # still held by y2's unreleased graph
    del y2
    assert ref_h() is None, "the released graph of y keeps an activation alive"
    assert ref_saved() is None
    assert tanh_record() is not None  # y still holds the structure: drawable
    order = tm.engine.topological_order(y)
    assert [n.grad_fn.name for n in order if n.grad_fn is not None][-1] == "sum"
    assert any(getattr(n, "shape", None) == (50, 50) and n.grad_fn is tanh_record() for n in order)
    del y, order
    assert tanh_record() is None, "the graph has a reference cycle: not freed without gc"


def test_saved_arrays_released_by_backward(no_gc):
    x = leaf(np.linspace(-1, 1, 1000))
    a = abs(x)
    r = a.relu()
    m = x.reshape(10, 100).max(axis=1)  # keeps a weight array of its own
    e = x.exp()  # saves its output
    out = (r * 2).sum() + m.sum() + (e * x).sum()
    nodes = [a, r, m, e, out]
    assert e.grad_fn.saved_tensors[1] is e.data
    refs = [weakref.ref(m._ctx.weight)]
    out.backward()
    for n in nodes:
        assert n.grad_fn.released and n.grad_fn.saved_tensors == ()
        assert not vars(n.grad_fn)  # every attribute a forward set is dropped
        assert n.grad_fn.name  # the record of the call stays
    for ref in refs:
        assert ref() is None


def test_retain_graph_keeps_ctx():
    x = leaf([1.0, 2.0])
    y = x.exp()
    out = y.sum()
    out.backward(retain_graph=True)
    assert not y.grad_fn.released and not out.grad_fn.released
    assert y.grad_fn.saved_tensors[1] is y.data
    out.backward()
    assert y.grad_fn.released and y.grad_fn.saved_tensors == ()


def test_chain_intermediates_freed_during_backward(no_gc):
    """Interior gradients (memo slots) are dropped as the pass goes: after backward
    nothing but the leaves' .grad is alive."""
    x = leaf(np.ones(1000))
    y = x
    for _ in range(20):
        y = y * 1.01
    grads = []
    orig = Tensor._vjp

    def spy(self, g, create_graph, release=False):
        grads.append(weakref.ref(g) if isinstance(g, np.ndarray) else None)
        return orig(self, g, create_graph, release)

    Tensor._vjp = spy
    try:
        y.sum().backward()
    finally:
        Tensor._vjp = orig
    assert len(grads) == 21  # one derivative rule per interior node
    alive = [r for r in grads if r is not None and r() is not None]
    assert not alive
