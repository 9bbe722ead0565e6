"""Data: toy 2-D classification sets, minibatches, and real data (digits, MNIST).

Every toy generator returns ``(X, y)``: ``X`` float32 of shape ``(n, 2)``, ``y``
int64 of shape ``(n,)``, rows in random order, classes as balanced as ``n``
allows. ``seed`` may be an int (same seed, same data), a
:class:`numpy.random.Generator`, or None to draw from the library's global
generator (:func:`tinygrad_memo.random.rng`, reseeded by ``tm.manual_seed``).

>>> from tinygrad_memo import data
>>> X, y = data.make_moons(100, seed=0)
>>> X.shape, X.dtype, y.shape, y.dtype
((100, 2), dtype('float32'), (100,), dtype('int64'))
>>> for Xb, yb in data.minibatches(X, y, batch_size=32, seed=0):
...     pass
>>> Xb.shape
(4, 2)

Real data: :func:`load_digits` (the 8x8 handwritten digits bundled with
scikit-learn) and :func:`load_mnist` (MNIST from its standard IDX files in a
local folder, optionally downloaded to ``~/.cache/tinygrad_memo/mnist``).
:func:`read_idx` and :func:`write_idx` read and write the IDX format itself.
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import operator
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import random as _random

__all__ = [
    "load_digits",
    "load_mnist",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "minibatches",
    "read_idx",
    "write_idx",
]


# ----------------------------------------------------------------------------- helpers
def _generator(seed, where: str) -> np.random.Generator:
    """The generator to draw from: the global one, a given Generator, or a fresh seeded one."""
    if seed is None:
        return _random.rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{where}: seed must be an int, a numpy Generator or None, "
            f"got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{where}: seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


def _count(n, where: str, name: str = "n", minimum: int = 0) -> int:
    if isinstance(n, bool):
        raise TypeError(f"{where}: {name} must be an int, got bool {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an int, got {type(n).__name__} {n!r}") from None
    if n < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}, got {n}")
    return n


def _nonnegative(x, where: str, name: str) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be a number, got {type(x).__name__} {x!r}") from None
    if not (x >= 0.0 and np.isfinite(x)):
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {x}")
    return x


def _split_counts(n: int, k: int) -> list[int]:
    """Split n into k counts that differ by at most one (the first ones get the extra)."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _finish(X: np.ndarray, y: np.ndarray, g: np.random.Generator):
    """Shuffle the rows and return (float32 X, int64 y)."""
    perm = g.permutation(len(y))
    return (
        np.ascontiguousarray(X[perm], dtype=np.float32),
        np.ascontiguousarray(y[perm], dtype=np.int64),
    )


# ----------------------------------------------------------------------------- toy data
def make_moons(n, noise=0.1, seed=None):
    """Two interleaving half circles: class 0 the upper moon, class 1 the lower one.

    ``n // 2`` points in class 0 and the rest in class 1, evenly spaced along
    each moon (as scikit-learn does), then Gaussian noise of standard deviation
    ``noise`` added to both coordinates.

    >>> X, y = make_moons(200, noise=0.1, seed=0)
    >>> X.shape, X.dtype, y.dtype
    ((200, 2), dtype('float32'), dtype('int64'))
    >>> np.bincount(y).tolist()
    [100, 100]
    """
    n = _count(n, "make_moons")
    noise = _nonnegative(noise, "make_moons", "noise")
    g = _generator(seed, "make_moons")
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    if noise > 0:
        X = X + g.normal(scale=noise, size=X.shape)
    return _finish(X, y, g)


def make_circles(n, noise=0.05, factor=0.5, seed=None):
    """A small circle inside a large one: class 0 on radius 1, class 1 on radius ``factor``.

    ``n // 2`` points in class 0 and the rest in class 1, evenly spaced in
    angle, then Gaussian noise of standard deviation ``noise``; ``0 < factor < 1``.

    >>> X, y = make_circles(100, noise=0.0, factor=0.5, seed=0)
    >>> r = np.hypot(X[:, 0], X[:, 1])
    >>> bool(np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.5))
    True
    """
    n = _count(n, "make_circles")
    noise = _nonnegative(noise, "make_circles", "noise")
    factor = float(factor)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must be strictly between 0 and 1, got {factor}")
    g = _generator(seed, "make_circles")
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    if noise > 0:
        X = X + g.normal(scale=noise, size=X.shape)
    return _finish(X, y, g)


