"""tm.detect_anomaly: the op that created the first NaN (or inf), forward or backward,
with its phase, its inputs and where the user's code created it."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import Function, Tensor, Value, anomaly, nn
from tinygrad_memo.anomaly import AnomalyError
from tinygrad_memo.nn import functional as F

INF, NAN = np.inf, np.nan


def here(offset: int = 1):
    """(this file, the caller's line + offset, the caller's function): an expected site."""
    f = inspect.currentframe().f_back
    return (__file__, f.f_lineno + offset, f.f_code.co_name)


def t(*data, rg=True):
    return Tensor(np.array(data, dtype=np.float64), requires_grad=rg)


def raises(op, phase, site, *words):
    """Check the AnomalyError of a `with pytest.raises(AnomalyError) as info` block."""
    def check(info):
        e = info.value
        assert (e.op, e.phase) == (op, phase), str(e)
        assert e.site == site, str(e)
        msg = str(e)
        assert f"the {phase} of {op!r}" in msg or f"gradient of {op!r}" in msg, msg
        for w in words:
            assert w in msg, msg
        if site is not None:
            assert f"{site[1]} in {site[2]}" in msg
        else:
            assert "outside detect_anomaly" in msg
    return check


# -- forward --------------------------------------------------------------------------------------
def test_forward_log0():
    x = t(0.0, 1.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        x.log()
    raises("log", "forward", site, "-inf", "(2,) float64", "divide by zero")(info)


def test_forward_zero_over_zero_and_inf_times_zero():
    a, b = t(0.0, 1.0), t(0.0, 2.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        a / b
    raises("div", "forward", site, "nan", "(2,) float64, (2,) float64")(info)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        t(INF, 1.0) * t(0.0, 1.0)
    raises("mul", "forward", site, "nan", "invalid value")(info)


def test_forward_inside_matmul_and_reductions():
    a = Tensor(np.array([[INF, 1.0]], np.float32), requires_grad=True)
    b = Tensor(np.array([[0.0], [1.0]], np.float32))
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        a @ b
    raises("matmul", "forward", site, "nan", "(1, 2) float32, (2, 1) float32")(info)
    x = t(INF, -INF, 1.0)
    for method in ("sum", "mean"):
        with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
            site = here()
            getattr(x, method)()
        raises(method, "forward", site, "nan")(info)


def test_forward_site_is_the_users_line_not_the_librarys():
    lin = nn.Linear(2, 2)
    x = Tensor(np.array([[INF, 1.0]], np.float32))
    lin.weight.data[...] = 0.0
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        F.linear(x, lin.weight, lin.bias)  # the op is made inside nn/functional.py
    raises("linear", "forward", site, "nan")(info)


def test_value_forward_inf_times_zero():
    big = Value(1e300) * 1e10  # inf, made outside the block: passing it on is no anomaly
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        y = big + 1.0
        site = here()
        y * 0.0
    raises("mul", "forward", site, "nan", "float inf")(info)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly(check_inf=True):
        site = here()
        Value(1e300) * 1e10
    raises("mul", "forward", site, "inf")(info)


# -- backward -------------------------------------------------------------------------------------
def test_backward_log0_names_the_op_and_where_it_was_made():
    x = t(0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = x.log()  # -inf, made outside the block: no site recorded
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        y.sum().backward()
    raises("log", "backward", None, "gradient of input 0", "divide by zero")(info)


def test_backward_zero_over_zero_in_a_custom_function():
    class Ratio(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 0.0

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g / x  # 0 / 0 where the upstream gradient and x are 0

    x = t(0.0, 2.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = Ratio.apply(x)
        y.backward(np.array([0.0, 1.0]))
    raises("Ratio", "backward", site, "nan", "invalid value")(info)


def test_backward_inf_times_zero_in_mul():
    w = t(INF, 2.0, rg=False)
    x = t(1.0, 1.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = x * w          # inf: passed on, not made from finite numbers
        y[1:].sum().backward()  # the upstream gradient of y is [0, 1]: 0 * inf in backward
    raises("mul", "backward", site, "nan", "gradient of input 0", "upstream gradient: (2,) float64")(info)


def test_backward_inside_matmul():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
    w = Tensor(np.array([[INF], [1.0]], np.float32))
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        out = a @ w
        out.backward(np.array([[0.0], [1.0]], np.float32))  # 0 * inf inside g @ w.T
    raises("matmul", "backward", site, "nan", "invalid value encountered in matmul")(info)


def test_backward_inside_reductions():
    x = t(1.0, 2.0, 3.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = x.softmax()
        y.backward(np.array([INF, -INF, 0.0]))  # (g * out).sum(): inf - inf in backward
    raises("softmax", "backward", site, "nan", "reduce")(info)
    lin = nn.Linear(1, 1)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        out = lin(Tensor(np.ones((2, 1), np.float32)))
        out.backward(np.array([[INF], [-INF]], np.float32))  # the bias gradient sums inf - inf
    raises("linear", "backward", site, "nan")(info)


def test_value_backward_inf_times_zero():
    x = Value(0.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = x.sqrt()     # its local derivative 0.5 / 0 = inf is no NaN (check_inf is off)
        (y * 0.0).backward()  # 0 * inf in sqrt's backward
    raises("sqrt", "backward", site, "nan")(info)


def test_create_graph_backward_is_a_backward_failure():
    x = t(0.0, 4.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = x.sqrt()
        tm.grad((y * 0.0).sum(), x, create_graph=True)
    raises("sqrt", "backward", site, "under create_graph")(info)


# -- pass-through is not blamed ---------------------------------------------------------------------
def test_a_nan_that_passes_through_is_not_blamed():
    x = t(NAN, 1.0)  # made outside the block
    with tm.detect_anomaly():
        y = (x.exp() * 2 + 1).log().tanh() @ t(1.0, 1.0, rg=False)
        y.backward()
        v = Value(1.0) * 2
        w = (v + float("nan")) * 3  # a nan constant from outside, passed on
        w.backward()
    assert np.isnan(y.data) and np.isnan(x.grad[0]) and not np.isnan(x.grad[1])
    assert w.data != w.data


def test_a_nan_seed_that_passes_through_backward_is_not_blamed():
    x = t(1.0, 2.0)
    with tm.detect_anomaly():
        (x * 3).tanh().backward(np.array([NAN, 1.0]))
    assert np.isnan(x.grad[0]) and np.isfinite(x.grad[1])


def test_the_first_op_is_blamed_not_the_ones_after_it():
    x = t(-1.0, 1.0)
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly():
        site = here()
        y = x.sqrt()  # nan: blamed here, before the exp and the mul see it
        (y.exp() * 2).sum()
    raises("sqrt", "forward", site, "nan")(info)


def test_a_masked_invalid_value_inside_an_op_is_not_blamed():
    x = t(-800.0, 0.0, 800.0)
    with tm.detect_anomaly(check_inf=True):
        y = x.sigmoid()  # exp overflows in a branch the op does not use
        y.sum().backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))


def test_check_inf():
    x = t(1000.0)
    with tm.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's own overflow warning for the user's numerics
        y = x.exp()  # an overflow to inf: only an anomaly with check_inf
    assert np.isinf(y.data).all()
    with pytest.raises(AnomalyError) as info, tm.detect_anomaly(check_inf=True):
        site = here()
        x.exp()
    raises("exp", "forward", site, "inf", "overflow")(info)


# -- the block itself ---------------------------------------------------------------------------------
def test_outside_the_block_everything_is_as_before():
    saved = dict(vars(Value))
    apply, vjp = vars(Function)["apply"], vars(Tensor)["_vjp"]
    err = np.geterr()
    with tm.detect_anomaly(check_inf=True):
        with tm.detect_anomaly():  # nested: the inner block's check_inf applies inside it
            assert anomaly._STACK == [True, False]
            assert vars(Function)["apply"] is not apply
        x = t(1.0) * 2
        assert anomaly._SITES
    assert np.geterr() == err
    assert vars(Function)["apply"] is apply and vars(Tensor)["_vjp"] is vjp
    assert all(vars(Value)[k] is v for k, v in saved.items())
    assert not anomaly._SITES and not anomaly._STACK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isneginf((t(0.0).log()).data)  # no checks outside the block
    del x


def test_decorator_and_errors_restore_state():
    @tm.detect_anomaly()
    def f(x):
        return x.log()

    with pytest.raises(AnomalyError):
        f(t(0.0))
    assert not anomaly._STACK and vars(Function)["apply"] is not anomaly._tensor_apply
    assert f(t(1.0)).data == 0.0
