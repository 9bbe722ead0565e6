"""2-D convolution as three ops, each the others' derivative rule.

For a stride ``s``, dilation ``d`` and padding, a convolution ``y = conv(x, w)``,
its transpose and its weight gradient are the three partial derivatives of one
form that is linear in each of ``x``, ``w`` and ``y`` (within each group)::

    T(x, w, y) = sum x_padded[n, c, s*i + d*a, s*j + d*b] * w[o, c, a, b] * y[n, o, i, j]

so ``conv2d(x, w)`` = dT/dy, ``conv_transpose2d(y, w)`` = dT/dx (the input
gradient) and ``conv2d_weight(x, y)`` = dT/dw (the weight gradient). The
backward rule of each is the other two, called as ops on graph nodes under
``create_graph`` (so a gradient through a convolution can be differentiated
again) and as their numpy kernels in the ordinary pass. The forward-mode rule
of each is the op itself on the tangents (it is linear in each input).

The kernels are numpy's strided windows (``sliding_window_view``) copied once
into columns and multiplied by BLAS (``matmul``); the transpose scatters its
columns back with one strided slice-add per kernel element. No loop runs over
output positions.

Padding is held per side, ``((top, bottom), (left, right))``; a negative amount
crops. The transpose's "padding" is what it crops from its output (PyTorch's
``padding`` and ``output_padding`` in one: ``(p, p - output_padding)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..function import Function
from .pad import pad_array

__all__ = ["Conv2d", "Conv2dWeight", "ConvTranspose2d", "Geometry", "pair", "windows"]


class Geometry(NamedTuple):
    """Stride, per-side padding, dilation and groups of a 2-D window op (normalised)."""

    stride: tuple
    padding: tuple  # ((top, bottom), (left, right)); negative crops
    dilation: tuple
    groups: int = 1

    def kwargs(self) -> dict:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                "groups": self.groups}


def pair(v, name: str, op: str, minimum: int = 1) -> tuple:
    """An int or a pair of ints (each at least ``minimum``) as a pair.

    >>> pair(2, "stride", "conv2d"), pair((1, 3), "stride", "conv2d")
    ((2, 2), (1, 3))
    """
    items = tuple(v) if isinstance(v, tuple | list) else (v, v)
    if len(items) != 2 or any(
        isinstance(i, bool) or not isinstance(i, int | np.integer) or i < minimum for i in items
    ):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints >= {minimum}, got {v!r}")
    return int(items[0]), int(items[1])


def sides(padding, op: str, kernel=None, dilation=(1, 1), stride=(1, 1)) -> tuple:
    """Padding as ``((top, bottom), (left, right))``: from an int, a pair, a per-side
    pair of pairs (as given), or (with a ``kernel``) PyTorch's ``"valid"`` and ``"same"``."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same" and kernel is not None:
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride {stride})")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        choices = "'valid', 'same'" if kernel is not None else "no string"
        raise ValueError(f"{op}: padding must be an int, a pair of ints or {choices}, got {padding!r}")
    if isinstance(padding, tuple | list) and len(padding) == 2 and all(
        isinstance(p, tuple | list) for p in padding
    ):
        flat = [q for p in padding for q in p]
        if len(flat) == 4 and all(isinstance(q, int | np.integer) and not isinstance(q, bool)
                                  for q in flat):
            return (int(flat[0]), int(flat[1])), (int(flat[2]), int(flat[3]))
        raise ValueError(f"{op}: per-side padding must be ((top, bottom), (left, right)), got {padding!r}")
    ph, pw = pair(padding, "padding", op, minimum=0)
    return (ph, ph), (pw, pw)


def extent(n_out: int, k: int, s: int, d: int) -> int:
    """How many input rows ``n_out`` windows of ``k`` taps (stride ``s``, dilation ``d``) span."""
    return (n_out - 1) * s + (k - 1) * d + 1


def out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    """The number of windows along an axis (0 when the kernel does not fit)."""
    span = size + lo + hi - (k - 1) * d
    return 0 if span < 1 else (span - 1) // s + 1


