"""Elementwise ops. Inputs broadcast as in numpy; a gradient may come back in the
broadcast shape, and Tensor._vjp sums it to each input's shape (ops/shape.sum_to)."""

from __future__ import annotations

import numpy as np

from ..function import Function


def _shape(x) -> tuple:
    return getattr(x, "shape", ())


def _array(x) -> np.ndarray:
    """A ufunc on 0-d arrays returns a numpy scalar: make it the array the node will
    hold, so that an op saving its output saves the node's own data (create_graph
    resolves the saved output to the node by identity)."""
    return x if type(x) is np.ndarray else np.asarray(x)


def _binary(name: str, f, a, b):
    """numpy's broadcasting, with an error that names the op and both shapes."""
    try:
        return _array(f(a, b))
    except ValueError:
        raise ValueError(
            f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together"
        ) from None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("add", np.add, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _binary("div", np.true_divide, a, b)
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = g / b if na else None
        return ga, (-(ga if na else g / b) * out if nb else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _binary("pow", np.power, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = g * 0 if np.isscalar(b) and b == 0 else g * b * a ** (b - 1)
        if nb:
            # d/db a**b = a**b log(a) for a > 0; 0 where a == 0; nan where a < 0
            dt = out.dtype  # a plain-number base must not promote a float32 gradient
            ad = np.asarray(a, dtype=dt)
            pos = (ad > 0).astype(dt)
            nan = np.where(ad < 0, np.nan, 0).astype(dt)
            gb = g * out * np.log(a * pos + (1 - pos)) + nan
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.sign = np.sign(a)  # abs'(0) = 0
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.sign


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = _array(np.exp(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = _array(np.sqrt(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = _array(np.tanh(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0: no overflow either way
        e = np.exp(-np.abs(a))
        out = _array(np.where(a >= 0, 1, e) / (1 + e))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out * (1 - out))


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.mask = a > 0  # relu'(0) = 0
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask


def _share(wins, ties, out):
    """Weight of the first input: 1 where it wins, 1/2 on ties, in the output's dtype."""
    dt = out.dtype if out.dtype.kind == "f" else np.float32
    return wins.astype(dt) + ties.astype(dt) * dt.type(0.5)


class Maximum(Function):
    """Elementwise maximum; where the two are equal each gets half the gradient."""

    @staticmethod
    def forward(ctx, a, b):
        out = _binary("maximum", np.maximum, a, b)
        ctx.wa = _share(a > b, a == b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.wa, g * (1 - ctx.wa)


class Minimum(Maximum):
    """Elementwise minimum; where the two are equal each gets half the gradient
    (the derivative rule is Maximum's, with the first input's weight mirrored)."""

    @staticmethod
    def forward(ctx, a, b):
        out = _binary("minimum", np.minimum, a, b)
        ctx.wa = _share(a < b, a == b, out)
        return out


class Where(Function):
    """where(cond, a, b): a where cond is true, else b (cond gets no gradient)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond, dtype=bool)
        try:
            out = np.where(cond, a, b)
        except ValueError:
            raise ValueError(
                f"where: shapes {cond.shape}, {_shape(a)} and {_shape(b)} "
                "cannot be broadcast together"
            ) from None
        ctx.cond = cond
        return out

    @staticmethod
    def backward(ctx, g):
        return None, g * ctx.cond, g * ~ctx.cond
