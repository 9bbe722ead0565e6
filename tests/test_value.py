"""The scalar Value engine: every op against finite differences and PyTorch,
backward lifecycle, higher order, bad input."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import Value
from tinygrad_memo.engine import naive_grad

# (name, function of Values, domain (lo, hi) for every input)
UNARY = [
    ("neg", lambda x: -x, (-3, 3)),
    ("abs", lambda x: abs(x), (0.1, 3)),
    ("abs_neg", lambda x: abs(x), (-3, -0.1)),
    ("exp", lambda x: x.exp(), (-3, 3)),
    ("log", lambda x: x.log(), (0.1, 3)),
    ("tanh", lambda x: x.tanh(), (-3, 3)),
    ("relu_pos", lambda x: x.relu(), (0.1, 3)),
    ("relu_neg", lambda x: x.relu(), (-3, -0.1)),
    ("sigmoid", lambda x: x.sigmoid(), (-5, 5)),
    ("sin", lambda x: x.sin(), (-3, 3)),
    ("cos", lambda x: x.cos(), (-3, 3)),
    ("sqrt", lambda x: x.sqrt(), (0.1, 3)),
    ("pow_int", lambda x: x**3, (-2, 2)),
    ("pow_frac", lambda x: x**0.5, (0.1, 3)),
    ("pow_neg", lambda x: x**-2, (0.5, 3)),
    ("rpow", lambda x: 2.0**x, (-2, 2)),
    ("radd", lambda x: 3 + x, (-2, 2)),
    ("rsub", lambda x: 3 - x, (-2, 2)),
    ("rmul", lambda x: 3 * x, (-2, 2)),
    ("rdiv", lambda x: 3 / x, (0.5, 3)),
    ("sub_const", lambda x: x - 1.5, (-2, 2)),
    ("div_const", lambda x: x / 4, (-2, 2)),
]
BINARY = [
    ("add", lambda x, y: x + y, (-3, 3)),
    ("sub", lambda x, y: x - y, (-3, 3)),
    ("mul", lambda x, y: x * y, (-3, 3)),
    ("div", lambda x, y: x / y, (0.5, 3)),
    ("pow", lambda x, y: x**y, (0.5, 2)),
]


def finite_difference(f, xs, i, eps=1e-6):
    hi = [x + (eps if j == i else 0.0) for j, x in enumerate(xs)]
    lo = [x - (eps if j == i else 0.0) for j, x in enumerate(xs)]
    return (f(*[Value(v) for v in hi]).data - f(*[Value(v) for v in lo]).data) / (2 * eps)


def check_grads(f, xs):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    # a non-uniform upstream gradient: d/dv of (out + 1) ** 2
    loss = (out + 1) ** 2
    loss.backward()
    for i, v in enumerate(vs):
        g = lambda *a: (f(*a) + 1) ** 2  # noqa: B023
        assert v.grad == pytest.approx(finite_difference(g, xs, i), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name,f,dom", UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_ops_against_finite_differences(name, f, dom, data):
    x = data.draw(st.floats(*dom))
    check_grads(f, [x])


@pytest.mark.parametrize("name,f,dom", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_ops_against_finite_differences(name, f, dom, data):
    xs = [data.draw(st.floats(*dom)) for _ in range(2)]
    check_grads(f, xs)


@pytest.mark.parametrize("name,f,dom", BINARY, ids=[b[0] for b in BINARY])
def test_binary_ops_on_the_same_value_twice(name, f, dom):
    x = Value(1.3)
    y = f(x, x)
    y.backward()
    assert x.grad == pytest.approx(finite_difference(lambda v: f(v, v), [1.3], 0), rel=1e-5)


def test_x_plus_x_and_x_times_x():
    x = Value(3.0)
    (x + x).backward()
    assert x.grad == 2.0
    x.grad = 0.0
    (x * x).backward()
    assert x.grad == 6.0


def test_reused_interior_node_matches_naive():
    a = Value(0.5)
    b = a + a
    c = b + b
    d = c * b
    d.backward(retain_graph=True)
    (ga, gb), n = naive_grad(d, [a, b])
    assert a.grad == ga == pytest.approx(16 * 0.5)  # d = 8 a**2
    assert b.grad == gb
    assert n == 6


def test_micrograd_sanity_example():
    # the example from micrograd's README, with its published results
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.data == pytest.approx(24.7041, abs=1e-4)
    assert a.grad == pytest.approx(138.8338, abs=1e-4)
    assert b.grad == pytest.approx(645.5773, abs=1e-4)


def test_against_pytorch_on_fixed_expressions():
    torch = pytest.importorskip("torch")

    def expr(x, y, lib):
        if lib == "tm":
            exp, log, tanh, sig, relu, sin, cos, sqrt = (
                lambda v: v.exp(), lambda v: v.log(), lambda v: v.tanh(), lambda v: v.sigmoid(),
                lambda v: v.relu(), lambda v: v.sin(), lambda v: v.cos(), lambda v: v.sqrt(),
            )
        else:
            exp, log, tanh, sig, relu, sin, cos, sqrt = (
                torch.exp, torch.log, torch.tanh, torch.sigmoid, torch.relu, torch.sin,
                torch.cos, torch.sqrt,
            )
        b = x * y + x
        c = b * b + tanh(b) * sig(y)
        d = exp(c * 0.1) + log(x * x + 1) + relu(b - 0.3) + sin(y) * cos(x)
        e = sqrt(d * d + 1) / (abs(y) + 2) - 3 / (x * x + 1) + x**y.__abs__() * 0.1
        return e * e + c

    for x0, y0 in [(0.7, -1.2), (1.3, 0.4), (2.0, 1.5)]:
        x, y = Value(x0), Value(y0)
        out = expr(x, y, "tm")
        out.backward()
        tx = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
        tout = expr(tx, ty, "torch")
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-12)
        assert x.grad == pytest.approx(tx.grad.item(), rel=1e-10)
        assert y.grad == pytest.approx(ty.grad.item(), rel=1e-10)


def test_leaves_accumulate_interior_fresh_and_second_pass_needs_retain_graph():
    x = Value(2.0)
    h = x * x
    y = h * 3
    y.backward(retain_graph=True)
    assert x.grad == 12.0 and h.grad == 3.0
    y.backward(retain_graph=True)
    assert x.grad == 24.0  # leaves accumulate
    assert h.grad == 3.0  # interior: afresh each pass
    y.backward()  # frees the saved local derivatives
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    # the structure stays, so the graph can still be drawn
    assert y._inputs == (h,) and h._inputs == (x, x)


def test_no_grad_records_nothing():
    x = Value(2.0)
    with tm.no_grad():
        y = x * x
    assert y._inputs == () and y.grad_fn is None and not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):  # as a Tensor does
        y.backward()
    assert x.grad == 0.0


def test_grad_does_not_touch_grad_and_second_derivatives():
    x = Value(0.8)
    y = x.tanh() * x.exp()
    (g,) = tm.grad(y, x, retain_graph=True)
    assert x.grad == 0.0
    t = math.tanh(0.8)
    e = math.exp(0.8)
    assert g == pytest.approx((1 - t * t) * e + t * e)
    (g1,) = tm.grad(y, x, create_graph=True)
    assert isinstance(g1, Value) and g1.data == pytest.approx(g)
    (g2,) = tm.grad(g1, x)
    # d2/dx2 tanh(x) e^x = (tanh'' + 2 tanh' + tanh) e^x, tanh'' = -2 t (1 - t^2)
    expected = (-2 * t * (1 - t * t) + 2 * (1 - t * t) + t) * e
    assert g2 == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name,f,dom", UNARY, ids=[u[0] for u in UNARY])
def test_second_derivative_of_every_unary_op(name, f, dom):
    x0 = (dom[0] + dom[1]) / 2 + 0.123
    x = Value(x0)
    (g1,) = tm.grad(f(x), x, create_graph=True)
    (g2,) = tm.grad(g1, x)
    eps = 1e-5

    def d1(v):
        xv = Value(v)
        return tm.grad(f(xv), xv)[0]

    assert g2 == pytest.approx((d1(x0 + eps) - d1(x0 - eps)) / (2 * eps), rel=1e-4, abs=1e-6)


def test_backward_create_graph_gives_value_gradients():
    x = Value(1.5)
    y = x**3
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == pytest.approx(3 * 1.5**2)
    (h,) = tm.grad(x.grad, x)
    assert h == pytest.approx(6 * 1.5)


def test_kinks():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0
    abs(x).backward()
    assert x.grad == 0.0


@pytest.mark.parametrize(
    "make,exc,words",
    [
        (lambda: Value(0).log(), ValueError, ["log", "0"]),
        (lambda: Value(-2.0).log(), ValueError, ["log", "-2"]),
        (lambda: Value(-1).sqrt(), ValueError, ["sqrt", "-1"]),
        (lambda: Value(1.0) / 0, ZeroDivisionError, ["/", "1.0"]),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, ["/"]),
        (lambda: 1 / Value(0.0), ZeroDivisionError, ["/"]),
        (lambda: Value(1) + "a", TypeError, ["+", "str"]),
        (lambda: "a" * Value(1), TypeError, ["*", "str"]),
        (lambda: Value(float("nan")), ValueError, ["finite", "nan"]),
        (lambda: Value(float("inf")), ValueError, ["finite", "inf"]),
        (lambda: Value("x"), TypeError, ["Value", "str"]),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, ["**", "-8"]),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, ["**"]),
    ],
)
def test_bad_input_raises_clear_errors(make, exc, words):
    with pytest.raises(exc) as info:
        make()
    for w in words:
        assert w in str(info.value)


def test_overflow_follows_float_semantics_and_squashers_are_stable():
    assert Value(1000.0).exp().data == math.inf
    assert (Value(1e200) ** 2).data == math.inf
    for big in (1e3, 1e6, 1e300):
        assert Value(big).tanh().data == 1.0 and Value(-big).tanh().data == -1.0
        assert Value(big).sigmoid().data == 1.0 and Value(-big).sigmoid().data == 0.0
    x = Value(-800.0)
    x.sigmoid().backward()
    assert x.grad == 0.0 and math.isfinite(x.grad)


def test_repr_shows_data_grad_and_label():
    v = Value(1.5, label="w")
    assert repr(v) == "Value(data=1.5, grad=0, label='w')"