def windows(xp: np.ndarray, kernel: tuple, g: Geometry, out_hw: tuple) -> np.ndarray:
    """The ``(N, C, OH, OW, kh, kw)`` view of the windows of an already padded ``xp``."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, g.stride, g.dilation
    v = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    oh, ow = out_hw
    return v[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, ::dh, ::dw]


def scatter_windows(cols: np.ndarray, shape: tuple, g: Geometry) -> np.ndarray:
    """The adjoint of :func:`windows`: ``cols`` of shape ``(kh, kw, N, C, OH, OW)`` (tap
    by tap) added into zeros of the padded ``shape``, one strided slice-add per kernel
    element (or one transposed copy when the windows tile the input exactly), then the
    padding removed."""
    kh, kw, n, c, oh, ow = cols.shape
    (sh, sw), (dh, dw) = g.stride, g.dilation
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1) and shape[2:] == (oh * kh, ow * kw):
        buf = np.empty((n, c, oh, kh, ow, kw), dtype=cols.dtype)
        buf[...] = cols.transpose(2, 3, 4, 0, 5, 1)
        buf = buf.reshape(shape)
    else:
        buf = np.zeros(shape, dtype=cols.dtype)
        for a in range(kh):
            rows = slice(a * dh, a * dh + (oh - 1) * sh + 1, sh)
            for b in range(kw):
                buf[:, :, rows, b * dw : b * dw + (ow - 1) * sw + 1 : sw] += cols[a, b]
    (t, bo), (le, r) = g.padding
    return pad_array(buf, ((0, 0), (0, 0), (-t, -bo), (-le, -r)))


def _columns(x: np.ndarray, kernel: tuple, g: Geometry, out_hw: tuple) -> np.ndarray:
    """The windows of ``x`` (padded by ``g``) as columns ``(N, G, C/G * kh * kw, OH * OW)``."""
    n, c = x.shape[:2]
    xp = pad_array(x, ((0, 0), (0, 0)) + g.padding)
    win = windows(xp, kernel, g, out_hw).transpose(0, 1, 4, 5, 2, 3)
    return win.reshape(n, g.groups, (c // g.groups) * kernel[0] * kernel[1], out_hw[0] * out_hw[1])


def _out_hw(x_shape, kernel, g) -> tuple:
    return tuple(out_size(n, lo, hi, k, s, d) for n, (lo, hi), k, s, d
                 in zip(x_shape[2:], g.padding, kernel, g.stride, g.dilation))


#: A batch is processed in chunks of images whose columns (the copied windows) take
#: about this many bytes, so that they are still in cache when the product reads them.
CHUNK_BYTES = 1 << 20


def _by_chunks(f, arrays: tuple, per_image: int, add: bool = False):
    """``f(*arrays)``, computed on chunks of the batch (the first axis of each array) of
    at most :data:`CHUNK_BYTES` of columns; the results joined (or summed, ``add``)."""
    n = arrays[0].shape[0]
    k = max(1, CHUNK_BYTES // max(per_image, 1))
    if k >= n:
        return f(*arrays)
    parts = [f(*(a[i : i + k] for a in arrays)) for i in range(0, n, k)]
    if not add:
        return np.concatenate(parts)
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def conv_array(x: np.ndarray, w: np.ndarray, g: Geometry) -> np.ndarray:
    """The convolution kernel (cross-correlation, as in PyTorch), without bias."""
    out_hw = _out_hw(x.shape, w.shape[2:], g)
    per_image = x.shape[1] * w.shape[2] * w.shape[3] * out_hw[0] * out_hw[1] * x.itemsize
    return _by_chunks(lambda x: _conv_chunk(x, w, g, out_hw), (x,), per_image)


def _conv_chunk(x, w, g, out_hw):
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    cols = _columns(x, (kh, kw), g, out_hw)
    out = w.reshape(g.groups, o // g.groups, cg * kh * kw) @ cols  # (N, G, O/G, OH*OW)
    return out.reshape(n, o, *out_hw)


def conv_transpose_array(y: np.ndarray, w: np.ndarray, g: Geometry) -> np.ndarray:
    """The transposed convolution kernel; ``g.padding`` is what it crops, per side: one
    matrix product makes every tap's contribution, and they are added into place.

    With stride 1 the rows of ``y`` are first widened with zeros to the output's full
    width, so that each tap's contribution is one contiguous run of the flattened
    output (one long slice-add per tap); otherwise :func:`scatter_windows` adds them."""
    per_image = w[0].size * g.groups * y.shape[2] * y.shape[3] * y.itemsize
    return _by_chunks(lambda y: _conv_transpose_chunk(y, w, g), (y,), per_image)


def _conv_transpose_chunk(y, w, g):
    n, o, h, wd = y.shape
    _, cg, kh, kw = w.shape
    groups, c = g.groups, cg * g.groups
    (dh, dw) = g.dilation
    full = tuple(extent(m, k, s, d) for m, k, s, d in zip((h, wd), (kh, kw), g.stride, g.dilation))
    wt = w.reshape(groups, o // groups, cg * kh * kw).swapaxes(1, 2)
    if g.stride != (1, 1):
        cols = (wt @ y.reshape(n, groups, o // groups, h * wd)).reshape(n, c, kh, kw, h, wd)
        return scatter_windows(cols.transpose(2, 3, 0, 1, 4, 5), (n, c) + full, g)
    fw = full[1]
    wide = pad_array(y, ((0, 0), (0, 0), (0, 0), (0, fw - wd)))
    cols = (wt @ wide.reshape(n, groups, o // groups, h * fw)).reshape(n, c, kh, kw, h * fw)
    buf = np.zeros((n, c, full[0] * fw + (kw - 1) * dw), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            start = a * dh * fw + b * dw
            buf[:, :, start : start + h * fw] += cols[:, :, a, b]
    buf = buf[:, :, : full[0] * fw].reshape((n, c) + full)
    (t, bo), (le, r) = g.padding
    return pad_array(buf, ((0, 0), (0, 0), (-t, -bo), (-le, -r)))


def conv_weight_array(x: np.ndarray, y: np.ndarray, kernel: tuple, g: Geometry) -> np.ndarray:
    """The weight-gradient kernel: ``sum over n, i, j of windows(x) * y``, shape (O, C/G, kh, kw)."""
    per_image = x.shape[1] * kernel[0] * kernel[1] * y.shape[2] * y.shape[3] * x.itemsize
    return _by_chunks(lambda x, y: _conv_weight_chunk(x, y, kernel, g), (x, y), per_image, add=True)


def _conv_weight_chunk(x, y, kernel, g):
    n, c = x.shape[:2]
    o = y.shape[1]
    cols = _columns(x, kernel, g, y.shape[2:])
    groups = g.groups
    yr = y.reshape(n, groups, o // groups, y.shape[2] * y.shape[3])
    gw = (yr @ cols.swapaxes(-1, -2)).sum(axis=0)  # one product per image, then the sum
    return gw.reshape(o, c // groups, *kernel)


# -- dispatch: the numpy kernel on arrays, the op on graph nodes --------------------------------
def _arrays(*xs) -> bool:
    return all(isinstance(a, np.ndarray | np.generic) for a in xs)


def conv(x, w, g: Geometry):
    """conv2d of arrays (the kernel) or of graph nodes (the op)."""
    return conv_array(x, w, g) if _arrays(x, w) else Conv2d.apply(x, w, None, **g.kwargs())


def conv_transpose(y, w, g: Geometry):
    """conv_transpose2d (``g.padding`` = per-side crops) of arrays or of graph nodes."""
    if _arrays(y, w):
        return conv_transpose_array(y, w, g)
    return ConvTranspose2d.apply(y, w, None, **g.kwargs())


def conv_weight(x, y, kernel: tuple, g: Geometry):
    """conv2d_weight of arrays or of graph nodes."""
    if _arrays(x, y):
        return conv_weight_array(x, y, kernel, g)
    return Conv2dWeight.apply(x, y, kernel, **g.kwargs())


def transposed(g: Geometry, in_hw: tuple, out_hw: tuple, kernel: tuple) -> Geometry:
    """The geometry of the transposed convolution that maps a conv's output size
    ``out_hw`` back to its input size ``in_hw``: crop the top/left padding, and at
    the bottom/right whatever the conv's windows did not reach."""
    crops = tuple((lo, extent(m, k, s, d) - lo - n) for (lo, _), n, m, k, s, d
                  in zip(g.padding, in_hw, out_hw, kernel, g.stride, g.dilation))
    return g._replace(padding=crops)


