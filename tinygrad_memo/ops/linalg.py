"""Matrix product with numpy's rules: vectors, matrices and broadcast batched stacks."""

from __future__ import annotations

import numpy as np

from ..function import Function
from .shape import expand, sum_to


class MatMul(Function, name="matmul"):
    ufunc = np.matmul

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not np.ndarray:  # a plain list or number on one side
            a = np.asarray(a)
        if type(b) is not np.ndarray:
            b = np.asarray(b)
        a_shape, b_shape = a.shape, b.shape
        if not a_shape or not b_shape:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {a_shape} and {b_shape}")
        k_a = a_shape[-1]
        k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a_shape} and {b_shape} are not aligned: "
                f"{k_a} (last dim of a) != {k_b} ({'dim 0' if len(b_shape) == 1 else 'dim -2'} of b)"
            )
        try:
            out = np.matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return (g * b if na else None), (g * a if nb else None)
        # a vector operand is a one-row (a) or one-column (b) matrix; g gets that axis back
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1, g2.shape[-1]))
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = gb = None
        if na:
            ga = g2 @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = sum_to(ga, a2.shape, "matmul").reshape(a.shape)
        if nb:
            gb = a2.swapaxes(-1, -2) @ g2
            if b.ndim == 1:
                gb = sum_to(gb, b2.shape, "matmul").reshape(b.shape)
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb=None):
        a, b = ctx.saved_tensors
        return _plus(None if ta is None else matmul(ta, b), None if tb is None else matmul(a, tb))


def matmul(a, b):
    """a @ b: np.matmul on arrays (an array, never a numpy scalar), the MatMul op on nodes."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.asarray(np.matmul(a, b))
    return MatMul.apply(a, b)


def _plus(x, y):
    """x + y, where None is zero (None if both are)."""
    return y if x is None else (x if y is None else x + y)


class Linear(Function, name="linear"):
    """``x @ weight.T + bias`` (weight of shape (out, in)) as one op, like PyTorch's
    addmm: one node instead of transpose, matmul and add."""

    writes_out = True

    @staticmethod
    def forward(ctx, x, weight, bias=None, out=None):
        if x.ndim < 1 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                "(expected input (..., in_features) and weight (out_features, in_features))"
            )
        if bias is not None and (bias.shape if type(bias) is np.ndarray else np.shape(bias)) not in (
                (weight.shape[0],), ()):
            raise ValueError(
                f"linear: bias of shape {np.shape(bias)} does not fit weight of shape "
                f"{weight.shape} (expected ({weight.shape[0]},))"
            )
        ctx.save_for_backward(x, weight)
        out = np.matmul(x, weight.T, out=out)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        nx, nw, nb = need[0], need[1], len(need) > 2 and need[2]  # (called without a bias)
        gx = g @ w if nx else None
        gw = gb = None
        if nw or nb:
            g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
            if nw:
                gw = g2.T @ (x if x.ndim == 2 else x.reshape((-1, x.shape[-1])))
            if nb:
                gb = np.add.reduce(g2, axis=0) if type(g2) is np.ndarray else g2.sum(axis=0)
        return (gx, gw, gb)[: len(need)]

    @staticmethod
    def jvp(ctx, tx, tw=None, tb=None):
        x, w = ctx.saved_tensors
        out = _plus(None if tx is None else linear(tx, w), None if tw is None else linear(x, tw))
        if tb is None:
            return out
        if out is None:  # the bias's tangent alone, in the result's shape
            return expand(tb, x.shape[:-1] + w.shape[:1])
        return out + tb


def linear(x, w):
    """x @ w.T: on arrays, or the Linear op on nodes (one node)."""
    if isinstance(x, np.ndarray) and isinstance(w, np.ndarray):
        return x @ w.T
    return Linear.apply(x, w)


# -- einsum (issue 12): its gradient is an einsum too ----------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts: str, shapes: list) -> tuple:
    """(input subscripts, output subscript, letter -> size) with '...' spelled out in
    letters and the implicit output made explicit (numpy's rules)."""
    s = subscripts.replace(" ", "")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {len(shapes)}")
    free = [c for c in _LETTERS if c not in s]
    n_ell = max((len(sh) - (len(t) - 3) for t, sh in zip(ins, shapes) if "..." in t), default=0)
    ell = "".join(free[:n_ell])
    spelled = []
    for t, sh in zip(ins, shapes):
        if "..." in t:
            k = len(sh) - (len(t) - 3)
            if k < 0:
                raise ValueError(f"einsum: operand of shape {sh} has fewer axes than {t!r}")
            t = t.replace("...", ell[n_ell - k:])
        if len(t) != len(sh) or not all(c in _LETTERS for c in t):
            raise ValueError(f"einsum: subscript {t!r} does not fit an operand of shape {sh}")
        spelled.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: "".join(spelled).count(c) for c in "".join(spelled)}
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    sizes: dict = {}
    for t, sh in zip(spelled, shapes):
        for c, n in zip(t, sh):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(f"einsum: size {n} of {c!r} in an operand of shape {sh} does "
                                 f"not match {sizes[c]} ({subscripts!r})")
            sizes[c] = max(sizes.get(c, 1), n)
    if any(c not in sizes for c in out):
        raise ValueError(f"einsum: output subscript {out!r} names a letter no operand has")
    return spelled, out, sizes


