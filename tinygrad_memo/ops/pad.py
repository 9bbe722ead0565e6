"""Constant padding: the ``pad`` op, and ``pad_array``, the numpy kernel that the
convolution and pooling ops pad (and crop) with.

A negative width crops, as in PyTorch's constant mode, so the derivative of a
pad is the pad with the widths negated (zeros where the forward cropped, a crop
where it padded): ``pad`` is its own derivative rule.
"""

from __future__ import annotations

import numpy as np

from ..function import Function

__all__ = ["Pad", "first_only", "pad_array", "pad_widths"]


def pad_widths(pad, shape: tuple, op: str = "pad") -> tuple:
    """PyTorch's pad tuple ``(last_lo, last_hi, second_last_lo, ...)`` as one
    ``(lo, hi)`` pair per axis of ``shape`` (first axis first).

    >>> pad_widths((1, 2), (3, 4))
    ((0, 0), (1, 2))
    """
    try:
        pad = tuple(pad)
    except TypeError:
        raise TypeError(f"{op}: pad must be a tuple of ints, got {pad!r}") from None
    if any(isinstance(p, bool) or not isinstance(p, int | np.integer) for p in pad):
        raise TypeError(f"{op}: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"{op}: padding length must be divisible by 2, got {len(pad)} ({pad!r})")
    if len(pad) > 2 * len(shape):
        raise ValueError(
            f"{op}: padding length must be at most twice the number of dimensions of the "
            f"input, got padding length {len(pad)} for an input of shape {tuple(shape)}"
        )
    k = len(pad) // 2
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(k)][::-1]
    widths = ((0, 0),) * (len(shape) - k) + tuple(pairs)
    for axis, (size, (lo, hi)) in enumerate(zip(shape, widths)):
        if size + min(lo, 0) + min(hi, 0) < 0:  # crops come first, as in PyTorch
            raise ValueError(
                f"{op}: cropping {-min(lo, 0)} and {-min(hi, 0)} from an axis of size {size} "
                f"leaves a negative size at dimension {axis} (input shape {tuple(shape)}, pad {pad!r})"
            )
    return widths


def pad_array(a: np.ndarray, widths: tuple, value=0.0) -> np.ndarray:
    """``a`` padded with ``value`` by ``widths`` (one ``(lo, hi)`` per axis; negative
    widths crop). A new array, unless every width is zero (then ``a`` itself).

    >>> pad_array(np.ones((1, 2)), ((0, 0), (1, -1)), value=5.0)
    array([[5., 1.]])
    """
    if not any(lo or hi for lo, hi in widths):
        return a
    shape = tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, widths))
    src = tuple(slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(a.shape, widths))
    out = np.zeros(shape, a.dtype) if value == 0 else np.full(shape, value, dtype=a.dtype)
    dst = tuple(slice(max(lo, 0), n - max(hi, 0)) for n, (lo, hi) in zip(shape, widths))
    out[dst] = a[src]
    return out


def first_only(ctx, grad) -> tuple:
    """``grad`` for the first input, None for the others (constants of the op)."""
    return (grad,) + (None,) * (len(ctx.needs_input_grad) - 1)


def _negated(pad) -> tuple:
    return tuple(-int(p) for p in pad)


class Pad(Function, name="pad"):
    """Pad with a constant (PyTorch's ``F.pad`` in constant mode: the last axis first,
    negative widths crop)."""

    @staticmethod
    def forward(ctx, x, pad, value=0.0):
        if isinstance(value, str):
            raise ValueError(
                f"pad: only constant padding is offered (value must be a number, got {value!r})"
            )
        widths = pad_widths(pad, x.shape)
        ctx.pad = pad
        out = pad_array(x, widths, value)
        return out.copy() if out is x else out

    @staticmethod
    def backward(ctx, g):
        return first_only(ctx, pad(g, _negated(ctx.pad)))

    @staticmethod
    def jvp(ctx, t, *_):
        return None if t is None else pad(t, ctx.pad)


def pad(a, pad_, value=0.0):
    """Pad an array (the kernel) or a graph node (the op) by PyTorch's pad tuple."""
    if isinstance(a, np.ndarray | np.generic):
        return pad_array(a, pad_widths(pad_, np.shape(a)), value)
    return Pad.apply(a, pad_, value)