def _finish(ctx, g: Geometry, x, weight, out, bias):
    """Save what the derivative and forward-mode rules read; add the bias."""
    ctx.geom, ctx.out_shape = g, out.shape
    ctx.save_for_backward(x, weight)
    if bias is None:
        return out
    b = bias.reshape((-1, 1, 1))
    if np.result_type(out, b) == out.dtype:
        out += b
        return out
    return out + b


def bilinear_jvp(ctx, f, tx, tw, tb=None):
    """The tangent of ``f(x, w) + bias`` for ``f`` linear in ``x`` and in ``w`` (``x, w``
    saved by the forward): ``f(tx, w) + f(x, tw) + tb``, in the output's shape; None when
    no input has a tangent."""
    x, w = ctx.saved_tensors
    terms = [f(tx, w)] if tx is not None else []
    if tw is not None:
        terms.append(f(x, tw))
    if tb is not None:
        terms.append(tb.reshape((-1, 1, 1)))
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    shape = ctx.out_shape
    if tuple(total.shape) == shape:
        return total
    return np.broadcast_to(total, shape) if _arrays(total) else total.expand(*shape)


def _check_4d(op: str, what: str, a, layout: str) -> None:
    if np.ndim(a) != 4:
        raise ValueError(f"{op}: expected a 4-D {what} {layout}, got shape {np.shape(a)}")


