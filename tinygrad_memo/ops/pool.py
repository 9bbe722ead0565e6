"""2-D pooling: max and average over windows, and the pair of linear ops their
derivatives are made of.

Both pools are linear in their input once the pooling weights are fixed: an
average pool weighs every tap of a window by ``1 / (kh * kw)`` (padding included,
PyTorch's ``count_include_pad=True``); a max pool weighs the window's maximum by 1,
or ties by ``1 / (number of ties)`` (ties share the gradient, as ``max`` does).
So the backward of a pool is ``window_scatter`` (each output's gradient times the
weights, added back into its window) and the backward of that is ``window_sum``
(each window's taps times the weights, summed): two ops that are each other's
derivative, so pooled nets can be differentiated twice. The forward-mode rule of
each is the linear op on the tangent.
"""

from __future__ import annotations

import numpy as np

from ..function import Function
from .conv import Geometry, pair, scatter_windows, windows
from .pad import first_only, pad_array

__all__ = ["AvgPool2d", "MaxPool2d", "WindowScatter", "WindowSum"]


def pool_geometry(op: str, x, kernel_size, stride, padding) -> tuple:
    """Check a pool's arguments (errors name the op and the shapes): (geometry, kernel, out_hw)."""
    if np.ndim(x) != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {np.shape(x)}")
    kernel = pair(kernel_size, "kernel_size", op)
    s = kernel if stride is None or stride == () else pair(stride, "stride", op)
    p = pair(padding, "padding", op, minimum=0)
    if any(2 * pp > k for pp, k in zip(p, kernel)):
        raise ValueError(f"{op}: padding should be at most half of the kernel size, got "
                         f"padding={padding!r} and kernel_size={kernel_size!r}")
    out_hw = tuple((n + 2 * pp - k) // ss + 1 for n, pp, k, ss in zip(x.shape[2:], p, kernel, s))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: input of shape {x.shape} is too small for kernel_size "
                         f"{kernel_size!r} with padding {padding!r} (output size {out_hw[0]} x {out_hw[1]})")
    return Geometry(s, ((p[0], p[0]), (p[1], p[1])), (1, 1)), kernel, out_hw


def _taps(x, kernel, g, out_hw, fill=0.0) -> list:
    """The taps of the windows of ``x`` padded with ``fill``: for each kernel element
    (row-major), the strided (N, C, OH, OW) view of what it sees. A pool is a loop over
    the kh * kw taps, each an elementwise numpy op (no reduction over strided axes)."""
    xp = pad_array(x, ((0, 0), (0, 0)) + g.padding, fill)
    win = windows(xp, kernel, g, out_hw)
    return [win[:, :, :, :, a, b] for a in range(kernel[0]) for b in range(kernel[1])]


def window_sum_array(x, weight, kernel, g, out_hw):
    """Each window's taps times ``weight`` (a number, or (kh * kw, N, C, OH, OW)), summed."""
    taps = _taps(x, kernel, g, out_hw)
    if np.ndim(weight) == 0:
        out = taps[0].copy()
        for t in taps[1:]:
            out += t
        out *= weight
        return out
    out = taps[0] * weight[0]
    for t, w in zip(taps[1:], weight[1:]):
        out += t * w
    return out


def window_scatter_array(gy, weight, kernel, g, in_hw):
    """Each entry of ``gy`` times the weights of its window's taps, added into the window."""
    n, c, oh, ow = gy.shape
    cols = gy * weight
    cols = np.broadcast_to(cols, (kernel[0] * kernel[1],) + gy.shape).reshape(kernel + gy.shape)
    padded = tuple(m + lo + hi for m, (lo, hi) in zip(in_hw, g.padding))
    return scatter_windows(cols, (n, c) + padded, g)


def _arrays(*xs) -> bool:
    return all(isinstance(a, np.ndarray | np.generic) for a in xs)


def window_sum(x, weight, kernel, g, out_hw):
    if _arrays(x):
        return window_sum_array(x, weight, kernel, g, out_hw)
    return WindowSum.apply(x, weight, kernel, g.stride, g.padding)


