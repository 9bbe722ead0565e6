"""Two bugs found by ported op suites: maximum/minimum of integer tensors, and
indexing with an empty list (numpy gives an empty result)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.grad_mode import enable_grad


@pytest.mark.parametrize("f", [tm.maximum, tm.minimum])
@pytest.mark.parametrize("grad", [True, False])
def test_maximum_minimum_of_integer_tensors(f, grad):
    a, b = np.array([1, 5, 3]), np.array([3, 2, 3])
    npf = np.maximum if f is tm.maximum else np.minimum
    ctx = enable_grad() if grad else tm.no_grad()
    with ctx:
        for x, y in [(tm.Tensor(a), tm.Tensor(b)), (tm.Tensor(a), 2), (2, tm.Tensor(a)),
                     (a, tm.Tensor(b)), (tm.Tensor(a), b)]:
            out = f(x, y)
            assert out.dtype.kind == "i" and not out.requires_grad
            np.testing.assert_array_equal(out.data, npf(np.asarray(x), np.asarray(y)))


def test_maximum_of_integer_and_float_tensor_has_the_float_gradient():
    x = tm.Tensor([1.0, 5.0, 3.0], requires_grad=True)
    out = tm.maximum(x, tm.Tensor([3, 2, 3]))
    out.backward(np.array([1.0, 2.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 2.0])  # the tie shares
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("index", [[], [[]], ([], slice(None))])
def test_empty_list_index_is_numpys_empty_result(index):
    a = np.arange(6.0).reshape(2, 3)
    x = tm.Tensor(a, requires_grad=True)
    y = x[index]
    assert y.shape == a[index].shape and y.dtype == x.dtype
    y.backward(np.ones(y.shape, dtype=np.float32))
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))
