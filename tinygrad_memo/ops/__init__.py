"""The registry of built-in ops: each op defined once, forward and derivative side by side.

``elementwise``: + - * / ** maximum minimum neg abs exp log log1p sqrt square tanh
sigmoid relu sin cos tan reciprocal rsqrt expm1 log2 log10 exp2 sign floor ceil clip
hardtanh relu6 elu hardswish mish softsign (each also with its float forward, for
the Value engine), where;
``reduce``: sum mean max min softmax log_softmax; ``shape``: reshape transpose expand
getitem index_add concatenate stack clone (and ``sum_to``, the one place where
broadcasting is undone); ``linalg``: matmul, linear (x @ W.T + b as one op);
``loss``: fused cross-entropy; ``conv``: conv2d, conv_transpose2d, conv2d_weight (each the
others' derivative); ``pool``: max_pool2d, avg_pool2d, window_sum, window_scatter; ``pad``;
``dropout`` (its mask drawn inside the op); ``embedding``: embedding, one_hot;
``sampling``: multinomial (drawn inside the op).

Beside each op's ``backward`` is its forward-mode rule ``jvp(ctx, *tangents)``: one
tangent per positional input of ``forward`` (None for zero, and None back when all
are), the result's tangent in the result's shape, written like ``backward`` with
operations that work on arrays and on graph nodes (forward over reverse).

:data:`REGISTRY` maps each op's name to its class; :data:`UFUNCS` maps the numpy
ufuncs that have an op to it (``np.tanh`` -> ``Tanh``).
"""

from ..function import REGISTRY
from .conv import Conv2d, Conv2dWeight, ConvTranspose2d
from .dropout import Dropout
from .elementwise import (
    ELEMENTWISE,
    Abs,
    Add,
    Binary,
    Cos,
    Div,
    Elementwise,
    Exp,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Square,
    Sub,
    Tanh,
    Unary,
    Where,
)
from .embedding import Embedding, OneHot
from .linalg import Linear, MatMul
from .loss import CrossEntropy
from .pad import Pad
from .pool import AvgPool2d, MaxPool2d, WindowScatter, WindowSum
from .reduce import LogSoftmax, Max, Mean, Min, Softmax, Sum
from .sampling import Multinomial
from .shape import Clone, Concatenate, Expand, GetItem, IndexAdd, Reshape, Stack, Transpose, sum_to

#: numpy ufunc -> the op that records it
UFUNCS = {op.ufunc: op for op in REGISTRY.values() if getattr(op, "ufunc", None) is not None}

__all__ = [
    "ELEMENTWISE", "REGISTRY", "UFUNCS",
    "AvgPool2d", "Conv2d", "Conv2dWeight", "ConvTranspose2d", "MaxPool2d", "Pad", "WindowScatter",
    "WindowSum",
    "Abs", "Add", "Binary", "Clone", "Concatenate", "Cos", "CrossEntropy", "Div", "Dropout",
    "Elementwise", "Embedding", "Multinomial", "OneHot",
    "Exp", "Expand", "GetItem", "IndexAdd", "Linear", "Log", "Log1p", "LogSoftmax", "MatMul", "Max",
    "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pow", "Relu", "Reshape", "Sigmoid", "Sin",
    "Softmax", "Sqrt", "Square", "Stack", "Sub", "Sum", "Tanh", "Transpose", "Unary", "Where",
    "sum_to",
]
