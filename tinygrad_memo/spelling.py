"""PyTorch spellings this library does not use, and the names to use instead.

The Tensor API speaks numpy where the two disagree (``axis``, ``keepdims``,
``reshape``, ``concatenate``). A PyTorch user typing ``dim=``, ``keepdim=``,
``.view`` or ``tm.cat`` gets an error that names the spelling to use, not only
"unexpected keyword argument".

>>> import tinygrad_memo as tm
>>> try:
...     tm.Tensor([1.0, 2.0]).sum(dim=0)
... except TypeError as e:
...     print(e)
sum() got an unexpected keyword argument 'dim': use axis= (numpy's spelling of PyTorch's dim=)
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["FUNCTIONS", "KEYWORDS", "METHODS", "add_torch_hints", "missing_attribute",
           "torch_hints", "unexpected_keyword"]

#: PyTorch keyword -> the names it may be here (the first one the function has is named)
KEYWORDS = {
    "dim": ("axis", "axes"),
    "dims": ("axes", "axis"),
    "keepdim": ("keepdims",),
    "correction": ("ddof",),
    "unbiased": ("ddof",),
    "min": ("lo",),
    "max": ("hi",),
    "shifts": ("shift",),
    "diagonal": ("k", "offset"),
    "dim0": ("axis1",),
    "dim1": ("axis1", "axis2"),
    "dim2": ("axis2",),
    "size": ("shape",),
    "split_size_or_sections": ("indices_or_sections",),
    "steps": ("num",),
}

#: PyTorch Tensor method -> what to write here
METHODS = {
    "view": "reshape(*shape)",
    "view_as": "reshape(*other.shape)",
    "clamp": "clip(lo, hi)",
    "clamp_min": "clip(lo)",
    "clamp_max": "clip(hi=...)",
    "numel": "size (a property)",
    "dim": "ndim (a property)",
    "to": "astype(dtype)",
    "type": "astype(dtype)",
    "float": "astype(np.float32)",
    "double": "astype(np.float64)",
    "long": "astype(np.int64)",
    "int": "astype(np.int32)",
    "contiguous": "nothing (drop the call: arrays need no contiguity here)",
    "masked_fill": "tm.where(mask, value, t)",
    "amax": "max(axis=...)",
    "amin": "min(axis=...)",
    "mm": "the @ operator",
    "bmm": "the @ operator",
    "matmul": "the @ operator",
    "expand_as": "expand(*other.shape)",
    "t": "T (a property)",
    "cuda": "nothing (CPU only: numpy arrays)",
    "cpu": "nothing (CPU only: numpy arrays)",
}

#: PyTorch function (torch.X) -> what to write here (tm.X)
FUNCTIONS = {
    "cat": "tm.concatenate(tensors, axis=0)",
    "concat": "tm.concatenate(tensors, axis=0)",
    "clamp": "Tensor.clip(lo, hi)",
    "tensor": "tm.Tensor(data)",
    "from_numpy": "tm.Tensor(array)",
    "zeros": "tm.Tensor.zeros(*shape)",
    "ones": "tm.Tensor.ones(*shape)",
    "randn": "tm.Tensor.randn(*shape)",
    "rand": "tm.Tensor.rand(*shape)",
    "arange": "tm.Tensor.arange(...)",
    "eye": "tm.Tensor.eye(n)",
    "matmul": "the @ operator",
    "mm": "the @ operator",
    "bmm": "the @ operator",
}


def unexpected_keyword(op: str, key: str, params) -> TypeError:
    """The TypeError for ``op(key=...)``, naming the parameter meant when ``key`` is
    PyTorch's spelling of one of ``params``.

    >>> print(unexpected_keyword("sum", "keepdim", ("axis", "keepdims")))
    sum() got an unexpected keyword argument 'keepdim': use keepdims= (numpy's spelling of PyTorch's keepdim=)
    """
    msg = f"{op}() got an unexpected keyword argument {key!r}"
    for name in KEYWORDS.get(key, ()):
        if name in params:
            return TypeError(f"{msg}: use {name}= (numpy's spelling of PyTorch's {key}=)")
    return TypeError(msg)


def torch_hints(f):
    """Wrap ``f`` so that a call with a PyTorch keyword it lacks raises
    :func:`unexpected_keyword`'s hint (nothing changes for correct calls).

    >>> @torch_hints
    ... def mean(x, axis=None):
    ...     return x
    >>> try:
    ...     mean(1, dim=0)
    ... except TypeError as e:
    ...     print(str(e).split(":")[1])
     use axis= (numpy's spelling of PyTorch's dim=)
    """
    params = _keywords(f)
    name = f.__name__

    @functools.wraps(f)
    def g(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except TypeError:
            for k in kwargs:
                if k not in params and k in KEYWORDS:
                    raise unexpected_keyword(name, k, params) from None
            raise

    return g


def _keywords(f) -> tuple:
    """The parameters of ``f`` that can be passed by keyword."""
    P = inspect.Parameter
    return tuple(p.name for p in inspect.signature(f).parameters.values()
                 if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY))


_MEANT = frozenset(n for names in KEYWORDS.values() for n in names)


def add_torch_hints(cls) -> None:
    """:func:`torch_hints` on every public method of ``cls`` (its own, not inherited)
    that has a parameter a PyTorch keyword stands for (``axis``, ``keepdims``, ...).

    >>> class A:
    ...     def f(self, axis=None):
    ...         return axis
    >>> add_torch_hints(A)
    >>> A().f(axis=1), hasattr(A.f, "__wrapped__")
    (1, True)
    """
    for name, f in list(vars(cls).items()):
        if inspect.isfunction(f) and not name.startswith("_") and _MEANT.intersection(_keywords(f)):
            setattr(cls, name, torch_hints(f))


def missing_attribute(owner: str, name: str, table: dict) -> AttributeError:
    """The AttributeError for ``owner`` lacking ``name``, with the spelling to use
    if ``name`` is PyTorch's.

    >>> str(missing_attribute("'Tensor' object", "view", METHODS))
    "'Tensor' object has no attribute 'view': use reshape(*shape) (PyTorch's view)"
    """
    msg = f"{owner} has no attribute {name!r}"
    hint = table.get(name)
    return AttributeError(msg if hint is None else f"{msg}: use {hint} (PyTorch's {name})")
