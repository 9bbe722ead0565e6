"""Save and load state dicts, never with pickle: ``.npz`` (the default) or ``.safetensors``.

A state dict maps names (``"layers.0.weight"``) to values. The file name's
extension picks the format:

* ``.npz`` (:mod:`~tinygrad_memo.serialization.npz`, the default): one ``.npy``
  member per name in a zip archive, exactly the layout of :func:`numpy.savez`,
  so ``numpy.load`` reads the files too;
* ``.safetensors`` (:mod:`~tinygrad_memo.serialization.safetensors`): the
  standard no-pickle weight format, written with numpy alone; PyTorch reads it
  with ``safetensors.torch.load_file`` and writes it with ``save_file``. It also
  carries ``metadata`` (str -> str).

:func:`load` never unpickles: a file that would need pickle (an object array,
a pickled object) is refused with a ValueError, so loading an untrusted file
cannot run code; a malformed file is refused before its data is read.

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

import os
from pathlib import Path

from . import npz, safetensors
from .common import MAX_BYTES, as_arrays, atomic_write, is_file_object

__all__ = ["MAX_BYTES", "load", "load_metadata", "save"]

FORMATS = {"npz": npz.SUFFIX, "safetensors": safetensors.SUFFIX}


def _format(path, format, where: str) -> str:
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"{where}: format must be one of {sorted(FORMATS)} or None (from "
                             f"the file name), got {format!r}")
        return format
    if not is_file_object(path) and os.fspath(path).endswith(safetensors.SUFFIX):
        return "safetensors"
    return "npz"


def save(state_dict, path, *, compress=False, metadata=None, format=None):
    """Write ``state_dict`` (a mapping of str name -> array-like) to a file.

    Values may be numpy arrays, objects with ``__array__`` (Tensors), Python
    or numpy numbers, (nested) lists of numbers, or scalar Values (their
    ``.data``); numbers are stored as 0-d arrays. Arrays holding Python
    objects are refused (ValueError). Names are kept exactly, in insertion
    order (dots and slashes are fine).

    The format comes from the name: ``*.safetensors`` is written in the
    safetensors format (``metadata``: a str -> str mapping stored in its
    header; dtypes the format lacks, such as complex128, are refused), anything
    else as ``.npz``: like :func:`numpy.savez`, ``.npz`` is appended to a
    ``path`` that does not already end with it, and ``compress=True`` deflates
    the members. ``format="npz"`` or ``"safetensors"`` overrides the name (and
    is how a binary file object, written as is, gets the safetensors format).
    The file is written to a temporary name in the same folder and then
    renamed, so an existing file is never left half-written; it gets the
    permissions the umask gives. Returns the :class:`pathlib.Path` written (or
    the file object).

    >>> import os, tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> save({"w": np.arange(3.0)}, os.path.join(folder, "ckpt.npz")).name
    'ckpt.npz'
    >>> save({"w": np.arange(3.0)}, os.path.join(folder, "m.safetensors")).name
    'm.safetensors'
    """
    fmt = _format(path, format, "save")
    arrays = as_arrays(state_dict)
    if fmt == "safetensors":
        if compress:
            raise ValueError("save: the safetensors format is never compressed; use .npz "
                             "for compress=True")

        def write(f):
            safetensors.write(f, arrays, metadata)
    else:
        if metadata is not None:
            raise ValueError("save: .npz files carry no metadata; name the file "
                             "*.safetensors to store metadata")

        def write(f):
            npz.write(f, arrays, compress)
    if is_file_object(path):
        write(path)
        return path
    path = Path(os.fspath(path))
    if not path.name.endswith(FORMATS[fmt]):
        path = path.with_name(path.name + FORMATS[fmt])
    atomic_write(path, write)
    return path


def load(path, *, max_bytes: int = MAX_BYTES, format=None) -> dict:
    """Read a file written by :func:`save` (or by :func:`numpy.savez`, or a
    ``*.safetensors`` file written by any safetensors writer, PyTorch's included).

    Returns a dict name -> numpy array in the file's order (numbers saved from
    floats come back as 0-d arrays: ``float(state["lr"])``); every name
    :func:`save` accepts comes back exactly. The format comes from the name
    (``*.safetensors``, else ``.npz``) or from ``format=``; an open binary file
    is read as ``.npz`` unless ``format="safetensors"``. Loading never
    unpickles: a file containing an object array or pickled data raises
    ValueError naming the entry, and so does a file that is not of its format,
    a truncated or corrupt entry, a malformed safetensors header (overlapping
    offsets, lengths past the end, a header over 100 MB, bf16 and the other
    dtypes numpy lacks), or arrays that would need more than ``max_bytes``
    bytes in all (8 GiB by default: the headers are read first, so a small
    crafted file cannot make it allocate more). Unlike :func:`save`, ``load``
    appends no suffix (as :func:`numpy.load`); the FileNotFoundError suggests
    it when that file exists.

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save({"a.b": np.ones((2, 2), np.float32)}, os.path.join(tempfile.mkdtemp(), "m"))
    >>> load(path)["a.b"].shape
    (2, 2)
    """
    fmt = _format(path, format, "load")
    where = "the file object" if is_file_object(path) else repr(os.fspath(path))
    if not is_file_object(path):
        _exists(Path(os.fspath(path)))
    if fmt == "safetensors":
        return safetensors.read(path, where, max_bytes)[0]
    return npz.read(path, where, max_bytes)


def load_metadata(path) -> dict:
    """The metadata (str -> str) of a ``*.safetensors`` file, ``{}`` when it has none
    (the whole header is checked as :func:`load` checks it; no data is read).

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = save({"w": np.ones(2)}, os.path.join(tempfile.mkdtemp(), "m.safetensors"),
    ...             metadata={"epoch": "3"})
    >>> load_metadata(path)
    {'epoch': '3'}
    """
    where = "the file object" if is_file_object(path) else repr(os.fspath(path))
    if not is_file_object(path):
        p = Path(os.fspath(path))
        _exists(p)
        if not p.name.endswith(safetensors.SUFFIX):
            raise ValueError(f"load_metadata: {where} is not a *.safetensors file (only that "
                             "format carries metadata)")
    return safetensors.read_metadata(path, where)


def _exists(p: Path) -> None:
    if not p.exists():
        hint = ""
        if not p.name.endswith(".npz") and p.with_name(p.name + ".npz").exists():
            hint = f" (save() appends .npz: did you mean {os.fspath(p) + '.npz'!r}?)"
        raise FileNotFoundError(f"load: no such file {os.fspath(p)!r}{hint}")