def window_scatter(gy, weight, kernel, g, in_hw):
    if _arrays(gy):
        return window_scatter_array(gy, weight, kernel, g, in_hw)
    return WindowScatter.apply(gy, weight, kernel, g.stride, g.padding, in_hw)


class _Gathering(Function):
    """An op linear in its first input through ``ctx.pool`` = (weights, kernel, geometry,
    input size, output size): its derivative scatters, its forward-mode rule gathers."""

    @staticmethod
    def backward(ctx, gy):
        weight, kernel, g, in_hw, _ = ctx.pool
        return first_only(ctx, window_scatter(gy, weight, kernel, g, in_hw))

    @staticmethod
    def jvp(ctx, t, *_):
        weight, kernel, g, _, out_hw = ctx.pool
        return None if t is None else window_sum(t, weight, kernel, g, out_hw)


class WindowSum(_Gathering, name="window_sum"):
    """Each window of ``x`` (zero padding), its taps times ``weight`` (a number, or one
    weight per tap, of shape (kh * kw, N, C, OH, OW)), summed: the derivative of
    :class:`WindowScatter`."""

    @staticmethod
    def forward(ctx, x, weight, kernel_size, stride, padding):
        g = Geometry(stride, padding, (1, 1))
        out_hw = tuple((n + lo + hi - k) // s + 1 for n, (lo, hi), k, s
                       in zip(x.shape[2:], padding, kernel_size, stride))
        ctx.pool = (weight, kernel_size, g, x.shape[2:], out_hw)
        return window_sum_array(x, weight, kernel_size, g, out_hw)


class WindowScatter(Function, name="window_scatter"):
    """The gradient of a pool: each entry of ``gy`` times ``weight``, added back into its
    window of an input of size ``input_size`` (padding removed): the derivative of
    :class:`WindowSum`."""

    @staticmethod
    def forward(ctx, gy, weight, kernel_size, stride, padding, input_size):
        g = Geometry(stride, padding, (1, 1))
        ctx.pool = (weight, kernel_size, g, tuple(input_size), gy.shape[2:])
        return window_scatter_array(gy, weight, kernel_size, g, input_size)

    @staticmethod
    def backward(ctx, h):
        weight, kernel, g, _, out_hw = ctx.pool
        return first_only(ctx, window_sum(h, weight, kernel, g, out_hw))

    @staticmethod
    def jvp(ctx, t, *_):
        weight, kernel, g, in_hw, _ = ctx.pool
        return None if t is None else window_scatter(t, weight, kernel, g, in_hw)


class MaxPool2d(_Gathering, name="max_pool2d"):
    """The maximum of each window of ``x`` (N, C, H, W), padded with -inf; tied maxima
    share the gradient equally (PyTorch's max_pool2d gives it all to one of them)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0):
        g, kernel, out_hw = pool_geometry("max_pool2d", x, kernel_size, stride, padding)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        taps = _taps(x, kernel, g, out_hw, fill)
        stacked = np.stack(taps)  # (kh * kw, N, C, OH, OW)
        out = stacked.max(axis=0)
        hit = stacked == out
        count = hit.sum(axis=0, dtype=np.int32)
        if not count.all():  # a window holding nan: its gradient goes to the nan
            hit |= np.isnan(stacked)
            count = hit.sum(axis=0, dtype=np.int32)
        weight = hit.astype(x.dtype if x.dtype.kind == "f" else np.float64)
        if (count > 1).any():
            weight /= count
        ctx.pool = (weight, kernel, g, x.shape[2:], out_hw)
        return out


class AvgPool2d(_Gathering, name="avg_pool2d"):
    """The mean of each window of ``x`` (N, C, H, W), zero padding counted
    (PyTorch's default ``count_include_pad=True``)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0):
        g, kernel, out_hw = pool_geometry("avg_pool2d", x, kernel_size, stride, padding)
        ctx.pool = (1.0 / (kernel[0] * kernel[1]), kernel, g, x.shape[2:], out_hw)
        return window_sum_array(x, ctx.pool[0], kernel, g, out_hw)
