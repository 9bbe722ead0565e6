"""Backward semantics of the Tensor engine (DESIGN.md, PyTorch's where they overlap):
accumulation, retain_grad, retain_graph, no_grad, detach, dtypes, is_leaf,
seeded creation helpers, ties in max/min."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.random import manual_seed

Tensor = tm.Tensor


def leaf(a, dtype=np.float64):
    return Tensor(np.array(a, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------- accumulation
def test_leaves_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    for k in range(1, 4):
        (x * x * Tensor([1.0, -1.0], dtype=np.float64)).sum().backward()
        np.testing.assert_array_equal(x.grad, k * np.array([2.0, -4.0]))
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_interior_grad_is_none_unless_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y
    z.retain_grad()
    w = np.array([1.0, 10.0])
    (z * Tensor(w)).sum().backward()
    assert y.grad is None
    np.testing.assert_array_equal(z.grad, w)
    np.testing.assert_array_equal(x.grad, 8 * x.data * w)


def test_retained_interior_grad_is_fresh_each_pass_not_accumulated():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    out = (y * y).sum()
    out.backward(retain_graph=True)
    first = y.grad.copy()
    out.backward()
    np.testing.assert_array_equal(y.grad, first)
    np.testing.assert_array_equal(x.grad, 2 * 3 * first)


def test_nonscalar_backward_needs_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)|\(2,\).*scalar"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 6.0])


def test_single_element_backward_without_grad():
    x = leaf([[2.0]])
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[4.0]])


def test_wrong_shape_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_accepts_tensor_grad():
    x = leaf([1.0, 2.0])
    (x * 2).backward(Tensor([1.0, -1.0], dtype=np.float64))
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


# -------------------------------------------------------------------- retain_graph
def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    out = (x.exp() * x).sum()
    out.backward()
    g = x.grad.copy()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        out.backward()
    np.testing.assert_array_equal(x.grad, g)  # the failed pass delivered nothing


def test_retain_graph_allows_second_pass_and_doubles_leaf_grads():
    x = leaf([1.0, 2.0])
    b = leaf([0.5])
    out = (x.exp() * x + b).sum()
    out.backward(retain_graph=True)
    g, gb = x.grad.copy(), b.grad.copy()
    out.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * g)
    np.testing.assert_allclose(b.grad, 2 * gb)
    out.backward()
    np.testing.assert_allclose(x.grad, 3 * g)


def test_graph_structure_survives_backward():
    from tinygrad_memo.engine import topological_order

    x = leaf([1.0])
    out = (x * 2 + 1).sum()
    n = len(topological_order(out))
    out.backward()
    assert len(topological_order(out)) == n


# ------------------------------------------------------------------ no_grad, detach
def test_no_grad_context_manager_records_nothing():
    x = leaf([1.0, 2.0])
    with tm.no_grad():
        y = x * 2 + x.exp()
    assert not y.requires_grad and y.is_leaf and y._inputs == ()
    assert tm.is_grad_enabled()
    z = x * 2
    assert z.requires_grad


def test_no_grad_decorator_records_nothing():
    x = leaf([1.0, 2.0])

    @tm.no_grad()
    def f(t):
        assert not tm.is_grad_enabled()
        return (t @ t) * t

    y = f(x)
    assert not y.requires_grad and y.is_leaf
    assert tm.is_grad_enabled()


def test_no_grad_restores_state_after_exception():
    with pytest.raises(ZeroDivisionError), tm.no_grad():
        raise ZeroDivisionError
    assert tm.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad, d.data)


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="requires?.grad|require grad"):
        Tensor([1.0]).sum().backward()


# --------------------------------------------------------------------------- dtypes
def test_default_dtype_float32_and_float64_preserved():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(1.5).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor.randn(2).dtype == np.float32
    x = leaf([1.0, 2.0])
    for y in (x * 2, x / 3, 2.0 ** x, x ** 0.5, x.exp(), x.softmax(), x.mean(), x @ x):
        assert y.dtype == np.float64
    f = leaf([1.0, 2.0], np.float32)
    for y in (f * 2, f / 3, 2.0 ** f, f ** 0.5, f.sigmoid(), f.mean(), f.log_softmax(), 1 - f):
        assert y.dtype == np.float32, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grads_have_the_param_dtype(dtype):
    x = leaf([1.0, 2.0], dtype)
    other = Tensor(np.array([3.0, 4.0], dtype=np.float64 if dtype == np.float32 else np.float32))
    ((x * other).sum() + (2.0 ** x).sum() + (x ** 2.5).mean()).backward()
    assert x.grad.dtype == dtype


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="int64|integer|floating"):
        Tensor([1, 2], requires_grad=True)
    t = Tensor(np.arange(3))
    with pytest.raises(RuntimeError, match="floating"):
        t.requires_grad = True
    with pytest.raises(RuntimeError):
        Tensor.arange(3, requires_grad=True)
    assert Tensor([1, 2]).dtype.kind == "i"


def test_int_tensor_in_float_graph_gets_no_grad():
    x = leaf([1.0, 2.0])
    k = Tensor([3, 4])
    (x * k).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert k.grad is None


# ------------------------------------------------------------------- is_leaf etc.
def test_is_leaf_and_requires_grad():
    x = leaf([1.0])
    c = Tensor([2.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * c).is_leaf and (x * c).requires_grad
    assert (c * c).is_leaf and not (c * c).requires_grad
    with pytest.raises(RuntimeError):
        (x * c).requires_grad = False


def test_grad_is_ndarray_for_vectors():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert type(x.grad) is np.ndarray


def test_grad_of_0d_leaf_is_ndarray():
    x = Tensor(2.0, requires_grad=True)
    (x * x * x).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == ()
    x.grad[...] = 0  # zeroing in place must be possible


def test_creation_helpers_seeded():
    manual_seed(123)
    a = [Tensor.randn(2, 3), Tensor.rand(4), Tensor.uniform(3, low=2, high=5)]
    manual_seed(123)
    b = [Tensor.randn(2, 3), Tensor.rand(4), Tensor.uniform(3, low=2, high=5)]
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)
    assert a[0].shape == (2, 3) and Tensor.randn((2, 3)).shape == (2, 3)
    assert ((a[2].data >= 2) & (a[2].data < 5)).all()
    assert not np.array_equal(Tensor.randn(2, 3).data, a[0].data)
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.ones(2).data.tolist() == [1.0, 1.0]
    assert Tensor.eye(3).data.trace() == 3
    assert Tensor.randn(2, requires_grad=True).requires_grad


def test_numpy_item_repr_array_interop():
    x = Tensor([[1.5, 2.0]])
    assert x.numpy() is x.data
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="item"):
        x.item()
    assert "Tensor(" in repr(x) and "requires_grad=True" in repr(leaf([1.0]))
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert x.ndim == 2 and x.shape == (1, 2)


# ---------------------------------------------------------------- ties in max/min
def test_reduce_max_min_ties_share_equally():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.max(axis=1).backward(np.array([6.0, 9.0]))
    np.testing.assert_allclose(x.grad, [[0, 3, 3], [3, 3, 3]])
    x.grad = None
    x.max().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.min(axis=0, keepdims=True).backward(np.array([[4.0, 4.0, 4.0]]))
    np.testing.assert_allclose(x.grad, [[4, 0, 0], [0, 4, 4]])
    x.grad = None
    x.min(axis=(0, 1)).backward()
    np.testing.assert_allclose(x.grad, [[1, 0, 0], [0, 0, 0]])


def test_elementwise_maximum_minimum_ties_share_equally():
    a = leaf([1.0, 2.0, 3.0])
    b = leaf([1.0, 5.0, 0.0])
    tm.maximum(a, b).backward(np.array([2.0, 4.0, 8.0]))
    np.testing.assert_allclose(a.grad, [1, 0, 8])
    np.testing.assert_allclose(b.grad, [1, 4, 0])
    a.grad = b.grad = None
    tm.minimum(a, b).backward(np.array([2.0, 4.0, 8.0]))
    np.testing.assert_allclose(a.grad, [1, 4, 0])
    np.testing.assert_allclose(b.grad, [1, 0, 8])
    a.grad = None
    tm.maximum(a, 2.0).backward(np.array([1.0, 1.0, 1.0]))  # tie with a plain number
    np.testing.assert_allclose(a.grad, [0, 0.5, 1])


def test_kinks_relu_abs_zero_derivative():
    x = leaf([-1.0, 0.0, 2.0])
    (x.relu() + abs(x)).backward(np.ones(3))
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])


def test_where_with_tensor_condition_and_numbers():
    a = leaf([1.0, 2.0, 3.0])
    out = tm.where(a > 1.5, a * a, 0.0)
    out.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out.data, [0.0, 4.0, 9.0])
    np.testing.assert_array_equal(a.grad, [0.0, 8.0, 18.0])


def test_plain_numbers_and_arrays_on_either_side():
    x = leaf([1.0, 2.0])
    out = (2 + x) * (3 - x) / (1 / x) + np.array([1.0, 1.0]) * x - x ** 2 + 2 ** x
    out.backward(np.array([1.0, 2.0]))
    xs = x.data
    expected = (3 - xs) * xs - (2 + xs) * xs + (2 + xs) * (3 - xs) + 1 - 2 * xs + np.log(2) * 2 ** xs
    np.testing.assert_allclose(x.grad, expected * np.array([1.0, 2.0]))


def test_custom_function_api():
    class Cube(tm.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    y.backward(np.array([1.0, 0.5]))
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])
    (g,) = tm.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = tm.grad(g.sum(), x)
    np.testing.assert_array_equal(h, 6 * x.data)


def test_custom_function_saving_0d_output_second_derivative():
    class Exp(tm.Function):
        @staticmethod
        def forward(ctx, x):
            out = np.exp(x)
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    x = Tensor(0.5, requires_grad=True, dtype=np.float64)
    (g,) = tm.grad(Exp.apply(x), x, create_graph=True)
    (h,) = tm.grad(g, x)
    np.testing.assert_allclose(h, np.exp(0.5))
