"""The ``.npz`` format (numpy's): a zip archive of one ``.npy`` member per name.

:func:`write` produces exactly the layout of :func:`numpy.savez`, so
``numpy.load`` reads the files too; :func:`read` never unpickles.
"""

from __future__ import annotations

import zipfile

import numpy as np

from .common import declared_size, over_budget

SUFFIX = ".npz"


def write(file, arrays: dict, compress: bool = False) -> None:
    """Write ``arrays`` (name -> array) into ``file`` as an ``.npz`` archive.

    >>> import io
    >>> buf = io.BytesIO(); write(buf, {"w": np.ones(2)})
    >>> sorted(np.load(io.BytesIO(buf.getvalue())).files)
    ['w']
    """
    for name in arrays:
        if "\x00" in name:
            raise ValueError(f"save: state_dict key {name!r} holds a NUL character, which a "
                             "zip member name cannot keep")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    # numpy.savez's layout, written directly: savez(file, **arrays) would break on a key
    # named "file" or "allow_pickle", and it does not refuse object arrays by itself.
    with zipfile.ZipFile(file, mode="w", compression=method, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def read(file, where: str, max_bytes: int) -> dict:
    """The arrays of the ``.npz`` archive ``file`` (a name or an open file), refusing
    pickled data, corrupt members and more than ``max_bytes`` bytes in all; ``where``
    names the file in errors.

    >>> import io
    >>> buf = io.BytesIO(); write(buf, {"w": np.ones(2)})
    >>> read(buf, "buf", 100)["w"]
    array([1., 1.])
    """
    try:
        zf = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        magic = _magic(file)
        if magic.startswith(b"\x93NUMPY"):
            raise ValueError(f"load: {where} holds a single array (.npy), not an .npz archive "
                             "of named arrays") from None
        if magic.startswith(b"PK"):
            raise ValueError(f"load: {where} is not a readable .npz archive ({e})") from None
        hint = ""
        if len(magic) == 9 and magic[8:9] == b"{":
            hint = " (it looks like a safetensors file: name it *.safetensors)"
        raise ValueError(f"load: {where} is not an .npz archive of arrays; refusing to unpickle "
                         f"it or read it otherwise ({e}){hint}") from None
    out = {}
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with zf.open(info) as member:
                    shape, dtype, read_data = _header(member)
                    if dtype.hasobject:
                        raise ValueError(f"load: entry {name!r} of {where} is an object array, "
                                         "which cannot be loaded without pickle; refusing it")
                    size = declared_size(shape, dtype)
                    total += size
                    if total > max_bytes:
                        raise over_budget(where, name, shape, dtype, size, max_bytes)
                    value = read_data()
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


def _magic(file) -> bytes:
    """The first bytes of the file (to say what it is when it is not an archive)."""
    try:
        if hasattr(file, "read"):
            file.seek(0)
            head = file.read(9)
            file.seek(0)
            return head
        with open(file, "rb") as f:
            return f.read(9)
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

    def read_data():
        count = int(np.prod(shape, dtype=object))
        raw = member.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise EOFError(f"the data holds {len(raw):,} bytes, the header declares "
                           f"{count * dtype.itemsize:,}")
        arr = np.frombuffer(raw, dtype=dtype, count=count).copy()
        if fortran:
            return arr.reshape(shape[::-1]).transpose()
        return arr.reshape(shape)

    return tuple(shape), dtype, read_data
