"""The safetensors format, written and read with numpy alone.

A file is an 8-byte little-endian header length ``N``, then ``N`` bytes of JSON
(``{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
..., "__metadata__": {"key": "value"}}``, padded with spaces), then the tensors'
raw little-endian bytes, C order, at those offsets (relative to the end of the
header). :func:`read` accepts exactly what the official ``safetensors`` package
accepts: the entries must tile the data without gaps or overlaps, each exactly
as long as its dtype and shape say, and the header may not exceed 100 MB.

>>> import io
>>> buf = io.BytesIO()
>>> write(buf, {"w": np.arange(3, dtype=np.float32)}, {"step": "7"})
>>> state, meta = read(buf, "buf", 1 << 20)
>>> state["w"], meta
(array([0., 1., 2.], dtype=float32), {'step': '7'})
"""

from __future__ import annotations

import json
import os
import struct
from math import prod

import numpy as np

from .common import over_budget

SUFFIX = ".safetensors"
#: the largest JSON header the format allows (as the official package): 100 MB
MAX_HEADER = 100_000_000
METADATA = "__metadata__"

#: the format's dtypes that numpy has, by the format's names
DTYPES = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
}
_CODE = {(d.kind, d.itemsize): code for code, d in DTYPES.items()}
#: the format's dtypes that numpy lacks (refused with a clear error)
NO_NUMPY = ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")


def dtype_code(name: str, dtype: np.dtype) -> str:
    """The format's name of a numpy dtype, or a ValueError saying it has none.

    >>> dtype_code("w", np.dtype(np.float32)), dtype_code("m", np.dtype(bool))
    ('F32', 'BOOL')
    """
    code = _CODE.get((dtype.kind, dtype.itemsize))
    if code is None:
        raise ValueError(
            f"save: state_dict[{name!r}] has dtype {dtype}, which the safetensors format "
            f"cannot hold (it holds {', '.join(DTYPES)}): convert it (for example with "
            ".astype(np.float64)) or save it as .npz")
    return code


def write(file, arrays: dict, metadata=None) -> None:
    """Write ``arrays`` (name -> array) and ``metadata`` (str -> str) to ``file``.

    The header lists the names in the order given; the data is laid out by
    decreasing item size (as the official package does), so every tensor starts
    at a multiple of its item size.
    """
    header: dict = {}
    if metadata is not None:
        header[METADATA] = check_metadata(metadata)
    arrays = dict(arrays)
    codes = {}
    for name, arr in arrays.items():
        if name == METADATA:
            raise ValueError(f"save: {METADATA!r} is the safetensors format's metadata entry; "
                             "it cannot name a tensor (pass metadata=... instead)")
        codes[name] = dtype_code(name, arr.dtype)
    layout = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)  # stable: ties keep order
    offsets, at = {}, 0
    for name in layout:
        offsets[name] = [at, at + arrays[name].nbytes]
        at += arrays[name].nbytes
    for name, arr in arrays.items():
        header[name] = {"dtype": codes[name], "shape": [int(s) for s in arr.shape],
                        "data_offsets": offsets[name]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # (the data then starts 8-byte aligned)
    file.write(struct.pack("<Q", len(text)))
    file.write(text)
    for name in layout:
        arr = arrays[name]
        little = np.ascontiguousarray(arr, dtype=DTYPES[codes[name]])
        file.write(little.reshape(-1).view(np.uint8).data)


def check_metadata(metadata) -> dict:
    """``metadata`` as a dict of str -> str (the format allows nothing else)."""
    if not hasattr(metadata, "items"):
        raise TypeError(f"save: metadata must be a mapping of str to str, got "
                        f"{type(metadata).__name__}")
    out = {}
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save: safetensors metadata maps str to str, got {k!r}: {v!r} "
                            "(write numbers with str(), structures with json.dumps)")
        out[k] = v
    return out


