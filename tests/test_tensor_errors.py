"""Every bad input raises a clear exception at the op that caused it: the right
type, and a message naming the op and the shapes (never a numpy traceback from
deep inside backward)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_memo as tm

Tensor = tm.Tensor


def ones(*shape, rg=False):
    return Tensor(np.ones(shape), requires_grad=rg)


def raises(exc, *words):
    """pytest.raises whose message must contain every word (op name, shapes...)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(w)})" for w in words))


# ------------------------------------------------------------------------- matmul
@pytest.mark.parametrize("sa,sb", [
    ((2, 3), (2, 3)),
    ((3,), (4,)),
    ((2, 3), (4,)),
    ((4,), (3, 2)),
    ((5, 2, 3), (4, 2)),
])
def test_matmul_inner_dimension_mismatch(sa, sb):
    with raises(ValueError, "matmul", str(sa), str(sb)):
        ones(*sa, rg=True) @ ones(*sb, rg=True)


def test_matmul_batch_mismatch():
    with raises(ValueError, "matmul", "(2, 2, 3)", "(3, 3, 2)"):
        ones(2, 2, 3) @ ones(3, 3, 2)


def test_matmul_0d_operand():
    with raises(ValueError, "matmul", "()", "(4,)"):
        Tensor(2.0) @ ones(4)


def test_matmul_with_list_on_either_side():
    np.testing.assert_array_equal(([1.0, 2.0] @ ones(2, 2)).data, [3.0, 3.0])
    np.testing.assert_array_equal((ones(2, 2) @ [1.0, 2.0]).data, [3.0, 3.0])
    with raises(ValueError, "matmul", "(3,)", "(2, 2)"):
        [1.0, 2.0, 3.0] @ ones(2, 2)


# ------------------------------------------------------------------- broadcasting
@pytest.mark.parametrize("name,f", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
    ("maximum", tm.maximum),
    ("minimum", tm.minimum),
])
def test_broadcast_mismatch(name, f):
    with raises(ValueError, name, "(2, 3)", "(4,)"):
        f(ones(2, 3, rg=True), ones(4, rg=True))
    with raises(ValueError, name, "(2, 3)", "(3, 2)"):
        f(ones(2, 3, rg=True), np.ones((3, 2)))


def test_where_broadcast_mismatch():
    with raises(ValueError, "where", "(2,)", "(2, 3)", "(3, 2)"):
        tm.where(np.ones(2, bool), ones(2, 3), ones(3, 2))


def test_expand_mismatch():
    with raises(ValueError, "expand", "(2, 3)", "(3, 3)"):
        ones(2, 3, rg=True).expand(3, 3)


@pytest.mark.parametrize("name,f,shapes", [
    ("concatenate", lambda: tm.concatenate([ones(2, 3), ones(2, 2)]), ["(2, 3)", "(2, 2)"]),
    ("concatenate", lambda: tm.concatenate([ones(2, 3)], axis=3), ["(2, 3)", "axis 3"]),
    ("stack", lambda: tm.stack([ones(2, 3), ones(2, 2)]), ["(2, 3)", "(2, 2)"]),
    ("stack", lambda: tm.stack([ones(2, 3)], axis=4), ["(2, 3)", "axis 4"]),
])
def test_join_mismatch(name, f, shapes):
    with raises(ValueError, name, *shapes):
        f()


def test_join_nothing():
    with raises(ValueError, "concatenate"):
        tm.concatenate([])
    with raises(ValueError, "stack"):
        tm.stack([])


# ------------------------------------------------------------------------ reshape
@pytest.mark.parametrize("shape", [(4, 2), (-1, -1), (4, -1), (7,)])
def test_bad_reshape(shape):
    with raises(ValueError, "reshape", "(2, 3)", str(shape)):
        ones(2, 3, rg=True).reshape(*shape)


# ---------------------------------------------------------------------------- axes
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduction_bad_axis(op, axis):
    bad = axis[1] if isinstance(axis, tuple) else axis
    with raises(np.exceptions.AxisError, op, "(2, 3)", f"axis {bad}"):
        getattr(ones(2, 3, rg=True), op)(axis=axis)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_reduction_repeated_axis(op):
    with raises(ValueError, op, "repeated"):
        getattr(ones(2, 3), op)(axis=(0, -2))


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduction_axis_on_0d(op):
    with raises(np.exceptions.AxisError, op, "()"):
        getattr(Tensor(1.0), op)(axis=0)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_axis(op):
    with raises(np.exceptions.AxisError, op, "(2, 3)", "axis 2"):
        getattr(ones(2, 3, rg=True), op)(axis=2)
    with raises(TypeError, op, "(2, 3)", "(0, 1)"):
        getattr(ones(2, 3, rg=True), op)(axis=(0, 1))


