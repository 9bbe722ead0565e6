"""Shared helpers of the Tensor test suite (no tests here).

``OPS`` is the table of every Tensor op: for each, a hypothesis draw of inputs
(shapes, broadcast pairs, axes, indices; values kept in the op's domain and off
its kinks), the op on tinygrad_memo Tensors, and the same op in PyTorch. The
finite-difference, PyTorch and higher-order tests all run over this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import tinygrad_memo as tm
from tinygrad_memo.testing import strategies as tms


def _profile_registered() -> bool:
    try:
        settings.get_profile("dev")
    except InvalidArgument:
        return False
    return True


def op_settings(n: int):
    """@settings for the per-op property tests. The example count comes from the
    profile that tests/conftest.py loads ("dev"/"ci", from HYPOTHESIS_PROFILE);
    only without such a profile is it capped at ``n`` to keep the run short."""
    kw = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow,
                                                      HealthCheck.data_too_large]}
    if not _profile_registered():
        kw["max_examples"] = n
    return settings(**kw)


def T(a, rg=True) -> tm.Tensor:
    return tm.Tensor(np.array(a, dtype=np.float64), requires_grad=rg)


# ---------------------------------------------------------------------------- values
def rng_of(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def values(rng, shape, domain="any"):
    """float64 values of ``shape`` in the op's domain, away from its kinks."""
    return np.asarray(_values(rng, shape, domain), dtype=np.float64)


def _values(rng, shape, domain):
    if domain == "any":
        return rng.uniform(-2.0, 2.0, shape)
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "offzero":  # |x| >= 0.2: away from the kinks of abs and relu, and from 1/0
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)
    if domain == "small":
        return rng.uniform(-1.0, 1.0, shape)
    if domain == "above-1":  # log1p: x >= -0.5, away from its pole at -1, where finite
        return rng.uniform(-0.5, 1.0, shape)  # differences of 1 / (1 + x) go wrong
    raise ValueError(domain)


