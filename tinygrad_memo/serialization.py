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
import secrets
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
        if "\x00" in name:
            raise ValueError(f"save: state_dict key {name!r} holds a NUL character, which a "
                             "zip member name cannot keep")
        arrays[name] = _as_array(name, value)

    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if hasattr(path, "write") and not isinstance(path, (str, os.PathLike)):
        _write_npz(path, arrays, method)
        return path

    path = Path(os.fspath(path))
    if not path.name.endswith(".npz"):
        path = path.with_name(path.name + ".npz")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # created with mode 0o666, so the umask decides the permissions (as for any new file)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
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


#: what :func:`load` allocates at most by default (its ``max_bytes``): 8 GiB
MAX_BYTES = 8 * 2**30


def load(path, *, max_bytes: int = MAX_BYTES) -> dict:
    """Read an ``.npz`` archive written by :func:`save` (or :func:`numpy.savez`).

    Returns a dict name -> numpy array in the archive's order (numbers saved
    from floats come back as 0-d arrays: ``float(state["lr"])``); every name
    :func:`save` accepts comes back exactly. Loading never unpickles: a file
    containing an object array or pickled data raises ValueError naming the
    entry, and so does a file that is not an ``.npz`` archive, a truncated or
    corrupt entry, or one whose arrays would need more than ``max_bytes`` bytes in
    all (8 GiB by default: the headers are read first, so a small crafted file
    cannot make it allocate more). Unlike :func:`save`, ``load`` does not append
    ``.npz`` (as :func:`numpy.load`); the FileNotFoundError suggests it when that
    file exists.

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
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        magic = _magic(path)
        if magic.startswith(b"\x93NUMPY"):
            raise ValueError(f"load: {where} holds a single array (.npy), not an .npz archive "
                             "of named arrays") from None
        if magic.startswith(b"PK"):
            raise ValueError(f"load: {where} is not a readable .npz archive ({e})") from None
        raise ValueError(f"load: {where} is not an .npz archive of arrays; refusing to unpickle "
                         f"it or read it otherwise ({e})") from None
    out = {}
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with zf.open(info) as member:
                    shape, dtype, read = _header(member)
                    if dtype.hasobject:
                        raise ValueError(f"load: entry {name!r} of {where} is an object array, "
                                         "which cannot be loaded without pickle; refusing it")
                    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
                    total += size
                    if total > max_bytes:
                        raise ValueError(
                            f"load: the arrays of {where} need more than max_bytes={max_bytes:,} "
                            f"bytes (entry {name!r} alone declares shape {shape} of {dtype}: "
                            f"{size:,} bytes); pass a larger max_bytes if the file is trusted"
                        )
                    value = read()
            except ValueError as e:
                if str(e).startswith("load:"):
                    raise
                raise ValueError(f"load: entry {name!r} of {where} is not a .npy array "
                                 f"({e})") from None
            except (OSError, zipfile.BadZipFile, EOFError) as e:
                raise ValueError(f"load: entry {name!r} of {where} is corrupt or truncated "
                                 f"({e})") from None
            out[name] = value
    return out


def _magic(path) -> bytes:
    """The first bytes of the file (to say what it is when it is not an archive)."""
    try:
        if hasattr(path, "read") and not isinstance(path, (str, os.PathLike)):
            path.seek(0)
            head = path.read(8)
            path.seek(0)
            return head
        with open(path, "rb") as f:
            return f.read(8)
    except OSError:
        return b""


def _header(member):
    """The (shape, dtype) an .npy member declares, and a function that reads its data
    (refusing pickled data, and a member shorter than its header says)."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"unsupported .npy format version {version}")

    def read():
        count = int(np.prod(shape, dtype=object))
        raw = member.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise EOFError(f"the data holds {len(raw):,} bytes, the header declares "
                           f"{count * dtype.itemsize:,}")
        arr = np.frombuffer(raw, dtype=dtype, count=count).copy()
        if fortran:
            return arr.reshape(shape[::-1]).transpose()
        return arr.reshape(shape)

    return tuple(shape), dtype, read