@pytest.mark.parametrize("axes", [(0, 0), (0, 1, 2), (2, 0), (0,)])
def test_transpose_bad_axes(axes):
    with raises(ValueError, "transpose", "(2, 3)", str(axes)):
        ones(2, 3, rg=True).transpose(*axes)


def test_max_of_empty_tensor():
    with raises(ValueError, "max", "(0, 3)"):
        Tensor(np.ones((0, 3))).max()


def test_flatten_bad_dims():
    with raises((IndexError, ValueError), "flatten", "(2, 3)"):
        ones(2, 3).flatten(5)


# ------------------------------------------------------------------------ indexing
@pytest.mark.parametrize("index,words", [
    (2, ["index 2", "size 2"]),
    ((0, 3), ["index 3", "size 3"]),
    (-3, ["index -3"]),
    (np.array([0, 5]), ["index 5"]),
    ([0, -4], ["index -4"]),
    ((slice(None), np.array([3])), ["index 3"]),
    (np.array([True, False, True]), ["boolean"]),
    ((0, 0, 0), ["too many indices"]),
])
def test_out_of_range_index(index, words):
    with raises(IndexError, "getitem", "(2, 3)", *words):
        ones(2, 3, rg=True)[index]


# ------------------------------------------------------------------------ backward
def test_nonscalar_backward_without_grad():
    with raises(RuntimeError, "backward", "scalar", "(2, 3)"):
        (ones(2, 3, rg=True) * 2).backward()


@pytest.mark.parametrize("shape", [(3,), (3, 2), (1, 2, 3), ()])
def test_wrong_shape_grad(shape):
    with raises(RuntimeError, "backward", str(shape), "(2, 3)"):
        (ones(2, 3, rg=True) * 2).backward(np.ones(shape))


def test_wrong_shape_grad_outputs_to_tm_grad():
    x = ones(2, 3, rg=True)
    with raises(RuntimeError, "(3,)", "(2, 3)"):
        tm.grad(x * 2, x, grad_outputs=np.ones(3))


@pytest.mark.parametrize("make", [
    lambda: Tensor([1, 2], requires_grad=True),
    lambda: Tensor(np.arange(3), requires_grad=True),
    lambda: Tensor([True, False], requires_grad=True),
    lambda: Tensor.arange(3, requires_grad=True),
    lambda: Tensor.zeros(2, dtype=np.int32, requires_grad=True),
])
def test_requires_grad_on_integer_tensor(make):
    with raises(RuntimeError, "floating"):
        make()


def test_unsupported_data():
    with raises(TypeError, "Tensor()"):
        Tensor("abc")
    with raises(TypeError, "Tensor()"):
        Tensor({"a": 1})


def test_ragged_list_data():
    with raises(TypeError, "Tensor()"):
        Tensor([[1.0], [2.0, 3.0]])


def test_second_backward_error_names_retain_graph():
    x = ones(2, rg=True)
    y = (x * x).sum()
    y.backward()
    with raises(RuntimeError, "retain_graph=True"):
        y.backward()
    with raises(RuntimeError, "retain_graph=True"):
        tm.grad(y, x)


def test_errors_raised_at_the_op_not_in_backward():
    """A bad op raises when it is applied; nothing is recorded, and the graph built
    so far still works."""
    x = ones(2, 3, rg=True)
    y = x * 2
    with pytest.raises(ValueError):
        y @ ones(2, 3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_custom_function_wrong_number_of_grads():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    x = ones(2, rg=True)
    with raises(RuntimeError, "Bad", "1", "2"):
        Bad.apply(x, x).sum().backward()


def test_custom_function_returning_tensor_from_forward():
    class Bad(tm.Function):
        @staticmethod
        def forward(ctx, a):
            return Tensor(a)

        @staticmethod
        def backward(ctx, g):
            return g

    with raises(TypeError, "Bad", "numpy array"):
        Bad.apply(ones(2, rg=True))


def test_library_prints_nothing(capsys):
    x = ones(2, 3, rg=True)
    ((x @ ones(3, 2)).softmax().sum() + x.max()).backward()
    with pytest.raises(ValueError):
        x @ x
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