def distinct(rng, shape):
    """Values at least 0.3 apart, shuffled: no ties anywhere (for max/min reductions)."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2) * 0.3 + rng.uniform(-0.05, 0.05, n)
    return v.reshape(shape)


def apart(rng, sa, sb):
    """Two arrays whose broadcast elements differ by at least 0.15 (for maximum/minimum)."""
    a = rng.integers(-4, 5, sa) * 0.5 + 0.1
    b = rng.integers(-4, 5, sb) * 0.5 + 0.35
    return np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)


shapes = tms.shapes(min_dims=0, max_dims=4, max_side=4)
shapes1 = tms.shapes(min_dims=1, max_dims=4, max_side=4)
pairs = tms.broadcastable_shapes(2, max_dims=4, max_side=4)


def draw_axis(draw, ndim):
    """None, an int (possibly negative) or a tuple of axes."""
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    return draw(st.one_of(*choices))


def torch_axes(axis, ndim):
    """The torch ``dim`` for a numpy ``axis`` (torch reads dim=() as 'all axes')."""
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


# ----------------------------------------------------------------------- the op table
@dataclass
class Op:
    name: str
    draw: object  # draw(draw) -> (list of float64 arrays, kwargs)
    fn: object  # fn(*tensors, **kw) -> Tensor        (tinygrad_memo)
    tfn: object = None  # tfn(*torch_tensors, **kw)  (PyTorch), None if no equivalent
    marks: list = field(default_factory=list)

    def __repr__(self):
        return self.name


def unary(name, method, tmethod=None, domain="any"):
    def draw(d):
        rng = rng_of(d)
        return [values(rng, d(shapes), domain)], {}

    tmethod = tmethod or method
    return Op(name, draw, lambda x: getattr(x, method)(), lambda x: getattr(x, tmethod)())


def binary(name, f, da="any", db="any"):
    def draw(d):
        rng = rng_of(d)
        sa, sb = d(pairs).input_shapes
        return [values(rng, sa, da), values(rng, sb, db)], {}

    return Op(name, draw, f, f)


def scalar_op(name, f, domain="any"):
    """An op with a plain number on one side."""
    def draw(d):
        rng = rng_of(d)
        return [values(rng, d(shapes), domain)], {}

    return Op(name, draw, f, f)


def _reduce(name, method, tname, distinct_values=False):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        x = distinct(rng, shape) if distinct_values else values(rng, shape)
        return [x], {"axis": draw_axis(d, len(shape)), "keepdims": d(st.booleans())}

    def fn(x, axis, keepdims):
        return getattr(x, method)(axis=axis, keepdims=keepdims)

    def tfn(x, axis, keepdims):
        dims = torch_axes(axis, x.ndim)
        if not dims:
            return x * 1
        import torch

        return getattr(torch, tname)(x, dim=dims, keepdim=keepdims)

    return Op(name, draw, fn, tfn)


def _softmax(name, method):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        return [values(rng, shape) * 2], {"axis": d(st.integers(-len(shape), len(shape) - 1))}

    return Op(name, draw, lambda x, axis: getattr(x, method)(axis=axis),
              lambda x, axis: getattr(x, method)(dim=axis))


def _matmul():
    def draw(d):
        rng = rng_of(d)
        s = d(tms.matmul_shapes(max_dims=2, max_side=4))
        sa, sb = s.input_shapes
        return [values(rng, sa), values(rng, sb)], {}

    return Op("matmul", draw, lambda a, b: a @ b, lambda a, b: a @ b)


def _reshape():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        new = list(d(st.permutations(list(shape))))
        new = new + [1] * d(st.integers(0, 1))  # maybe an extra unit axis
        if new and d(st.booleans()):
            new[d(st.integers(0, len(new) - 1))] = -1
        return [values(rng, shape)], {"shape": tuple(new)}

    return Op("reshape", draw, lambda x, shape: x.reshape(*shape),
              lambda x, shape: x.reshape(shape))


def _transpose():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        axes = list(d(st.permutations(range(len(shape)))))
        axes = [a - len(shape) if d(st.booleans()) else a for a in axes]  # some negative
        return [values(rng, shape)], {"axes": tuple(axes)}

    return Op("transpose", draw, lambda x, axes: x.transpose(*axes),
              lambda x, axes: x.permute(axes))


def _T():
    def draw(d):
        rng = rng_of(d)
        return [values(rng, d(shapes))], {}

    return Op("T", draw, lambda x: x.T, lambda x: x.permute(tuple(reversed(range(x.ndim)))))


def _flatten():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        n = len(shape)
        start = d(st.integers(0, n - 1))
        end = d(st.integers(start, n - 1))
        if d(st.booleans()):
            end -= n  # negative end_dim
        return [values(rng, shape)], {"start": start, "end": end}

    return Op("flatten", draw, lambda x, start, end: x.flatten(start, end),
              lambda x, start, end: x.flatten(start, end))


def _expand():
    def draw(d):
        rng = rng_of(d)
        target = d(shapes)
        lead = d(st.integers(0, len(target)))
        src = tuple(1 if d(st.booleans()) else s for s in target[lead:])
        return [values(rng, src)], {"shape": target}

    def tfn(x, shape):
        import torch

        return torch.broadcast_to(x, shape)

    return Op("expand", draw, lambda x, shape: x.expand(*shape), tfn)


def gather_equivalent(x, index, shape):
    """``x[index]`` for any numpy index, in torch: gather through a numpy index map.

    torch's own indexing differs from numpy's (no negative steps, other rules for
    mixed advanced indices), so the oracle picks the same elements by position."""
    import torch

    pos = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[index]
    return x.reshape(-1)[torch.as_tensor(pos.copy()).reshape(-1)].reshape(pos.shape)


def _getitem(kind):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        if kind == "basic":
            index = d(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
        elif kind == "intarray":
            n = shape[0]
            k = d(st.integers(1, 6))
            idx = rng.integers(-n, n, k)
            idx = np.concatenate([idx, idx[:1]])  # at least one repeated index
            form = d(st.sampled_from(["first", "second", "pair", "nd"]))
            if form == "second" and len(shape) > 1:
                index = (slice(None), rng.integers(0, shape[1], k + 1))
            elif form == "pair" and len(shape) > 1:
                index = (idx, rng.integers(-shape[1], shape[1], k + 1))
            elif form == "nd":
                index = idx.reshape(1, -1).repeat(2, axis=0)  # a 2-d index array
            else:
                index = idx
        else:  # boolean mask over the whole array, or over the first axis
            if d(st.booleans()):
                index = rng.random(shape) < 0.5
            else:
                index = rng.random(shape[:1]) < 0.5
        return [values(rng, shape)], {"index": index, "shape": shape}

    return Op(f"getitem_{kind}", draw, lambda x, index, shape: x[index],
              lambda x, index, shape: gather_equivalent(x, index, shape))


def _join(name):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        k = d(st.integers(1, 3))
        if name == "concatenate":
            axis = d(st.integers(-len(shape), len(shape) - 1))
            arrs = []
            for _ in range(k):
                s = list(shape)
                s[axis] = d(st.integers(1, 3))
                arrs.append(values(rng, tuple(s)))
        else:
            axis = d(st.integers(-len(shape) - 1, len(shape)))
            arrs = [values(rng, shape) for _ in range(k)]
        return arrs, {"axis": axis}

    def fn(*xs, axis):
        return getattr(tm, name)(list(xs), axis=axis)

    def tfn(*xs, axis):
        import torch

        return (torch.cat if name == "concatenate" else torch.stack)(list(xs), dim=axis)

    return Op(name, draw, fn, tfn)


def _where():
    def draw(d):
        rng = rng_of(d)
        sc, sa, sb = d(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                         max_side=4)).input_shapes
        return [values(rng, sa), values(rng, sb)], {"cond": rng.random(sc) < 0.5}

    def tfn(a, b, cond):
        import torch

        return torch.where(torch.as_tensor(cond), a, b)

    return Op("where", draw, lambda a, b, cond: tm.where(cond, a, b), tfn)


def _extremum(name):
    def draw(d):
        rng = rng_of(d)
        sa, sb = d(pairs).input_shapes
        return list(apart(rng, sa, sb)), {}

    def tfn(a, b):
        import torch

        return getattr(torch, name)(a, b)

    return Op(name, draw, lambda a, b: getattr(tm, name)(a, b), tfn)


OPS = [
    binary("add", lambda a, b: a + b),
    binary("sub", lambda a, b: a - b),
    binary("mul", lambda a, b: a * b),
    binary("div", lambda a, b: a / b, db="offzero"),
    binary("pow_tensor", lambda a, b: a ** b, da="pos"),
    scalar_op("radd", lambda x: 1.5 + x),
    scalar_op("add_number", lambda x: x + 1.5),
    scalar_op("rsub", lambda x: 1.5 - x),
    scalar_op("sub_number", lambda x: x - 1.5),
    scalar_op("rmul", lambda x: 2.5 * x),
    scalar_op("mul_number", lambda x: x * -2.5),
    scalar_op("rdiv", lambda x: 2.0 / x, "offzero"),
    scalar_op("div_number", lambda x: x / 4.0),
    scalar_op("pow_2", lambda x: x ** 2),
    scalar_op("pow_3", lambda x: x ** 3),
    scalar_op("pow_minus_1", lambda x: x ** -1, "offzero"),
    scalar_op("pow_half", lambda x: x ** 0.5, "pos"),
    scalar_op("pow_minus_1_5", lambda x: x ** -1.5, "pos"),
    scalar_op("rpow", lambda x: 2.0 ** x),
    scalar_op("rpow_half", lambda x: 0.5 ** x),
    _matmul(),
    scalar_op("neg", lambda x: -x),
    Op("abs", unary("abs", "abs", domain="offzero").draw, lambda x: abs(x), lambda x: abs(x)),
    unary("abs_method", "abs", domain="offzero"),
    unary("exp", "exp"),
    unary("log", "log", domain="pos"),
    unary("sqrt", "sqrt", domain="pos"),
    unary("tanh", "tanh"),
    unary("relu", "relu", domain="offzero"),
    unary("sigmoid", "sigmoid"),
    _reduce("sum", "sum", "sum"),
    _reduce("mean", "mean", "mean"),
    _reduce("max", "max", "amax", distinct_values=True),
    _reduce("min", "min", "amin", distinct_values=True),
    _softmax("softmax", "softmax"),
    _softmax("log_softmax", "log_softmax"),
    _reshape(),
    _transpose(),
    _T(),
    _flatten(),
    _expand(),
    _getitem("basic"),
    _getitem("intarray"),
    _getitem("bool"),
    _join("concatenate"),
    _join("stack"),
    _where(),
    _extremum("maximum"),
    _extremum("minimum"),
]

def _torch_f(name):
    def f(x, *args, **kw):
        import torch.nn.functional as TF

        return getattr(TF, name)(x, *args, **kw)
    return f


def _op(name, fn, tfn, domain="any"):
    """An op given as two functions of one input (with its arguments bound)."""
    return Op(name, unary(name, name, domain=domain).draw, fn, tfn)


#: the elementwise ops of issue 12 (their Value methods come from the same registry)
ELEMENTWISE12 = [
    unary("sin", "sin"),
    unary("cos", "cos"),
    unary("square", "square"),
    unary("log1p", "log1p", domain="above-1"),
    unary("tan", "tan", domain="small"),
    unary("reciprocal", "reciprocal", domain="offzero"),
    unary("rsqrt", "rsqrt", domain="pos"),
    unary("expm1", "expm1"),
    unary("log2", "log2", domain="pos"),
    unary("log10", "log10", domain="pos"),
    unary("exp2", "exp2"),
    unary("sign", "sign"),
    unary("floor", "floor"),
    unary("ceil", "ceil"),
    _op("clip", lambda x: x.clip(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7)),
    _op("clip_hi", lambda x: x.clip(hi=0.3), lambda x: x.clamp(max=0.3)),
    _op("clip_lo", lambda x: x.clip(-0.2), lambda x: x.clamp(min=-0.2)),
    _op("hardtanh", lambda x: x.hardtanh(), _torch_f("hardtanh")),
    _op("hardtanh_args", lambda x: x.hardtanh(-0.3, max_val=1.1),
        lambda x: _torch_f("hardtanh")(x, -0.3, max_val=1.1)),
    _op("relu6", lambda x: (x * 4).relu6(), lambda x: _torch_f("relu6")(x * 4)),
    _op("elu", lambda x: x.elu(), _torch_f("elu")),
    _op("elu_alpha", lambda x: x.elu(alpha=0.7), lambda x: _torch_f("elu")(x, alpha=0.7)),
    _op("hardswish", lambda x: (x * 2).hardswish(), lambda x: _torch_f("hardswish")(x * 2)),
    _op("mish", lambda x: (x * 2).mish(), lambda x: _torch_f("mish")(x * 2)),
    _op("softsign", lambda x: x.softsign(), _torch_f("softsign")),
    unary("erf", "erf"),
    _op("leaky_relu", lambda x: x.leaky_relu(), _torch_f("leaky_relu")),
    _op("leaky_relu_slope", lambda x: x.leaky_relu(0.3), lambda x: _torch_f("leaky_relu")(x, 0.3)),
    _op("gelu", lambda x: (x * 2).gelu(), lambda x: _torch_f("gelu")(x * 2)),
    _op("gelu_tanh", lambda x: (x * 2).gelu("tanh"),
        lambda x: _torch_f("gelu")(x * 2, approximate="tanh")),
    _op("silu", lambda x: (x * 2).silu(), lambda x: _torch_f("silu")(x * 2)),
    _op("softplus", lambda x: (x * 2).softplus(), lambda x: _torch_f("softplus")(x * 2)),
    _op("softplus_args", lambda x: (x * 2).softplus(beta=2.0, threshold=2.0),
        lambda x: _torch_f("softplus")(x * 2, beta=2.0, threshold=2.0)),
]
OPS += ELEMENTWISE12


# -- reductions, scans and shape ops of issue 12 ---------------------------------------------
def _torch():
    import torch

    return torch


def _axis_arg(d, ndim, allow_none=True, allow_tuple=True):
    """None, an int (maybe negative) or a non-empty tuple of axes."""
    choices = [st.integers(-ndim, ndim - 1)] if ndim else []
    if allow_none or not ndim:
        choices.append(st.none())
    if allow_tuple and ndim:
        choices.append(hnp.valid_tuple_axes(ndim, min_size=1))
    return d(st.one_of(*choices))


def _count(shape, axis):
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    return int(np.prod([shape[a] for a in axes]))


def _moments(name):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        axis = _axis_arg(d, len(shape))
        n = _count(shape, axis)
        ddof = d(st.sampled_from([0, 1] if n >= 3 else [0]))
        if name == "std" and n < 2:  # std's gradient at a zero std is nan (as PyTorch's)
            shape, axis = shape + (2,), None
        return [values(rng, shape)], {"axis": axis, "keepdims": d(st.booleans()), "ddof": ddof}

    def fn(x, axis, keepdims, ddof):
        return getattr(x, name)(axis=axis, keepdims=keepdims, ddof=ddof)

    def tfn(x, axis, keepdims, ddof):
        return getattr(_torch(), name)(x, dim=torch_axes(axis, x.ndim), keepdim=keepdims,
                                       correction=ddof)

    return Op(name, draw, fn, tfn)


def _prod():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        x = values(rng, shape)
        zeros = d(st.integers(0, 2))
        x.reshape(-1)[rng.integers(0, x.size, zeros)] = 0.0  # 0, 1 or 2 zeros
        return [x], {"axis": _axis_arg(d, len(shape)), "keepdims": d(st.booleans())}

    def tfn(x, axis, keepdims):
        if x.ndim == 0:
            return x * 1
        for a in sorted((a % x.ndim for a in torch_axes(axis, x.ndim)), reverse=True):
            x = x.prod(dim=a, keepdim=keepdims)
        return x

    return Op("prod", draw, lambda x, axis, keepdims: x.prod(axis=axis, keepdims=keepdims), tfn)


def _logsumexp():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        return [np.asarray(values(rng, shape) * 3)], {"axis": _axis_arg(d, len(shape)),
                                           "keepdims": d(st.booleans())}

    def tfn(x, axis, keepdims):
        return _torch().logsumexp(x, dim=torch_axes(axis, x.ndim), keepdim=keepdims)

    return Op("logsumexp", draw, lambda x, axis, keepdims: x.logsumexp(axis, keepdims), tfn)


def _with_axis(name, fn, tfn, axis_kw=None, shape_st=shapes, **axis_opts):
    """An op of one tensor and an axis argument drawn by _axis_arg."""
    def draw(d):
        rng = rng_of(d)
        shape = d(shape_st)
        return [values(rng, shape)], {"axis": _axis_arg(d, len(shape), **axis_opts)}

    return Op(name, draw, fn, tfn)


def _cumsum_torch(x, axis):
    if axis is None:
        return x.reshape(-1).cumsum(0)
    return x.cumsum(axis)


def _unsqueeze():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        return [values(rng, shape)], {"axis": d(st.integers(-len(shape) - 1, len(shape)))}

    return Op("unsqueeze", draw, lambda x, axis: x.unsqueeze(axis),
              lambda x, axis: x.unsqueeze(axis))


def _squeeze():
    def draw(d):
        rng = rng_of(d)
        shape = list(d(shapes1))
        for i in d(st.lists(st.integers(0, len(shape) - 1), max_size=2)):
            shape[i] = 1
        ones = [i for i, n in enumerate(shape) if n == 1]
        axis = d(st.sampled_from([None] + ones + [i - len(shape) for i in ones]))
        return [values(rng, tuple(shape))], {"axis": axis}

    def tfn(x, axis):
        return x.squeeze() if axis is None else x.squeeze(axis)

    return Op("squeeze", draw, lambda x, axis: x.squeeze(axis), tfn)


def _repeat():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        axis = d(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
        n = int(np.prod(shape)) if axis is None else shape[axis]
        reps = d(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
        return [values(rng, shape)], {"repeats": reps, "axis": axis}

    def tfn(x, repeats, axis):
        r = repeats if isinstance(repeats, int) else _torch().tensor(repeats)
        return _torch().repeat_interleave(x, r, dim=axis)

    return Op("repeat", draw, lambda x, repeats, axis: x.repeat(repeats, axis=axis), tfn)


def _tile():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes)
        reps = tuple(d(st.lists(st.integers(1, 3), min_size=1, max_size=len(shape) + 1)))
        return [values(rng, shape)], {"reps": reps}

    def tfn(x, reps):
        return x.repeat(*((1,) * (x.ndim - len(reps)) + reps))

    return Op("tile", draw, lambda x, reps: x.tile(*reps), tfn)


def _roll():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        axis = d(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                           hnp.valid_tuple_axes(len(shape), min_size=1)))
        if isinstance(axis, tuple):
            shift = tuple(d(st.integers(-5, 5)) for _ in axis)
        else:
            shift = d(st.integers(-5, 5))
        return [values(rng, shape)], {"shift": shift, "axis": axis}

    def tfn(x, shift, axis):
        return _torch().roll(x, shift, axis)

    return Op("roll", draw, lambda x, shift, axis: x.roll(shift, axis), tfn)


def _parts(name):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        axis = d(st.integers(-len(shape), len(shape) - 1))
        n = shape[axis]
        if name == "chunk":
            arg = d(st.integers(1, n + 1))
        elif d(st.booleans()):
            arg = d(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
        else:
            arg = sorted(d(st.lists(st.integers(0, n), max_size=3)))
        return [values(rng, shape)], {"arg": arg, "axis": axis}

    def fn(x, arg, axis):
        parts = getattr(x, name)(arg, axis=axis)
        return tm.concatenate([p * (i + 1.0) for i, p in enumerate(parts)], axis=axis)

    def tfn(x, arg, axis):
        torch = _torch()
        if name == "chunk":
            parts = torch.chunk(x, arg, dim=axis)
        elif isinstance(arg, int):
            parts = torch.split(x, x.shape[axis] // arg, dim=axis)
        else:
            bounds = [0, *arg, x.shape[axis]]
            parts = torch.split(x, [max(0, b - a) for a, b in zip(bounds, bounds[1:])], dim=axis)
        return torch.cat([p * (i + 1.0) for i, p in enumerate(parts)], dim=axis)

    return Op(name, draw, fn, tfn)


shapes2 = tms.shapes(min_dims=2, max_dims=4, max_side=4)


def _triangle(name):
    def draw(d):
        rng = rng_of(d)
        return [values(rng, d(shapes2))], {"k": d(st.integers(-3, 3))}

    return Op(name, draw, lambda x, k: getattr(x, name)(k),
              lambda x, k: getattr(_torch(), name)(x, diagonal=k))


def _diagonal(name):
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes2)
        a1, a2 = d(st.permutations(range(len(shape))))[:2]
        a1 -= len(shape) * d(st.integers(0, 1))
        return [values(rng, shape)], {"offset": d(st.integers(-2, 2)), "axis1": a1, "axis2": a2}

    def tfn(x, offset, axis1, axis2):
        out = _torch().diagonal(x, offset, axis1, axis2)
        return out.sum(-1) if name == "trace" else out

    return Op(name, draw, lambda x, **kw: getattr(x, name)(**kw), tfn)


def _gather():
    def draw(d):
        rng = rng_of(d)
        shape = d(shapes1)
        axis = d(st.integers(-len(shape), len(shape) - 1))
        ishape = tuple(d(st.integers(1, 4)) if i == axis % len(shape) else d(st.integers(1, s))
                       for i, s in enumerate(shape))
        index = rng.integers(0, shape[axis], ishape)
        return [values(rng, shape)], {"axis": axis, "index": index}

    return Op("gather", draw, lambda x, axis, index: x.gather(axis, index),
              lambda x, axis, index: _torch().gather(x, axis, _torch().as_tensor(index)))


#: the reductions, scans and shape ops of issue 12
SHAPE12 = [
    _moments("var"),
    _moments("std"),
    _prod(),
    _logsumexp(),
    _with_axis("cumsum", lambda x, axis: x.cumsum(axis), _cumsum_torch, allow_tuple=False),
    _unsqueeze(),
    _squeeze(),
    Op("permute", _transpose().draw, lambda x, axes: x.permute(*axes),
       lambda x, axes: x.permute(axes)),
    _with_axis("flip", lambda x, axis: x.flip(axis),
               lambda x, axis: _torch().flip(x, torch_axes(axis, x.ndim))),
    _repeat(),
    _tile(),
    _roll(),
    _parts("split"),
    _parts("chunk"),
    _triangle("tril"),
    _triangle("triu"),
    _diagonal("diagonal"),
    _diagonal("trace"),
    _gather(),
]
OPS += SHAPE12

OP_IDS = [o.name for o in OPS]


# ------------------------------------------------------------------ gradient oracles
def tm_grads(op, arrays, kw, w, dtype=np.float64):
    """Output and input gradients of ``op`` for upstream gradient ``w``, by tinygrad_memo."""
    xs = [tm.Tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays]
    out = op.fn(*xs, **kw)
    out.backward(np.asarray(w, dtype=dtype))
    return out.data, [x.grad for x in xs]


def fd_grads(op, arrays, kw, w, eps=1e-6):
    """Central finite differences in float64 of  sum(op(arrays) * w)."""

    def f(arrs):
        with tm.no_grad():
            out = op.fn(*[tm.Tensor(a, dtype=np.float64) for a in arrs], **kw)
        return float(np.sum(out.data * w))

    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            arrs = [x.copy() for x in arrays]
            arrs[i][j] = a[j] + eps
            up = f(arrs)
            arrs[i][j] = a[j] - eps
            down = f(arrs)
            g[j] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def torch_grads(op, arrays, kw, w):
    import torch

    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = op.tfn(*xs, **kw)
    out.backward(torch.as_tensor(np.asarray(w, dtype=np.float64)))
    return out.detach().numpy(), [
        np.zeros(a.shape) if x.grad is None else x.grad.numpy() for a, x in zip(arrays, xs)
    ]


def upstream(rng, shape, dtype=np.float64):
    """A random, non-uniform upstream gradient."""
    return rng.normal(size=shape).astype(dtype)


def nudge(arrays, i):
    """New data of the same shapes: a smooth change that keeps the recipe's domains
    (its logs and divisions only see a * a + c), and never the old data: every element
    moves up (``a * 1.03 + 0.01`` would leave -1/3 where it is, and an argument equal
    in both recordings must stay equal to be replayed)."""
    return [a + 0.01 * (i + 1) * (1.0 + np.abs(a)) for a in arrays]