def _check_groups(op: str, groups, channels: int, what: str) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if channels % groups:
        raise ValueError(f"{op}: {what} ({channels}) must be divisible by groups ({groups})")
    return int(groups)


def _check_bias(op: str, bias, channels: int, w_shape) -> None:
    if bias is not None and np.shape(bias) != (channels,):
        raise ValueError(f"{op}: bias of shape {np.shape(bias)} does not fit weight of shape "
                         f"{tuple(w_shape)} (expected ({channels},))")


def conv_geometry(op: str, x_shape, w_shape, stride, padding, dilation, groups) -> Geometry:
    """Check a convolution's arguments (errors name the op and the shapes); its geometry."""
    o, cg, kh, kw = w_shape
    groups = _check_groups(op, groups, o, "out_channels (weight.shape[0])")
    if x_shape[1] != cg * groups:
        raise ValueError(
            f"{op}: given groups={groups} and weight of shape {tuple(w_shape)}, expected an input "
            f"with {cg * groups} channels, got input of shape {tuple(x_shape)}"
        )
    s = pair(stride, "stride", op)
    d = pair(dilation, "dilation", op)
    g = Geometry(s, sides(padding, op, (kh, kw), d, s), d, groups)
    padded = [n + lo + hi for n, (lo, hi) in zip(x_shape[2:], g.padding)]
    span = [(k - 1) * dd + 1 for k, dd in zip((kh, kw), d)]
    if padded[0] < span[0] or padded[1] < span[1]:
        raise ValueError(
            f"{op}: the padded input size per channel ({padded[0]} x {padded[1]}) is smaller than "
            f"the (dilated) kernel size ({span[0]} x {span[1]}): input of shape {tuple(x_shape)}, "
            f"weight {tuple(w_shape)}, padding {padding!r}, dilation {dilation!r}"
        )
    return g


