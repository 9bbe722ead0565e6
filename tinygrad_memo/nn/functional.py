"""Functional forms: activations, dropout, linear, layer norm, and losses.

Losses follow PyTorch's semantics, including ``reduction="mean" | "sum" | "none"``,
and are built from the library's differentiable ops, so their gradients (and
gradients of gradients) come from the one backward algorithm. Inputs may be
Tensors or array-likes; targets may be Tensors or numpy arrays. A target whose
shape or dtype does not fit raises a ValueError naming the function and shapes.

:func:`hinge_loss` and :func:`mse_loss` also accept sequences of scalar
:class:`~tinygrad_memo.Value` scores (micrograd-style models).

>>> import numpy as np
>>> from tinygrad_memo import Tensor
>>> logits = Tensor(np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), requires_grad=True)
>>> loss = cross_entropy(logits, np.array([0, 2]))
>>> round(loss.item(), 4)
0.6342
>>> _ = loss.backward(); logits.grad.shape
(2, 3)
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import CrossEntropy, Dropout, Embedding, Linear, Maximum, OneHot, Where
from ..ops.loss import check_class_targets
from ..tensor import Tensor
from ..value import Value
from .conv import avg_pool2d, conv2d, conv_transpose2d, max_pool2d, pad

__all__ = [
    "avg_pool2d", "conv2d", "conv_transpose2d", "max_pool2d", "pad",  # from nn.conv
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "gelu", "hinge_loss", "l1_loss", "layer_norm", "linear", "log_softmax", "mse_loss",
    "nll_loss", "relu", "sigmoid", "softmax", "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _arr(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_reduction(reduction, where):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(where, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{where}: target shape {tuple(target.shape)} does not match input shape "
            f"{tuple(input.shape)} (no broadcasting: reshape one of them)"
        )


def _float_target(where, target, dtype):
    """A real-valued target: a Tensor (kept as is, so it may require grad), or an
    array-like, converted to the input's float dtype."""
    if isinstance(target, Tensor):
        if target.dtype.kind not in "fiub":
            raise ValueError(f"{where}: target must be numeric, got dtype {target.dtype}")
        return target
    arr = np.asarray(target)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{where}: target must be numeric, got dtype {arr.dtype}")
    # arrays and lists follow the input's dtype (a float64 list must not promote a float32 loss)
    return Tensor(arr.astype(dtype if np.dtype(dtype).kind == "f" else np.float64, copy=False))


def _is_value_seq(x) -> bool:
    return isinstance(x, Value) or (
        isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, Value) for v in x)
    )


def _value_reduce(losses, reduction):
    if reduction == "none":
        return losses
    total = sum(losses[1:], losses[0])
    return total * (1.0 / len(losses)) if reduction == "mean" else total


def _value_targets(where, scores, target):
    ys = [target] if np.ndim(target) == 0 else list(np.asarray(target, dtype=np.float64).ravel())
    if len(ys) != len(scores):
        raise ValueError(
            f"{where}: got {len(scores)} Value scores but target has {len(ys)} entries"
        )
    return [float(y) for y in ys]


# -- activations ------------------------------------------------------------------------------
def relu(x):
    """max(x, 0) elementwise (derivative 0 at 0).

    >>> relu(Tensor([-1.0, 3.0])).numpy()
    array([0., 3.], dtype=float32)
    """
    return _t(x).relu()