def einsum(subscripts: str, *operands):
    """np.einsum on arrays, the Einsum op on nodes (used by its own derivative)."""
    if all(isinstance(o, np.ndarray | np.generic) for o in operands):
        return np.einsum(subscripts, *operands, optimize=True)
    return Einsum.apply(*operands, subscripts=subscripts)


def _einsum_grad(i, spelled, out, sizes, g, operands, dtype):
    """The gradient for operand ``i``: an einsum of g with the other operands. A letter
    only operand i has is brought back by a vector of ones; a letter repeated in its
    subscript (a diagonal) by an identity matrix."""
    target = list(spelled[i])
    free = iter(c for c in _LETTERS if c not in sizes)
    extra_subs, extra = [], []
    seen = set()
    for j, c in enumerate(target):
        if c in seen:  # a repeated letter: a new one, tied to it by an identity matrix
            new = next(free)
            target[j] = new
            extra_subs.append(c + new)
            extra.append(np.eye(sizes[c], dtype=dtype))
        seen.add(c)
    others = [t for k, t in enumerate(spelled) if k != i]
    present = set(out).union(*others, *extra_subs)
    for c in dict.fromkeys(spelled[i]):
        if c not in present:
            extra_subs.append(c)
            extra.append(np.ones(sizes[c], dtype=dtype))
    subs = ",".join([out, *others, *extra_subs]) + "->" + "".join(target)
    return einsum(subs, g, *(o for k, o in enumerate(operands) if k != i), *extra)


class Einsum(Function, name="einsum"):
    """numpy's ``einsum`` on any number of operands; the gradient for each operand is
    again an einsum (so it is differentiable to any order)."""

    @staticmethod
    def forward(ctx, *operands, subscripts):
        operands = [np.asarray(o) for o in operands]
        spelled, out, sizes = _parse_einsum(subscripts, [o.shape for o in operands])
        ctx.spelled, ctx.out, ctx.sizes = spelled, out, sizes
        ctx.dtype = np.result_type(*operands)
        ctx.save_for_backward(*operands)
        try:
            return np.asarray(np.einsum(",".join(spelled) + "->" + out, *operands, optimize=True))
        except ValueError as e:
            shapes = ", ".join(str(o.shape) for o in operands)
            raise ValueError(f"einsum: {subscripts!r} on shapes {shapes}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        ops = ctx.saved_tensors
        return tuple(
            _einsum_grad(i, ctx.spelled, ctx.out, ctx.sizes, g, ops, ctx.dtype) if need else None
            for i, need in enumerate(ctx.needs_input_grad)
        )

    @staticmethod
    def jvp(ctx, *tangents):
        ops = ctx.saved_tensors
        subs = ",".join(ctx.spelled) + "->" + ctx.out
        total = None
        for i, t in enumerate(tangents):
            if t is not None:
                term = einsum(subs, *ops[:i], t, *ops[i + 1:])
                total = term if total is None else total + term
        return total