def make_spirals(n, classes=3, noise=0.2, seed=None):
    """Interleaved spiral arms, one per class (the CS231n data set).

    Class ``j`` gets about ``n / classes`` points at radii evenly spaced in
    [0, 1] along an arm that turns 4 radians, starting at angle ``4 j``;
    ``noise`` is the standard deviation of Gaussian noise on the angle (radians).

    >>> X, y = make_spirals(300, classes=3, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    >>> bool(np.abs(X).max() <= 1.0)
    True
    """
    n = _count(n, "make_spirals")
    classes = _count(classes, "make_spirals", "classes", minimum=1)
    noise = _nonnegative(noise, "make_spirals", "noise")
    g = _generator(seed, "make_spirals")
    Xs, ys = [], []
    for j, m in enumerate(_split_counts(n, classes)):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), m)
        if noise > 0:
            t = t + g.normal(scale=noise, size=m)
        Xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, j, dtype=np.int64))
    return _finish(np.concatenate(Xs), np.concatenate(ys), g)


def make_blobs(n, centers=3, std=1.0, seed=None):
    """Isotropic Gaussian blobs, one class per center.

    ``centers`` is a number of centers (drawn uniformly from the box
    [-10, 10]^2, as scikit-learn does) or an array of shape ``(k, 2)`` of
    centers. Class ``j`` gets about ``n / k`` points around center ``j`` with
    standard deviation ``std`` in each coordinate.

    >>> X, y = make_blobs(90, centers=[[0, 0], [5, 5], [-5, 5]], std=0.5, seed=0)
    >>> np.bincount(y).tolist()
    [30, 30, 30]
    >>> np.round(X[y == 1].mean(axis=0)).tolist()
    [5.0, 5.0]
    """
    n = _count(n, "make_blobs")
    std = _nonnegative(std, "make_blobs", "std")
    g = _generator(seed, "make_blobs")
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        k = _count(centers, "make_blobs", "centers", minimum=1)
        C = g.uniform(-10.0, 10.0, size=(k, 2))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[1] != 2 or C.shape[0] < 1:
            raise ValueError(
                f"make_blobs: centers must be an int or an array of shape (k, 2), "
                f"got shape {C.shape}"
            )
        k = C.shape[0]
    counts = _split_counts(n, k)
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    X = C[y] + (g.normal(scale=std, size=(n, 2)) if std > 0 else 0.0)
    return _finish(X, y, g)


