"""What both file formats share: a state dict checked and turned into arrays, the
atomic write, and the cap on what loading allocates."""

from __future__ import annotations

import numbers
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: what :func:`~tinygrad_memo.serialization.load` allocates at most by default (its
#: ``max_bytes``): 8 GiB
MAX_BYTES = 8 * 2**30


def as_arrays(state_dict) -> dict:
    """``state_dict`` checked (a mapping of non-empty str names) and its values as arrays
    numpy can store without pickle. A nested mapping (or a list of mappings) is stored
    under dotted names: ``{"state": {0: {"step": 3}}}`` as ``"state.0.step"``.

    >>> {k: v.shape for k, v in as_arrays({"w": [[1.0, 2.0]], "lr": 0.1}).items()}
    {'w': (1, 2), 'lr': ()}
    >>> list(as_arrays({"state": {0: {"step": 3}}, "param_groups": [{"lr": 0.1}]}))
    ['state.0.step', 'param_groups.0.lr']
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "save: state_dict must be a mapping of names to arrays, "
            f"got {type(state_dict).__name__}"
        )
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(
                f"save: state_dict keys must be str, got {type(name).__name__} {name!r}"
            )
        if not name:
            raise ValueError("save: state_dict keys must be non-empty strings")
        stack = [(name, value)]
        while stack:  # nested mappings (an optimizer's state dict) become dotted names
            n, v = stack.pop()
            if isinstance(v, Mapping):
                stack.extend((f"{n}.{k}", x) for k, x in reversed(list(v.items())))
            elif isinstance(v, list | tuple) and v and all(isinstance(x, Mapping) for x in v):
                stack.extend((f"{n}.{i}", x) for i, x in reversed(list(enumerate(v))))
            else:
                arrays[n] = _as_array(n, v)
    return arrays


def _as_array(name: str, value) -> np.ndarray:
    """Turn one state-dict value into an array numpy can store without pickle."""
    if isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "__array__") or isinstance(
        value, (numbers.Number, np.generic, list, tuple)
    ):
        arr = _to_array(name, value)
    elif isinstance(getattr(value, "data", None), numbers.Number) and hasattr(value, "grad"):
        arr = _to_array(name, value.data)  # a scalar Value parameter: store its data
    else:
        raise TypeError(
            f"save: state_dict[{name!r}] is a {type(value).__name__}; expected a numpy "
            "array, an object with __array__ (a Tensor), a number, a list of numbers or a Value"
        )
    if arr.dtype.hasobject:
        raise ValueError(
            f"save: state_dict[{name!r}] has dtype {arr.dtype}, which holds Python objects "
            "and could only be stored with pickle; store numeric arrays"
        )
    return arr


def _to_array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"save: state_dict[{name!r}] cannot be made into an array: {e}") from None


def atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to
    ``path``: an existing file is never left half-written, and a failed write leaves
    nothing behind. The file is created with mode 0o666, so the umask decides its
    permissions (as for any new file)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def is_file_object(path) -> bool:
    """Whether ``path`` is an open file (rather than a str or path-like name)."""
    return (hasattr(path, "read") or hasattr(path, "write")) and not isinstance(
        path, (str, os.PathLike))


def declared_size(shape, dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` needs (exact, for any declared shape).

    >>> declared_size((2**40,), np.dtype(np.float64))
    8796093022208
    """
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def over_budget(where: str, name: str, shape, dtype, size: int, max_bytes: int) -> ValueError:
    """The error for a file whose arrays would need more than ``max_bytes``."""
    return ValueError(
        f"load: the arrays of {where} need more than max_bytes={max_bytes:,} "
        f"bytes (entry {name!r} alone declares shape {tuple(shape)} of {dtype}: "
        f"{size:,} bytes); pass a larger max_bytes if the file is trusted"
    )
