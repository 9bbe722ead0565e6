"""Save and load state dicts as ``.npz`` archives, never with pickle.

A state dict maps names (``"layers.0.weight"``) to values. :func:`save` writes
one ``.npy`` member per name into a zip archive in insertion order, exactly
the layout of :func:`numpy.savez`, so ``numpy.load`` reads the files too.
:func:`load` reads them back with ``allow_pickle=False``: a file that would
need pickle (an object array, a pickled object) is refused with a ValueError,
so loading an untrusted file cannot run code.

>>> import os, tempfile
>>> import numpy as np
>>> from tinygrad_memo.serialization import save, load
>>> path = save({"layers.0.weight": np.eye(2, dtype=np.float32), "scale": 0.5},
...             os.path.join(tempfile.mkdtemp(), "model"))
>>> path.name
'model.npz'
>>> state = load(path)
>>> list(state), state["scale"].dtype, float(state["scale"])
(['layers.0.weight', 'scale'], dtype('float64'), 0.5)
"""

from __future__ import annotations

import numbers
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["load", "save"]


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


def save(state_dict, path, *, compress=False):
    """Write ``state_dict`` (a mapping of str name -> array-like) to an ``.npz`` archive.

    Values may be numpy arrays, objects with ``__array__`` (Tensors), Python
    or numpy numbers, (nested) lists of numbers, or scalar Values (their
    ``.data``); numbers are stored as 0-d arrays. Arrays holding Python
    objects are refused (ValueError). Names are kept exactly, in insertion
    order (dots and slashes are fine).

    Like :func:`numpy.savez`, ``.npz`` is appended to a ``path`` (str or
    path-like) that does not already end with it; ``path`` may also be a
    binary file object, written as is. ``compress=True`` deflates the members
    (as :func:`numpy.savez_compressed`). The file is written to a temporary
    name in the same folder and then renamed, so an existing file is never
    left half-written. Returns the :class:`pathlib.Path` written (or the file
    object).

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save({"w": np.arange(3.0)}, os.path.join(tempfile.mkdtemp(), "ckpt.npz"))
    >>> path.name
    'ckpt.npz'
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
        arrays[name] = _as_array(name, value)

    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if hasattr(path, "write") and not isinstance(path, (str, os.PathLike)):
        _write_npz(path, arrays, method)
        return path

    path = Path(os.fspath(path))
    if not path.name.endswith(".npz"):
        path = path.with_name(path.name + ".npz")
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays, method)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _write_npz(file, arrays: dict, method: int) -> None:
    # numpy.savez's layout, written directly: savez(file, **arrays) would break on a key
    # named "file" or "allow_pickle", and it does not refuse object arrays by itself.
    with zipfile.ZipFile(file, mode="w", compression=method, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def load(path) -> dict:
    """Read an ``.npz`` archive written by :func:`save` (or :func:`numpy.savez`).

    Returns a dict name -> numpy array in the archive's order (numbers saved
    from floats come back as 0-d arrays: ``float(state["lr"])``). Loading
    never unpickles: a file containing an object array or pickled data raises
    ValueError naming the entry, and so does a file that is not an ``.npz``
    archive. Unlike :func:`save`, ``load`` does not append ``.npz`` (as
    :func:`numpy.load`); the FileNotFoundError suggests it when that file exists.

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save({"a.b": np.ones((2, 2), np.float32)}, os.path.join(tempfile.mkdtemp(), "m"))
    >>> load(path)["a.b"].shape
    (2, 2)
    """
    is_file_obj = hasattr(path, "read") and not isinstance(path, (str, os.PathLike))
    where = "the file object" if is_file_obj else repr(os.fspath(path))
    if not is_file_obj:
        p = Path(os.fspath(path))
        if not p.exists():
            hint = ""
            if not p.name.endswith(".npz") and p.with_name(p.name + ".npz").exists():
                hint = f" (save() appends .npz: did you mean {os.fspath(p) + '.npz'!r}?)"
            raise FileNotFoundError(f"load: no such file {os.fspath(p)!r}{hint}")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise ValueError(
            f"load: {where} is not an .npz archive of arrays; refusing to unpickle it ({e})"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"load: {where} is not a readable .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"load: {where} holds a single array (.npy), not an .npz archive of named arrays"
        )
    out = {}
    with archive:
        for name in archive.files:
            try:
                value = archive[name]
            except ValueError as e:
                raise ValueError(
                    f"load: entry {name!r} of {where} cannot be loaded without pickle "
                    f"(an object array?); refusing it: {e}"
                ) from None
            except (OSError, zipfile.BadZipFile, EOFError) as e:
                raise ValueError(f"load: entry {name!r} of {where} is corrupt ({e})") from None
            if not isinstance(value, np.ndarray):
                raise ValueError(f"load: entry {name!r} of {where} is not a .npy array")
            out[name] = value
    return out