# ----------------------------------------------------------------------------- minibatches
def minibatches(X, y, batch_size, shuffle=True, seed=None, drop_last=False):
    """Iterate over ``(X_batch, y_batch)`` pairs covering the data once (one epoch).

    With ``shuffle=True`` the rows are visited in a random order (a fresh one on
    every call when ``seed`` is None; a fixed one for an int ``seed``) and the
    batches are copies; with ``shuffle=False`` they are views ``X[i:i + batch_size]``
    in order. The last batch is smaller when ``batch_size`` does not divide
    ``len(X)``, unless ``drop_last=True`` drops it. Arguments are checked when
    the function is called, not when iteration starts.

    >>> X = np.arange(10, dtype=np.float32).reshape(5, 2)
    >>> y = np.arange(5)
    >>> [yb.tolist() for _, yb in minibatches(X, y, batch_size=2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    >>> len(list(minibatches(X, y, batch_size=2, seed=0, drop_last=True)))
    2
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"minibatches: X and y need a first (sample) axis, got shapes {X.shape} and {y.shape}"
        )
    if len(X) != len(y):
        raise ValueError(
            f"minibatches: X and y have different numbers of samples: "
            f"{len(X)} (shape {X.shape}) and {len(y)} (shape {y.shape})"
        )
    batch_size = _count(batch_size, "minibatches", "batch_size", minimum=1)
    order = _generator(seed, "minibatches").permutation(len(X)) if shuffle else None
    return _batches(X, y, batch_size, order, bool(drop_last))


def _batches(X, y, batch_size, order, drop_last) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(X)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        if order is None:
            yield X[i : i + batch_size], y[i : i + batch_size]
        else:
            idx = order[i : i + batch_size]
            yield X[idx], y[idx]


# ----------------------------------------------------------------------------- digits
def load_digits(test_fraction=0.2, seed=0):
    """The 8x8 handwritten digits (1,797 images, 10 classes), split into train and test.

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 of shape
    ``(m, 64)`` with pixel values scaled from 0..16 to [0, 1], y int64 in 0..9.
    The split is a random permutation fixed by ``seed``; the test set has
    ``round(test_fraction * 1797)`` images. Needs scikit-learn, which ships
    the data (no download); without it this raises ImportError.

    >>> import importlib.util
    >>> if importlib.util.find_spec("sklearn") is not None:  # scikit-learn is optional
    ...     X_train, y_train, X_test, y_test = load_digits(test_fraction=0.2, seed=0)
    ...     assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    ...     assert X_train.dtype == np.float32 and 0.0 <= X_train.min() <= X_train.max() <= 1.0
    """
    test_fraction = float(test_fraction)
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in [0, 1), got {test_fraction}")
    g = _generator(seed, "load_digits")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn for its bundled copy of the digits: "
            "pip install scikit-learn"
        ) from None
    bunch = _sk_load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(bunch.target, dtype=np.int64)
    perm = g.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]


# ----------------------------------------------------------------------------- IDX files
# The IDX format (used by MNIST): a 4-byte magic number 0x00 0x00 <type> <ndim>, then
# ndim big-endian uint32 sizes, then the data in C order, big-endian.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            name = os.fspath(path)
            raise ValueError(f"read_idx: {name!r} is a corrupt gzip file ({e})") from None
    return raw


def _parse_idx(raw: bytes, name: str) -> tuple[int, np.ndarray]:
    """Parse IDX bytes; return (magic number, array in native byte order)."""
    if len(raw) < 4:
        raise ValueError(f"read_idx: {name!r} is too short for an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {name!r} has a bad magic number 0x{magic:08X}: an IDX file starts "
            f"with 0x00 0x00, a type byte in "
            f"{{{', '.join(f'0x{c:02X}' for c in _IDX_TYPES)}}}, then the number of dimensions"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"read_idx: {name!r} is truncated: its header needs {header} bytes for "
            f"{ndim} dimensions, the file has {len(raw)}"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"read_idx: {name!r} has {len(raw) - header} bytes of data, but its header "
            f"(magic 0x{magic:08X}, shape {shape}, {dtype.itemsize}-byte items) "
            f"says {expected}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header, count=expected // dtype.itemsize)
    return magic, data.reshape(shape).astype(dtype.newbyteorder("="))  # a native, writable copy


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw, or gzip-compressed: detected from its content) into an array.

    The array has the file's shape and element type in native byte order
    (uint8, int8, int16, int32, float32 or float64). A bad magic number or a
    size that does not match the header raises ValueError.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> _ = write_idx(path, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    >>> read_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    return _parse_idx(_read_bytes(path), os.fspath(path))[1]


def write_idx(path, array) -> Path:
    """Write ``array`` to an IDX file; gzip-compressed when ``path`` ends with ``.gz``.

    Supported element types are those of the format: uint8, int8, int16,
    int32, float32 and float64 (others raise ValueError; cast first). Returns
    the path written.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(path, np.array([7, 2, 1], dtype=np.uint8)).name
    'labels-idx1-ubyte'
    >>> read_idx(path).tolist()
    [7, 2, 1]
    """
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=") if a.dtype.byteorder != "|" else a.dtype
    code = _IDX_CODES.get(native)
    if code is None:
        raise ValueError(
            f"write_idx: the IDX format cannot store dtype {a.dtype}; use one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if a.ndim > 255 or any(s >= 2**32 for s in a.shape):
        raise ValueError(f"write_idx: shape {a.shape} does not fit an IDX header")
    header = bytes([0, 0, code, a.ndim]) + b"".join(s.to_bytes(4, "big") for s in a.shape)
    payload = header + np.ascontiguousarray(a, dtype=_IDX_TYPES[code]).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


# ----------------------------------------------------------------------------- MNIST
MNIST_CACHE = Path("~/.cache/tinygrad_memo/mnist")
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MNIST_KINDS = {"train": "train", "test": "t10k", "t10k": "t10k"}
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


def _find_idx(folder: Path, stem: str) -> Path | None:
    """The file for ``stem`` in folder: raw or .gz, also the common ``.idx3-ubyte`` spelling."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    """Download ``url`` (the only function here that touches the network)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _download_mnist_file(name: str, folder: Path) -> Path:
    """Download MNIST file ``name`` (a .gz) into folder, checking its MD5; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in MNIST_MIRRORS:
        url = mirror + name
        try:
            payload = _fetch(url)
        except OSError as e:  # URLError, timeouts, HTTP errors
            errors.append(f"{url}: {e}")
            continue
        digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        if digest != MNIST_MD5[name]:
            errors.append(f"{url}: MD5 {digest} differs from the expected {MNIST_MD5[name]}")
            continue
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=name + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, folder / name)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return folder / name
    raise OSError(f"load_mnist: could not download {name}: " + "; ".join(errors))


def load_mnist(path=None, kind="train", *, flatten=True, download=False):
    """Load MNIST images and labels from the standard IDX files in folder ``path``.

    ``kind`` is ``"train"`` (files ``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte``) or ``"test"`` (``t10k-...``); each file may be
    raw or gzip-compressed (``.gz``). Returns ``(X, y)``: X float32 scaled from
    0..255 to [0, 1], of shape ``(n, rows * cols)`` (or ``(n, rows, cols)``
    with ``flatten=False``), and y int64 of shape ``(n,)``. Magic numbers and
    sizes are checked (ValueError when wrong). Fashion-MNIST's files, which
    have the same names and format, load too.

    ``path=None`` means the cache folder ``~/.cache/tinygrad_memo/mnist``. A
    missing file raises FileNotFoundError naming it, unless ``download=True``:
    then the ``.gz`` file is downloaded into the folder (MD5-checked) first.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"),
    ...               np.full((3, 28, 28), 255, dtype=np.uint8))
    >>> _ = write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"),
    ...               np.array([7, 2, 1], dtype=np.uint8))
    >>> X, y = load_mnist(folder, kind="test")
    >>> X.shape, X.dtype, float(X.max()), y.tolist()
    ((3, 784), dtype('float32'), 1.0, [7, 2, 1])
    """
    if kind not in _MNIST_KINDS:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    prefix = _MNIST_KINDS[kind]
    folder = (MNIST_CACHE if path is None else Path(path)).expanduser()
    if folder.is_file():
        raise ValueError(
            f"load_mnist: path must be the folder holding the IDX files, got the file {folder}"
        )

    files = {}
    for part in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = f"{prefix}-{part}"
        found = _find_idx(folder, stem)
        if found is None:
            if not download:
                raise FileNotFoundError(
                    f"load_mnist: missing MNIST file {stem} (or {stem}.gz) in {folder}; "
                    "put the IDX files there or pass download=True"
                )
            found = _download_mnist_file(stem + ".gz", folder)
        files[part] = found

    img_path, lab_path = files["images-idx3-ubyte"], files["labels-idx1-ubyte"]
    img_magic, images = _parse_idx(_read_bytes(img_path), os.fspath(img_path))
    if img_magic != _IMAGES_MAGIC:
        raise ValueError(
            f"load_mnist: {img_path} has magic number 0x{img_magic:08X} ({img_magic}); "
            f"MNIST images have 0x{_IMAGES_MAGIC:08X} ({_IMAGES_MAGIC}: unsigned bytes, 3-D)"
        )
    lab_magic, labels = _parse_idx(_read_bytes(lab_path), os.fspath(lab_path))
    if lab_magic != _LABELS_MAGIC:
        raise ValueError(
            f"load_mnist: {lab_path} has magic number 0x{lab_magic:08X} ({lab_magic}); "
            f"MNIST labels have 0x{_LABELS_MAGIC:08X} ({_LABELS_MAGIC}: unsigned bytes, 1-D)"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {img_path.name} has {len(images)} images but {lab_path.name} "
            f"has {len(labels)} labels"
        )
    X = images.astype(np.float32) / np.float32(255.0)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels.astype(np.int64)