class Conv2d(Function, name="conv2d"):
    """2-D convolution (cross-correlation) of ``x`` (N, C, H, W) with ``weight``
    (out_channels, C / groups, kh, kw), plus ``bias`` (out_channels,): PyTorch's conv2d."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        _check_4d("conv2d", "input", x, "(N, C, H, W)")
        _check_4d("conv2d", "weight", weight, "(out_channels, in_channels / groups, kH, kW)")
        g = conv_geometry("conv2d", x.shape, weight.shape, stride, padding, dilation, groups)
        _check_bias("conv2d", bias, weight.shape[0], weight.shape)
        return _finish(ctx, g, x, weight, conv_array(x, weight, g), bias)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need, g = ctx.needs_input_grad, ctx.geom
        kernel = w.shape[2:]
        gx = conv_transpose(gy, w, transposed(g, x.shape[2:], gy.shape[2:], kernel)) if need[0] else None
        gw = conv_weight(x, gy, kernel, g) if need[1] else None
        gb = gy.sum(axis=(0, 2, 3)) if len(need) > 2 and need[2] else None
        return (gx, gw, gb)[: len(need)]

    @staticmethod
    def jvp(ctx, tx, tw=None, tb=None, *_):
        return bilinear_jvp(ctx, lambda x, w: conv(x, w, ctx.geom), tx, tw, tb)


class ConvTranspose2d(Function, name="conv_transpose2d"):
    """The transposed convolution of ``x`` (N, in_channels, H, W) with ``weight``
    (in_channels, out_channels / groups, kh, kw): PyTorch's conv_transpose2d, the
    input gradient of conv2d. ``padding`` may also be per-side crops."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                dilation=1):
        op = "conv_transpose2d"
        _check_4d(op, "input", x, "(N, C, H, W)")
        _check_4d(op, "weight", weight, "(in_channels, out_channels / groups, kH, kW)")
        if x.shape[1] != weight.shape[0]:
            raise ValueError(f"{op}: weight of shape {weight.shape} expects an input with "
                             f"{weight.shape[0]} channels (weight.shape[0]), got input of shape {x.shape}")
        groups = _check_groups(op, groups, weight.shape[0], "in_channels (weight.shape[0])")
        s, d = pair(stride, "stride", op), pair(dilation, "dilation", op)
        op_ = pair(output_padding, "output_padding", op, minimum=0)
        if any(p >= max(ss, dd) for p, ss, dd in zip(op_, s, d)):
            raise ValueError(f"{op}: output_padding {output_padding!r} must be smaller than either "
                             f"stride {stride!r} or dilation {dilation!r}")
        (t, b), (le, r) = sides(padding, op)
        g = Geometry(s, ((t, b - op_[0]), (le, r - op_[1])), d, groups)
        full = [extent(m, k, ss, dd) for m, k, ss, dd in zip(x.shape[2:], weight.shape[2:], s, d)]
        out_hw = [f - lo - hi for f, (lo, hi) in zip(full, g.padding)]
        if min(out_hw) < 1:
            raise ValueError(f"{op}: input of shape {x.shape} with weight {weight.shape} gives an "
                             f"output size of {out_hw[0]} x {out_hw[1]} (padding {padding!r}): too small")
        _check_bias(op, bias, weight.shape[1] * groups, weight.shape)
        return _finish(ctx, g, x, weight, conv_transpose_array(x, weight, g), bias)

    @staticmethod
    def backward(ctx, h):
        x, w = ctx.saved_tensors
        need, g = ctx.needs_input_grad, ctx.geom
        gx = conv(h, w, g) if need[0] else None
        gw = conv_weight(h, x, w.shape[2:], g) if need[1] else None
        gb = h.sum(axis=(0, 2, 3)) if len(need) > 2 and need[2] else None
        return (gx, gw, gb)[: len(need)]

    @staticmethod
    def jvp(ctx, tx, tw=None, tb=None, *_):
        return bilinear_jvp(ctx, lambda y, w: conv_transpose(y, w, ctx.geom), tx, tw, tb)


class Conv2dWeight(Function, name="conv2d_weight"):
    """The weight gradient of conv2d: for input ``x`` and output gradient ``grad_output``,
    the gradient of a weight of shape (O, C / groups, *kernel_size) (PyTorch's
    ``torch.nn.grad.conv2d_weight``)."""

    @staticmethod
    def forward(ctx, x, grad_output, kernel_size, stride=1, padding=0, dilation=1, groups=1):
        op = "conv2d_weight"
        _check_4d(op, "input", x, "(N, C, H, W)")
        _check_4d(op, "grad_output", grad_output, "(N, O, OH, OW)")
        kernel = pair(kernel_size, "kernel_size", op)
        o = grad_output.shape[1]
        groups = _check_groups(op, groups, o, "grad_output channels")
        w_shape = (o, x.shape[1] // groups) + kernel
        g = conv_geometry(op, x.shape, w_shape, stride, padding, dilation, groups)
        if grad_output.shape[0] != x.shape[0] or _out_hw(x.shape, kernel, g) != grad_output.shape[2:]:
            raise ValueError(f"{op}: grad_output of shape {grad_output.shape} is not the output shape "
                             f"of a convolution of an input of shape {x.shape} with a weight of shape "
                             f"{w_shape}")
        ctx.geom, ctx.kernel, ctx.out_shape = g, kernel, w_shape
        ctx.save_for_backward(x, grad_output)
        return conv_weight_array(x, grad_output, kernel, g)

    @staticmethod
    def backward(ctx, hw):
        x, gy = ctx.saved_tensors
        need, g, kernel = ctx.needs_input_grad, ctx.geom, ctx.kernel
        gx = conv_transpose(gy, hw, transposed(g, x.shape[2:], gy.shape[2:], kernel)) if need[0] else None
        ggy = conv(x, hw, g) if need[1] else None
        return (gx, ggy, None)[: len(need)]

    @staticmethod
    def jvp(ctx, tx, tgy=None, *_):
        return bilinear_jvp(ctx, lambda x, y: conv_weight(x, y, ctx.kernel, ctx.geom), tx, tgy)
