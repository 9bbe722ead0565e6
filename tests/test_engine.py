"""The memoized backward itself: counts, order, oracle agreement, deep graphs, freeing."""

import gc
import math
import sys
import weakref

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.engine import BackwardStats, backward, count_paths, naive_grad, topological_order


def ladder(depth, width=2, x0=0.9):
    """Level i uses level i-1 `width` times: paths = width ** depth."""
    a = tm.Value(x0, label="x")
    node = a
    for _ in range(depth):
        s = node
        for _ in range(width - 1):
            s = s + node
        node = (s * (1.0 / width)).tanh()
    return node, a


def reuse_chain(depth):
    """b = a * a; c = b * b; ...: each level multiplies the previous node by itself."""
    a = tm.Value(1.0001)
    node = a
    for _ in range(depth):
        node = node * node
    return node, a


@pytest.mark.parametrize("depth", [1, 2, 5, 10, 20])
def test_stats_on_square_chain_are_exact(depth):
    root, a = reuse_chain(depth)
    st = root.backward(retain_graph=True)
    assert st == BackwardStats(nodes=depth + 1, edges=2 * depth, local_grads=2 * depth, paths=2**depth)
    # d/da a ** (2 ** depth) = 2**depth * a ** (2**depth - 1)
    assert a.grad == pytest.approx(2**depth * 1.0001 ** (2**depth - 1), rel=1e-9)
    if depth <= 10:
        (g,), evaluations = naive_grad(root, [a])
        assert evaluations == st.paths
        assert g == pytest.approx(a.grad, rel=1e-12)


def test_local_grads_linear_paths_exponential_on_ladders():
    rows = []
    for depth in range(1, 13):
        root, _ = ladder(depth, width=3)
        rows.append(root.backward())
    # one level: 2 adds (4 edges), a multiply by a constant and a tanh (1 edge each)
    for d, st in enumerate(rows, start=1):
        assert st.local_grads == st.edges == 6 * d
        assert st.nodes == 4 * d + 1
        assert st.paths == 3**d
    assert rows[-1].paths / rows[-1].local_grads > 1000


def test_naive_and_memoized_agree_on_a_diamond_with_reuse():
    x = tm.Value(0.7, label="x")
    y = tm.Value(-1.3, label="y")
    b = x + x
    c = b + b  # reused interior node
    d = c * y + (c * c).tanh() + x * x
    e = (d.sigmoid() + d.exp() * 0.1) / (y * y + 1)
    st = e.backward(retain_graph=True)
    grads, evaluations = naive_grad(e, [x, y, b, c])
    assert evaluations == st.paths == count_paths(topological_order(e))
    assert grads[0] == pytest.approx(x.grad, rel=1e-12)
    assert grads[1] == pytest.approx(y.grad, rel=1e-12)
    assert grads[2] == pytest.approx(b.grad, rel=1e-12)
    assert grads[3] == pytest.approx(c.grad, rel=1e-12)


def test_topological_order_puts_inputs_first_and_root_last():
    a = tm.Value(1.0)
    b = tm.Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    pos = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is e
    assert len(order) == 5
    for n in order:
        for p in n._inputs:
            assert pos[id(p)] < pos[id(n)]


def test_million_node_chain_at_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x = tm.Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0000001
    st = y.backward()
    assert st.nodes == 1_000_001 and st.paths == 1
    assert x.grad == pytest.approx(1.0000001**1_000_000, rel=1e-9)


def test_deep_chain_naive_grad_is_iterative_too():
    x = tm.Value(0.3)
    y = x
    for _ in range(50_000):
        y = y + 0.0
    (g,), evaluations = naive_grad(y, [x])
    assert g == 1.0 and evaluations == 1


def test_cycle_built_by_hand_is_refused():
    a = tm.Value(1.0)
    b = a * 2
    c = b + 1
    a._inputs = (c,)  # a is now its own ancestor
    a._d0 = 1.0
    with pytest.raises(RuntimeError, match="cycle"):
        c.backward()
    with pytest.raises(RuntimeError, match="cycle"):
        topological_order(c)


def test_graph_is_freed_by_reference_counting_after_backward():
    gc.collect()
    gc.disable()
    try:
        x = tm.Value(0.5)
        h = x * 3
        k = h.tanh()
        loss = k * k + h
        ref = weakref.ref(k)
        loss.backward()
        del h, k, loss
        assert ref() is None  # no reference cycles: freed without the collector
    finally:
        gc.enable()


def test_backward_on_several_roots_with_seeds():
    x = tm.Value(2.0)
    y1 = x * x
    y2 = x * 3
    st = backward([y1, y2], [1.0, 2.0])
    assert x.grad == 2 * 2.0 + 2 * 3
    assert st.paths == 3


def test_gradients_handed_to_two_inputs_never_alias():
    a = tm.Tensor([1.0, 2.0], requires_grad=True)
    b = tm.Tensor([3.0, 4.0], requires_grad=True)
    up = np.array([1.0, -1.0], dtype=np.float32)
    (a + b).backward(up)
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, up)
    a.grad += 10
    np.testing.assert_array_equal(b.grad, [1.0, -1.0])
    np.testing.assert_array_equal(up, [1.0, -1.0])


def test_stats_count_math_matches_formula_for_width_ladders():
    for width in (2, 3, 4):
        root, _ = ladder(6, width=width)
        assert count_paths(topological_order(root)) == width**6
        assert math.isfinite(root.data)


def test_grad_with_an_input_listed_twice_gives_it_twice():
    x = tm.Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    g1, g2 = tm.grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(g1, [2.0, 4.0])
    np.testing.assert_array_equal(g2, [2.0, 4.0])
    assert not np.shares_memory(g1, g2)
    a = tm.Value(3.0)
    assert tm.grad(a * a, [a, a]) == [6.0, 6.0]


def test_grad_outputs_that_require_grad_keep_their_graph():
    x = tm.Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    v = tm.Tensor([0.5, -1.0], requires_grad=True, dtype=np.float64)
    (g,) = tm.grad(x.tanh(), x, grad_outputs=v, create_graph=True)
    gx, gv = tm.grad(g.sum(), [x, v])
    t = np.tanh(x.data)
    np.testing.assert_allclose(gv, 1 - t * t)
    np.testing.assert_allclose(gx, v.data * -2 * t * (1 - t * t))
