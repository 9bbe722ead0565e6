"""The array erf behind gelu (against math.erf everywhere, in its dtype) and the activation
ops of round 3 in float32 and on the Value engine (their PyTorch cross-checks, gradcheck and
gradgradcheck are in the ELEMENTWISE12 table of test_tensor_helpers and in
test_ops_elementwise12)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo.ops.erf import erf


def test_array_erf_is_math_erf_to_1e_14_relative():
    xs = np.concatenate([np.linspace(-8, 8, 40001), np.geomspace(1e-300, 2, 500),
                         -np.geomspace(1e-300, 2, 500), [1.9999999, 2.0, 5.9999999, 6.0]])
    exact = np.array([math.erf(v) for v in xs])
    got = erf(xs)
    assert np.all(np.abs(got - exact) <= 1e-14 * np.abs(exact))


@given(st.floats(-10, 10, allow_subnormal=False))
def test_array_erf_agrees_with_math_erf(x):
    assert math.isclose(float(erf(np.array([x]))[0]), math.erf(x), rel_tol=1e-14, abs_tol=1e-300)


def test_array_erf_keeps_float_dtypes_and_special_values():
    assert erf(np.ones(2, np.float32)).dtype == np.float32
    assert erf(np.array([1, 2])).dtype == np.float64
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf, 0.0])), [1.0, -1.0, 0.0])
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert math.copysign(1.0, erf(np.array([-0.0]))[0]) == -1.0


def test_gelu_of_a_value_is_the_exact_form():
    v = tm.Value(0.7)
    y = v.gelu()
    y.backward()
    phi = math.exp(-0.245) / math.sqrt(2 * math.pi)
    assert math.isclose(y.data, 0.35 * (1 + math.erf(0.7 / math.sqrt(2))), rel_tol=1e-15)
    assert math.isclose(v.grad, 0.5 * (1 + math.erf(0.7 / math.sqrt(2))) + 0.7 * phi,
                        rel_tol=1e-14)
