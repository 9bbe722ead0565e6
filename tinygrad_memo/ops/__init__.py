"""The Tensor ops, each a Function with its forward and derivative side by side.

``elementwise``: + - * / ** neg abs exp log sqrt tanh sigmoid relu maximum minimum where;
``reduce``: sum mean max min softmax log_softmax; ``shape``: reshape transpose expand
getitem concatenate stack (and ``sum_to``, the one place where broadcasting is
undone); ``linalg``: matmul, linear (x @ W.T + b as one op); ``loss``: fused cross-entropy.
"""

from .elementwise import (
    Abs,
    Add,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .linalg import Linear, MatMul
from .loss import CrossEntropy
from .reduce import LogSoftmax, Max, Mean, Min, Softmax, Sum
from .shape import Concatenate, Expand, GetItem, IndexAdd, Reshape, Stack, Transpose, sum_to

__all__ = [
    "Abs", "Add", "Concatenate", "CrossEntropy", "Div", "Exp", "Expand", "GetItem", "IndexAdd",
    "Linear", "Log", "LogSoftmax", "MatMul", "Max", "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pow",
    "Relu", "Reshape", "Sigmoid", "Softmax", "Sqrt", "Stack", "Sub", "Sum", "Tanh", "Transpose",
    "Where", "sum_to",
]