def read(file, where: str, max_bytes: int) -> tuple[dict, dict]:
    """``(arrays, metadata)`` of the safetensors file ``file`` (a name or an open
    binary file); ``where`` names it in errors. Every malformed header, and arrays
    needing more than ``max_bytes`` bytes in all, raise ValueError before any data
    is read."""
    if not hasattr(file, "read"):
        with open(file, "rb") as f:
            return read(f, where, max_bytes)
    entries, metadata, start = _read_header(file, where, max_bytes)
    out = {}
    for name, (dtype, shape, begin, end) in entries.items():
        file.seek(start + begin)
        buf = bytearray(end - begin)
        if file.readinto(buf) != len(buf):
            raise ValueError(f"load: entry {name!r} of {where} is truncated")
        arr = np.frombuffer(buf, dtype=dtype).reshape(shape)
        if dtype.kind == "b" and buf and max(buf) > 1:
            raise ValueError(f"load: entry {name!r} of {where} is BOOL but holds bytes other "
                             "than 0 and 1")
        out[name] = arr.astype(dtype.newbyteorder("="), copy=False)
    return out, metadata


def read_metadata(file, where: str) -> dict:
    """The ``__metadata__`` of a safetensors file (``{}`` when it has none), after
    checking the whole header."""
    if not hasattr(file, "read"):
        with open(file, "rb") as f:
            return read_metadata(f, where)
    return _read_header(file, where, None)[1]


def _read_header(f, where: str, max_bytes):
    """(entries name -> (dtype, shape, begin, end), metadata, offset of the data)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        raise ValueError(f"load: {where} holds {len(head)} bytes, too few for a safetensors "
                         "file (an 8-byte header length, then the header)")
    (n,) = struct.unpack("<Q", head)

    def bad(msg):
        return ValueError(f"load: {where} is not a valid safetensors file: {msg}")

    if n > MAX_HEADER:
        raise bad(f"its header declares {n:,} bytes, more than the format's limit of "
                  f"{MAX_HEADER:,} (100 MB); refusing to read it")
    if 8 + n > size:
        raise bad(f"its header declares {n:,} bytes but the file holds {size - 8:,} after the "
                  "length")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError) as e:
        raise bad(f"its header is not UTF-8 JSON ({e})") from None
    if not raw.startswith(b"{") or not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    metadata = header.pop(METADATA, {})
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad(f"{METADATA} must map str to str, got {metadata!r:.80}")
    data_size = size - 8 - n
    entries, total = {}, 0
    for name, info in header.items():
        dtype, shape, begin, end = _entry(name, info, where, bad)
        need = prod(shape) * dtype.itemsize
        if end - begin != need:
            raise bad(f"entry {name!r} declares shape {tuple(shape)} of {info['dtype']} "
                      f"({need:,} bytes) but data_offsets [{begin}, {end}] span {end - begin:,}")
        if end > data_size:
            raise bad(f"entry {name!r} ends at byte {end:,} of the data, past its end (the "
                      f"file holds {data_size:,} bytes of data)")
        total += need
        if max_bytes is not None and total > max_bytes:
            raise over_budget(where, name, shape, dtype, need, max_bytes)
        entries[name] = (dtype, tuple(shape), begin, end)
    at, last = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin < at:
            raise bad(f"entries {last!r} and {name!r} overlap (bytes [{entries[last][2]}, "
                      f"{entries[last][3]}) and [{begin}, {end}))")
        if begin > at:
            raise bad(f"bytes [{at}, {begin}) of the data belong to no entry")
        at, last = end, name
    if at != data_size:
        raise bad(f"bytes [{at}, {data_size}) of the data belong to no entry")
    return entries, metadata, 8 + n


def _entry(name: str, info, where: str, bad):
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise bad(f"entry {name!r} must be an object with exactly dtype, shape and "
                  f"data_offsets, got {info!r:.80}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code in NO_NUMPY:
        raise ValueError(
            f"load: entry {name!r} of {where} is {code}, which numpy has no dtype for; refusing it "
            "rather than changing its values (in PyTorch, convert it first: "
            "tensor.float() for float32)")
    if code not in DTYPES:
        raise bad(f"entry {name!r} has unknown dtype {code!r}")
    if not isinstance(shape, list) or not all(_natural(s) for s in shape):
        raise bad(f"entry {name!r} has shape {shape!r}, not a list of sizes >= 0")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_natural, offsets))
            or offsets[0] > offsets[1]):
        raise bad(f"entry {name!r} has data_offsets {offsets!r}, not [begin, end] with "
                  "0 <= begin <= end")
    return DTYPES[code], shape, offsets[0], offsets[1]


def _natural(x) -> bool:
    return type(x) is int and x >= 0


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise KeyError(f"the name {k!r} is listed twice")
        out[k] = v
    return out
