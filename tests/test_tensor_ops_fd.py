"""Every Tensor op's gradient against central finite differences in float64.

Shapes (broadcast pairs included), axes and indices come from hypothesis; the
upstream gradient is random, never only ``.sum()``; inputs stay in each op's
domain and off its kinks (see ``test_tensor_helpers.OPS``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_tensor_helpers import OP_IDS, OPS, fd_grads, op_settings, rng_of, tm_grads, upstream

import tinygrad_memo as tm


def check_fd(op, arrays, kw, rng):
    with tm.no_grad():
        out = op.fn(*[tm.Tensor(a) for a in arrays], **kw)
    w = upstream(rng, out.shape)
    _, grads = tm_grads(op, arrays, kw, w)
    expected = fd_grads(op, arrays, kw, w)
    for i, (g, e, a) in enumerate(zip(grads, expected, arrays)):
        assert g is not None, f"{op.name}: input {i} got no gradient"
        assert g.shape == a.shape, f"{op.name}: input {i} gradient shape {g.shape} != {a.shape}"
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"{op.name} input {i}")


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@op_settings(15)
@given(data=st.data())
def test_gradient_matches_finite_differences(op, data):
    arrays, kw = op.draw(data.draw)
    check_fd(op, arrays, kw, rng_of(data.draw))


# every case of numpy's matmul, explicitly (hypothesis may not draw them all in a short run)
MATMUL_CASES = [
    ((3,), (3,)),  # dot product -> scalar
    ((3,), (3, 2)),  # vector @ matrix
    ((2, 3), (3,)),  # matrix @ vector
    ((2, 3), (3, 4)),  # matrix @ matrix
    ((5, 2, 3), (3, 4)),  # batch @ matrix
    ((2, 3), (5, 3, 4)),  # matrix @ batch
    ((5, 2, 3), (5, 3, 4)),  # batch @ batch
    ((2, 1, 2, 3), (4, 3, 2)),  # broadcast batch stacks
    ((1, 2, 3), (4, 1, 3, 2)),  # broadcast, different ranks
    ((3,), (4, 3, 2)),  # vector @ batch
    ((4, 2, 3), (3,)),  # batch @ vector
    ((1, 3), (3, 1)),  # unit dims
]


@pytest.mark.parametrize("sa,sb", MATMUL_CASES, ids=[f"{a}@{b}" for a, b in MATMUL_CASES])
def test_matmul_every_numpy_case_fd(sa, sb):
    rng = np.random.default_rng(0)
    op = OPS[OP_IDS.index("matmul")]
    a, b = rng.uniform(-2, 2, sa), rng.uniform(-2, 2, sb)
    out = tm.Tensor(a) @ tm.Tensor(b)
    assert out.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-12)
    check_fd(op, [a, b], {}, rng)


def test_getitem_repeated_indices_accumulate():
    x = tm.Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    x[np.array([0, 2, 0, 0])].backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(x.grad, [1101.0, 0.0, 10.0])
    y = tm.Tensor(np.zeros((2, 3)), requires_grad=True)
    y[[1, 1], [2, 2]].backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(y.grad, [[0, 0, 0], [0, 0, 7.0]])


def test_getitem_list_and_tensor_indices():
    x = tm.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[[0, 0]].backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, [[2, 2, 2], [0, 0, 0]])
    x.grad = None
    x[tm.Tensor(np.array([1, 1, 0]))].backward(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(x.grad, [[6, 7, 8], [3, 5, 7]])
    x.grad = None
    x[x > 2.5].backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 2, 3]])