def tanh(x):
    """Hyperbolic tangent.

    >>> tanh(Tensor([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return _t(x).tanh()


def sigmoid(x):
    """Logistic sigmoid.

    >>> sigmoid(Tensor([0.0])).numpy()
    array([0.5], dtype=float32)
    """
    return _t(x).sigmoid()


def gelu(x, approximate: str = "none"):
    """GELU, ``x * Phi(x)``: by default the exact erf form ``0.5 x (1 + erf(x / sqrt(2)))``,
    PyTorch's default; ``approximate="tanh"`` gives the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``. One registry op (also
    ``Tensor.gelu`` and ``Value.gelu``).

    >>> gelu(Tensor([0.0, 1.0])).numpy().round(4)
    array([0.    , 0.8413], dtype=float32)
    >>> gelu(Tensor([1.0]), approximate="tanh").numpy().round(4)
    array([0.8412], dtype=float32)
    """
    return _node(x).gelu(approximate)


def leaky_relu(x, negative_slope: float = 0.01):
    """``x`` for x > 0, ``negative_slope * x`` otherwise (PyTorch's ``leaky_relu``).

    >>> leaky_relu(Tensor([-1.0, 2.0]), 0.1).numpy()
    array([-0.1,  2. ], dtype=float32)
    """
    return _node(x).leaky_relu(negative_slope)


def silu(x):
    """``x * sigmoid(x)`` (PyTorch's ``silu``).

    >>> silu(Tensor([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return _node(x).silu()


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``
    (PyTorch's ``softplus``).

    >>> softplus(Tensor([0.0, 100.0])).numpy().round(4)
    array([  0.6931, 100.    ], dtype=float32)
    """
    return _node(x).softplus(beta, threshold)


def softmax(x, axis: int = -1):
    """Softmax along ``axis``.

    >>> softmax(Tensor([1.0, 1.0])).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    return _t(x).softmax(axis=axis)


def log_softmax(x, axis: int = -1):
    """log(softmax(x)) along ``axis``, computed stably.

    >>> log_softmax(Tensor([0.0, 0.0])).exp().numpy()
    array([0.5, 0.5], dtype=float32)
    """
    return _t(x).log_softmax(axis=axis)


def dropout(x, p: float = 0.5, training: bool = True):
    """Zero elements with probability ``p`` and scale the rest by ``1 / (1 - p)`` when
    ``training``; the input unchanged otherwise. Masks come from the library's generator.

    >>> import numpy as np
    >>> x = Tensor(np.ones(4, np.float32))
    >>> dropout(x, 0.5, training=False) is x
    True
    >>> dropout(x, 1.0).numpy()
    array([0., 0., 0., 0.], dtype=float32)
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    x = _t(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    return Dropout.apply(x, p=p)  # (one op that draws its mask: a jit replay draws anew)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight`` of shape ``(out, in)``.

    >>> import numpy as np
    >>> linear(Tensor(np.ones((1, 2))), Tensor(np.eye(2)), Tensor(np.array([1.0, 2.0]))).numpy()
    array([[2., 3.]])
    """
    return Linear.apply(_t(x), _t(weight), bias)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then
    ``* weight + bias``.

    >>> import numpy as np
    >>> y = layer_norm(Tensor(np.array([[0.0, 2.0]])), (2,)).numpy()
    >>> np.round(y, 3)
    array([[-1.,  1.]])
    """
    x = _t(x)
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != tuple(normalized_shape) or x.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with normalized_shape "
            f"{tuple(normalized_shape)}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# -- losses -------------------------------------------------------------------------------------
def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ``(input - target) ** 2``, reduced.

    ``target`` must have the input's shape. ``input`` may also be a list of
    Values (then ``target`` is a sequence of numbers and a Value is returned).

    >>> import numpy as np
    >>> mse_loss(Tensor(np.array([1.0, 2.0])), np.array([0.0, 0.0])).item()
    2.5
    >>> from tinygrad_memo import Value
    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0], reduction="sum").data
    5.0
    """
    _check_reduction(reduction, "mse_loss")
    if _is_value_seq(input):
        scores = [input] if isinstance(input, Value) else list(input)
        ys = _value_targets("mse_loss", scores, target)
        return _value_reduce([(s - y) ** 2 for s, y in zip(scores, ys)], reduction)
    input = _t(input)
    target = _float_target("mse_loss", target, input.dtype)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    """Mean absolute error ``|input - target|``, reduced (derivative 0 where equal).

    >>> import numpy as np
    >>> l1_loss(Tensor(np.array([1.0, -2.0])), np.array([0.0, 0.0])).item()
    1.5
    """
    _check_reduction(reduction, "l1_loss")
    input = _t(input)
    target = _float_target("l1_loss", target, input.dtype)
    _same_shape("l1_loss", input, target)
    return _reduce(abs(input - target), reduction)


def _class_targets(where, input, target):
    """Check integer class targets for input (N, C) or (C,); return the int array."""
    if input.ndim not in (1, 2):
        raise ValueError(f"{where}: input must have shape (N, C) or (C,), got {input.shape}")
    return check_class_targets(where, input.shape, _arr(target))


def nll_loss(input, target, reduction: str = "mean"):
    """Negative log likelihood: ``-input[n, target[n]]``, for log-probabilities ``input``
    of shape (N, C) (or (C,) with a 0-d target) and integer targets.

    >>> import numpy as np
    >>> logp = Tensor(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])))
    >>> round(nll_loss(logp, np.array([0, 1])).item(), 4)
    0.4904
    """
    _check_reduction(reduction, "nll_loss")
    input = _t(input)
    t = _class_targets("nll_loss", input, target)
    if input.ndim == 1:
        picked = input[int(t)]
    else:
        picked = input[np.arange(input.shape[0]), t]
    return _reduce(-picked, reduction)


def cross_entropy(input, target, ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean"):
    """Cross entropy of logits ``input`` (C,), (N, C) or (N, C, d1, ...) (classes on axis 1)
    against integer class ``target`` (), (N,) or (N, d1, ...), as PyTorch's
    ``cross_entropy``: one fused op (stable log-softmax picked at the targets), stable
    for logits of any size. Targets equal to ``ignore_index`` contribute nothing, and
    "mean" averages over the other ones; ``label_smoothing`` (eps) blends each target
    with the uniform distribution: ``(1 - eps) * nll + eps * mean_c(-log_softmax)``.
    The targets are checked inside the op (a ``tm.jit`` replay checks them too).

    ``target`` may also be class probabilities of the input's shape (floats), as in
    PyTorch: ``-(target * log_softmax(input)).sum(axis=1)`` (smoothed too; no
    ``ignore_index`` then).

    >>> import numpy as np
    >>> cross_entropy(Tensor(np.array([[1e4, 0.0]])), np.array([1])).item()
    10000.0
    >>> x = Tensor(np.zeros((2, 3, 4)))   # (N, C, d1): one loss per position
    >>> cross_entropy(x, np.zeros((2, 4), np.int64), reduction="none").shape
    (2, 4)
    >>> round(cross_entropy(Tensor([[0.0, 5.0]]), np.array([1]), label_smoothing=0.2).item(), 4)
    0.5067
    """
    _check_reduction(reduction, "cross_entropy")
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {eps}")
    input = _t(input)
    if input.ndim == 0:
        raise ValueError(f"cross_entropy: input must have shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got {input.shape}")
    if _arr(target).dtype.kind == "f":
        tgt = _float_target("cross_entropy", target, input.dtype)
        if tgt.shape != input.shape:
            raise ValueError(
                f"cross_entropy: float target (class probabilities) of shape {tgt.shape} "
                f"does not match input shape {input.shape}; class-index targets must be "
                "integers"
            )
        cax = 1 if input.ndim >= 2 else 0
        if eps:
            tgt = tgt * (1.0 - eps) + eps / input.shape[cax]
        return _reduce(-(tgt * input.log_softmax(axis=cax)).sum(axis=cax), reduction)
    t = target.data if isinstance(target, Tensor) else target  # (the op checks it)
    return CrossEntropy.apply(input, t, reduction=reduction, ignore_index=ignore_index,
                              label_smoothing=eps)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean"):
    """Binary cross entropy of logits against targets in [0, 1], in the stable form
    ``max(x, 0) - x * y + log(1 + exp(-|x|))`` (no overflow for any logit).

    ``max`` is ``tm.maximum`` (ties share the gradient), so the derivative at
    ``x = 0`` is the true ``sigmoid(0) - y``.

    >>> import numpy as np
    >>> binary_cross_entropy_with_logits(Tensor(np.array([0.0, 1e4])), np.array([1.0, 1.0]),
    ...                                  reduction="none").numpy().round(4)
    array([0.6931, 0.    ])
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _t(input)
    y = _float_target("binary_cross_entropy_with_logits", target, x.dtype)
    _same_shape("binary_cross_entropy_with_logits", x, y)
    loss = Maximum.apply(x, 0.0) - x * y + ((-abs(x)).exp() + 1.0).log()
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, reduction: str = "mean"):
    """Binary cross entropy of probabilities in [0, 1]; each log is clamped at -100
    as PyTorch does, so probabilities of exactly 0 or 1 give finite losses (and
    no gradient flows through a clamped log).

    >>> import numpy as np
    >>> binary_cross_entropy(Tensor(np.array([0.5, 1.0])), np.array([1.0, 0.0]),
    ...                      reduction="none").numpy().round(4)
    array([  0.6931, 100.    ])
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = _t(input)
    y = _float_target("binary_cross_entropy", target, p.dtype)
    _same_shape("binary_cross_entropy", p, y)
    pd = p.data
    if pd.size and (np.nanmin(pd) < 0 or np.nanmax(pd) > 1):
        raise ValueError(
            f"binary_cross_entropy: input must be probabilities in [0, 1], got values in "
            f"[{np.nanmin(pd)}, {np.nanmax(pd)}]; use binary_cross_entropy_with_logits for logits"
        )
    log_p = _clamped_log(p)
    log_1p = _clamped_log(1.0 - p)
    return _reduce(-(y * log_p + (1.0 - y) * log_1p), reduction)


def _clamped_log(p):
    """max(log(p), -100), with no nan in the gradient where p == 0."""
    pos = p.data > 0
    safe = Where.apply(pos, p, 1.0)  # log(1) = 0 keeps the backward finite where p == 0
    return Where.apply(pos, Maximum.apply(safe.log(), -100.0), -100.0)


def hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    """The SVM max-margin loss of micrograd's demo: ``relu(margin - y * score)`` with
    labels ``y`` in {-1, +1}, reduced (mean by default).

    ``input`` is a Tensor of scores, or a list of Values (then a Value comes back).

    >>> import numpy as np
    >>> hinge_loss(Tensor(np.array([2.0, 0.0, -1.0])), np.array([1, 1, 1])).item()
    1.0
    >>> from tinygrad_memo import Value
    >>> hinge_loss([Value(2.0), Value(-0.5)], [1, -1]).data
    0.25
    """
    _check_reduction(reduction, "hinge_loss")
    if _is_value_seq(input):
        scores = [input] if isinstance(input, Value) else list(input)
        ys = _value_targets("hinge_loss", scores, target)
        _check_signs(np.asarray(ys))
        return _value_reduce([(margin - y * s).relu() for s, y in zip(scores, ys)], reduction)
    x = _t(input)
    ya = _arr(target)
    if ya.dtype.kind not in "fiub":
        raise ValueError(f"hinge_loss: target must be numeric, got dtype {ya.dtype}")
    _same_shape("hinge_loss", x, ya)
    _check_signs(ya)
    return _reduce((margin - x * ya.astype(x.dtype)).relu(), reduction)


def _check_signs(y):
    if y.size and not np.isin(y, (-1, 1)).all():
        bad = np.unique(y[~np.isin(y, (-1, 1))])[:5].tolist()
        raise ValueError(f"hinge_loss: labels must be -1 or +1, got {bad}")


# -- more activations (issue 12): each one registry op, also a Tensor and a Value method -------
def _node(x):
    return x if isinstance(x, Tensor | Value) else Tensor(x)


def elu(x, alpha: float = 1.0):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise (PyTorch's ``elu``).

    >>> elu(Tensor([-1.0, 2.0])).numpy()
    array([-0.63212055,  2.        ], dtype=float32)
    """
    return _node(x).elu(alpha)


def relu6(x):
    """``min(max(x, 0), 6)``.

    >>> relu6(Tensor([-1.0, 7.0])).numpy()
    array([0., 6.], dtype=float32)
    """
    return _node(x).relu6()


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """``x`` limited to ``[min_val, max_val]`` (gradient 0 on the bounds, as PyTorch).

    >>> hardtanh(Tensor([-2.0, 0.5])).numpy()
    array([-1. ,  0.5], dtype=float32)
    """
    return _node(x).hardtanh(min_val, max_val)


def hardswish(x):
    """``x * relu6(x + 3) / 6``.

    >>> hardswish(Tensor([3.0])).numpy()
    array([3.], dtype=float32)
    """
    return _node(x).hardswish()


def mish(x):
    """``x * tanh(softplus(x))``.

    >>> mish(Tensor([0.0])).numpy()
    array([0.], dtype=float32)
    """
    return _node(x).mish()


def softsign(x):
    """``x / (1 + |x|)``.

    >>> softsign(Tensor([1.0])).numpy()
    array([0.5], dtype=float32)
    """
    return _node(x).softsign()


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None):
    """PyTorch's ``scaled_dot_product_attention``: ``softmax(q k^T * scale + bias) v``
    over the last two axes (``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)`` ->
    ``(..., L, Ev)``). ``scale`` defaults to ``1 / sqrt(E)``; a boolean ``attn_mask``
    says which keys each query may attend to (True: it may), a float one is added
    to the scores; ``is_causal`` lets query i attend to keys j <= i. ``dropout_p``
    drops attention weights (from the global generator, ``tm.manual_seed``), as
    PyTorch's does whatever the module's mode. A composite of registry ops
    (matmul, where, softmax), so every gradient, also of second order, is theirs.

    >>> import numpy as np
    >>> q = k = v = Tensor(np.eye(2)[None])
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).numpy()[0, 0]
    array([1., 0.])
    """
    q, k, v = _t(query), _t(key), _t(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                         f"dimensions (..., L, E), got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: shapes query {q.shape}, key {k.shape}, "
                         f"value {v.shape} do not fit (..., L, E), (..., S, E), (..., S, Ev)")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
    L, S = q.shape[-2], k.shape[-2]
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ k.swapaxes(-1, -2)) * s
    if is_causal:
        attn_mask = np.tri(L, S, 0, dtype=bool)
    if attn_mask is not None:
        m = attn_mask
        if (m.data if isinstance(m, Tensor) else np.asarray(m)).dtype == bool:
            scores = Where.apply(_arr(m), scores, -np.inf)
        else:
            scores = scores + m
    weights = scores.softmax(axis=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p)  # the one op that draws its mask (jit draws anew)
    return weights @ v


__all__ += ["elu", "hardswish", "hardtanh", "mish", "relu6", "scaled_dot_product_attention",
            "softsign"]


# -- embeddings (issue 12) -------------------------------------------------------------------
def _index_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def embedding(input, weight):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input``
    of any shape: the result has shape ``input.shape + (embedding_dim,)`` (PyTorch's
    ``embedding``). The gradient adds into the picked rows (repeated indices add up);
    indices outside ``[0, num_embeddings)`` raise an IndexError naming the range.

    >>> import numpy as np
    >>> w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    >>> y = embedding(np.array([[2, 2]]), w)
    >>> y.shape
    (1, 2, 2)
    >>> _ = y.sum().backward(); w.grad
    array([[0., 0.],
           [0., 0.],
           [2., 2.]])
    """
    return Embedding.apply(_index_tensor(input), _t(weight))


def one_hot(input, num_classes: int = -1):
    """int64 one-hot encoding of the integer ``input``: shape ``input.shape + (num_classes,)``
    (PyTorch's ``one_hot``; ``num_classes=-1`` is one more than the largest value).

    >>> import numpy as np
    >>> one_hot(np.array([0, 2])).numpy()
    array([[1, 0, 0],
           [0, 0, 1]])
    """
    return OneHot.apply(_index_tensor(input), num_classes=num_classes)


__all__ += ["embedding", "leaky_relu", "one_hot", "silu", "softplus"]
