"""Tests for tinygrad_memo.data and tinygrad_memo.random (no network anywhere)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import sys

import numpy as np
import pytest

from tinygrad_memo import data
from tinygrad_memo.random import manual_seed, rng

GENERATORS = {
    "moons": (data.make_moons, {}),
    "circles": (data.make_circles, {}),
    "spirals": (data.make_spirals, {}),
    "blobs": (data.make_blobs, {}),
}
N_CLASSES = {"moons": 2, "circles": 2, "spirals": 3, "blobs": 3}


# ----------------------------------------------------------------------------- global generator
def test_manual_seed_matches_default_rng_and_keeps_the_same_object():
    g = rng()
    assert manual_seed(123) is g
    expected = np.random.default_rng(123).normal(size=5)
    np.testing.assert_array_equal(g.normal(size=5), expected)
    manual_seed(123)
    np.testing.assert_array_equal(rng().normal(size=5), expected)


def test_manual_seed_rejects_bad_seeds():
    with pytest.raises(ValueError, match="non-negative"):
        manual_seed(-1)
    with pytest.raises(TypeError, match="int"):
        manual_seed(1.5)
    with pytest.raises(TypeError, match="int"):
        manual_seed(True)
    manual_seed(np.int64(3))  # numpy integers are fine


# ----------------------------------------------------------------------------- toy data sets
@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [1, 7, 100, 301])
def test_shapes_and_dtypes(name, n):
    make, kw = GENERATORS[name]
    X, y = make(n, seed=0, **kw)
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert X.flags.c_contiguous and y.flags.c_contiguous
    assert np.isfinite(X).all()
    assert set(np.unique(y)) <= set(range(N_CLASSES[name]))


@pytest.mark.parametrize("name", GENERATORS)
def test_zero_samples(name):
    X, y = GENERATORS[name][0](0, seed=0)
    assert X.shape == (0, 2) and y.shape == (0,)


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(name):
    make, kw = GENERATORS[name]
    X1, y1 = make(200, seed=7, **kw)
    X2, y2 = make(200, seed=7, **kw)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(200, seed=8, **kw)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", GENERATORS)
def test_seed_none_uses_the_global_generator(name):
    make, kw = GENERATORS[name]
    manual_seed(5)
    X1, y1 = make(50, **kw)
    X1b, _ = make(50, **kw)  # the generator moved on: different data
    manual_seed(5)
    X2, y2 = make(50, **kw)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X1b)


def test_a_generator_can_be_passed_as_seed():
    X1, _ = data.make_moons(40, seed=np.random.default_rng(3))
    X2, _ = data.make_moons(40, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(X1, X2)


@pytest.mark.parametrize(
    "name, n, counts",
    [
        ("moons", 100, [50, 50]),
        ("moons", 101, [50, 51]),
        ("circles", 100, [50, 50]),
        ("spirals", 300, [100, 100, 100]),
        ("spirals", 301, [101, 100, 100]),
        ("blobs", 90, [30, 30, 30]),
    ],
)
def test_class_balance(name, n, counts):
    _, y = GENERATORS[name][0](n, seed=1)
    assert np.bincount(y, minlength=len(counts)).tolist() == counts


def test_rows_are_shuffled():
    _, y = data.make_moons(200, seed=0)
    # not all of class 0 first: the first half holds both classes
    assert 0 < y[:100].sum() < 100


def test_moons_without_noise_lie_on_the_half_circles():
    X, y = data.make_moons(200, noise=0.0, seed=0)
    X = X.astype(np.float64)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_moons_are_separable_ish():
    X, y = data.make_moons(1000, noise=0.1, seed=0)
    X = X.astype(np.float64)
    # a cubic-feature linear classifier fitted by least squares to +-1 targets separates them
    x0, x1 = X[:, 0], X[:, 1]
    F = np.stack([np.ones_like(x0), x0, x1, x0**2, x0 * x1, x1**2, x0**3, x1**3], axis=1)
    t = np.where(y == 1, 1.0, -1.0)
    w, *_ = np.linalg.lstsq(F, t, rcond=None)
    acc = np.mean((F @ w > 0) == (y == 1))
    assert acc > 0.95
    # ... while a straight line does clearly worse (the moons interleave)
    L = F[:, :3]
    w_lin, *_ = np.linalg.lstsq(L, t, rcond=None)
    assert np.mean((L @ w_lin > 0) == (y == 1)) < acc - 0.03


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.3])
def test_noise_is_the_standard_deviation(noise):
    X, y = data.make_moons(4000, noise=noise, seed=0)
    upper = X[y == 0].astype(np.float64)
    # radial deviation from the unit half circle: about |N(0, noise)|, mean noise * sqrt(2/pi)
    dev = np.abs(np.hypot(upper[:, 0], upper[:, 1]) - 1.0).mean()
    assert dev == pytest.approx(noise * np.sqrt(2 / np.pi), rel=0.1, abs=1e-6)


def test_circles_radii_and_factor():
    X, y = data.make_circles(200, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    for bad in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(ValueError, match="factor"):
            data.make_circles(10, factor=bad)


def test_spirals_classes_and_radius():
    X, y = data.make_spirals(500, classes=5, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [100] * 5
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="classes"):
        data.make_spirals(10, classes=0)


def test_blobs_centers_and_std():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    X, y = data.make_blobs(4000, centers=centers, std=0.5, seed=0)
    for j in range(2):
        np.testing.assert_allclose(X[y == j].mean(axis=0), centers[j], atol=0.05)
        np.testing.assert_allclose(X[y == j].std(axis=0), 0.5, atol=0.05)
    # random centers lie in the box [-10, 10]^2
    X, y = data.make_blobs(300, centers=4, std=0.0, seed=0)
    assert len(np.unique(X, axis=0)) == 4 and np.abs(X).max() <= 10.0
    with pytest.raises(ValueError, match="centers"):
        data.make_blobs(10, centers=np.zeros((3, 3)))


@pytest.mark.parametrize("name", GENERATORS)
def test_bad_arguments(name):
    make = GENERATORS[name][0]
    with pytest.raises(ValueError, match="n must be at least 0"):
        make(-1)
    with pytest.raises(TypeError, match="n must be an int"):
        make(2.5)
    with pytest.raises(TypeError, match="seed"):
        make(10, seed="abc")
    with pytest.raises(ValueError, match="seed"):
        make(10, seed=-3)
    spread = "std" if name == "blobs" else "noise"
    with pytest.raises(ValueError, match=spread):
        make(10, **{spread: -0.1})


# ----------------------------------------------------------------------------- minibatches
def test_minibatches_in_order_are_views():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    batches = list(data.minibatches(X, y, batch_size=4, shuffle=False))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)
    assert all(np.shares_memory(xb, X) for xb, _ in batches)


def test_minibatches_shuffled_cover_every_row_once_and_keep_pairs():
    X = np.arange(30, dtype=np.float32).reshape(15, 2)
    y = np.arange(15)
    batches = list(data.minibatches(X, y, batch_size=4, seed=0))
    ys = np.concatenate([yb for _, yb in batches])
    assert sorted(ys.tolist()) == list(range(15))
    assert ys.tolist() != list(range(15))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb, X[yb])  # rows stay with their labels


def test_minibatches_drop_last_and_seeds():
    X, y = np.zeros((10, 3)), np.arange(10)
    assert [len(b[1]) for b in data.minibatches(X, y, 3, drop_last=True, seed=0)] == [3, 3, 3]
    assert [len(b[1]) for b in data.minibatches(X, y, 5, drop_last=True, seed=0)] == [5, 5]

    def order(**kw):
        return np.concatenate([yb for _, yb in data.minibatches(X, y, 3, **kw)]).tolist()

    assert order(seed=1) == order(seed=1)
    assert order(seed=1) != order(seed=2)
    manual_seed(0)
    first_epoch, second_epoch = order(), order()
    assert first_epoch != second_epoch  # seed=None: a fresh order each epoch
    manual_seed(0)
    assert order() == first_epoch


def test_minibatches_checks_arguments_eagerly():
    X, y = np.zeros((10, 2)), np.zeros(9)
    with pytest.raises(ValueError, match="different numbers of samples"):
        data.minibatches(X, y, 2)  # raised at the call, before iterating
    with pytest.raises(ValueError, match="batch_size"):
        data.minibatches(X, np.zeros(10), 0)
    with pytest.raises(ValueError, match="first"):
        data.minibatches(np.float32(1.0), np.zeros(1), 1)


def test_minibatches_accepts_lists():
    batches = list(data.minibatches([[1, 2], [3, 4], [5, 6]], [0, 1, 0], 2, shuffle=False))
    assert isinstance(batches[0][0], np.ndarray) and batches[0][0].shape == (2, 2)


# ----------------------------------------------------------------------------- digits
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None


@pytest.mark.skipif(not HAVE_SKLEARN, reason="scikit-learn not installed")
def test_load_digits():
    X_train, y_train, X_test, y_test = data.load_digits(test_fraction=0.2, seed=0)
    assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    again = data.load_digits(test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again[0], X_train)
    np.testing.assert_array_equal(again[3], y_test)
    other = data.load_digits(test_fraction=0.2, seed=1)
    assert not np.array_equal(other[3], y_test)
    # train and test together are exactly the whole set (a partition of its rows)
    from sklearn.datasets import load_digits

    full = load_digits().data.astype(np.float32) / 16
    both = np.concatenate([X_train, X_test])
    np.testing.assert_array_equal(np.unique(both, axis=0), np.unique(full, axis=0))
    assert len(both) == len(full) == 1797


def test_load_digits_without_sklearn_says_how_to_install(monkeypatch):
    # a None entry in sys.modules makes `import sklearn...` raise ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn") as info:
        data.load_digits()
    assert "\n" not in str(info.value)


def test_load_digits_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.0)


# ----------------------------------------------------------------------------- IDX files
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64, ">i4", "<f8"]
)
def test_idx_round_trip(tmp_path, suffix, dtype):
    dtype = np.dtype(dtype)
    a = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4)
    if dtype.kind == "u":
        a = a + 7
    if dtype.kind == "f":
        a = a * 1.5
    a = a.astype(dtype)
    path = data.write_idx(tmp_path / f"x-idx3{suffix}", a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    b = data.read_idx(path)
    assert b.dtype == dtype.newbyteorder("=") and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # a writable array, not a view of the file's bytes


def test_idx_header_layout(tmp_path):
    path = data.write_idx(tmp_path / "t", np.array([[1, 2, 3]], dtype=np.int16))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert raw[4:12] == (1).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert raw[12:] == np.array([1, 2, 3], dtype=">i2").tobytes()


def test_read_idx_detects_gzip_by_content(tmp_path):
    data.write_idx(tmp_path / "a", np.arange(5, dtype=np.uint8))
    (tmp_path / "b-no-suffix").write_bytes(gzip.compress((tmp_path / "a").read_bytes()))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b-no-suffix"), np.arange(5))


def test_read_idx_errors(tmp_path):
    good = data.write_idx(tmp_path / "good", np.zeros((2, 3), np.uint8)).read_bytes()
    cases = {
        "bad-magic": (b"\x12\x34" + good[2:], "bad magic number 0x12340802"),
        "bad-type": (b"\x00\x00\x07\x02" + good[4:], "bad magic number 0x00000702"),
        "short": (b"\x00\x00", "too short"),
        "truncated-header": (good[:6], "truncated"),
        "truncated-data": (good[:-1], "5 bytes of data"),
        "extra-data": (good + b"\x00", "7 bytes of data"),
    }
    for name, (payload, message) in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(ValueError, match=message):
            data.read_idx(tmp_path / name)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(ValueError, match="corrupt gzip"):
        data.read_idx(tmp_path / "bad.gz")


def test_write_idx_refuses_unsupported_dtypes(tmp_path):
    for bad in (np.int64, np.bool_, np.complex64):
        with pytest.raises(ValueError, match="cannot store dtype"):
            data.write_idx(tmp_path / "x", np.zeros(3, dtype=bad))


# ----------------------------------------------------------------------------- MNIST
def _write_mnist(folder, prefix="train", n=5, rows=28, cols=28, gz_images=True, gz_labels=False):
    g = np.random.default_rng(0)
    images = g.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = g.integers(0, 10, size=n).astype(np.uint8)
    data.write_idx(folder / f"{prefix}-images-idx3-ubyte{'.gz' if gz_images else ''}", images)
    data.write_idx(folder / f"{prefix}-labels-idx1-ubyte{'.gz' if gz_labels else ''}", labels)
    return images, labels


@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k")])
@pytest.mark.parametrize("gz_images, gz_labels", [(True, False), (False, True), (True, True)])
def test_load_mnist(tmp_path, kind, prefix, gz_images, gz_labels):
    images, labels = _write_mnist(tmp_path, prefix, gz_images=gz_images, gz_labels=gz_labels)
    X, y = data.load_mnist(tmp_path, kind=kind)
    assert X.shape == (5, 784) and X.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(5, -1) / 255.0, rtol=1e-6)
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(y, labels)
    X3, _ = data.load_mnist(str(tmp_path), kind=kind, flatten=False)
    assert X3.shape == (5, 28, 28)


def test_load_mnist_missing_file_is_named_and_never_downloads(tmp_path, monkeypatch):
    def no_network(url, timeout=60.0):
        raise AssertionError(f"tried the network: {url}")

    monkeypatch.setattr(data, "_fetch", no_network)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte") as info:
        data.load_mnist(tmp_path)
    assert "download=True" in str(info.value)
    data.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)


def test_load_mnist_checks_magic_numbers_and_counts(tmp_path):
    _write_mnist(tmp_path, "train", n=4)
    # labels stored as int32: IDX-valid but not MNIST's magic
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="magic number 0x00000C01"):
        data.load_mnist(tmp_path)
    # images and labels swapped
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((4, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="MNIST labels have 0x00000801"):
        data.load_mnist(tmp_path)
    data.write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="MNIST images have 0x00000803"):
        data.load_mnist(tmp_path)
    # counts differ
    data.write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8))
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="4 images but .* 3 labels"):
        data.load_mnist(tmp_path)
    # a corrupted file: bad magic bytes
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\xff\xff\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="bad magic number"):
        data.load_mnist(tmp_path)


def test_load_mnist_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        data.load_mnist(tmp_path, kind="validation")
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(ValueError, match="folder"):
        data.load_mnist(f)


def test_load_mnist_download_uses_the_cache_and_checks_md5(tmp_path, monkeypatch):
    # a fake network: serves small IDX files; MD5s patched to match them
    folder = tmp_path / "serve"
    folder.mkdir()
    images, labels = _write_mnist(folder, "t10k", n=3, gz_images=True, gz_labels=True)
    served = {p.name: p.read_bytes() for p in folder.iterdir()}

    monkeypatch.setattr(data, "MNIST_MD5", {k: hashlib.md5(v).hexdigest() for k, v in served.items()})
    fetched = []

    def fake_fetch(url, timeout=60.0):
        fetched.append(url)
        return served[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(data, "_fetch", fake_fetch)
    monkeypatch.setattr(data, "MNIST_CACHE", tmp_path / "cache")
    X, y = data.load_mnist(kind="test", download=True)
    assert len(fetched) == 2 and all(u.startswith(data.MNIST_MIRRORS[0]) for u in fetched)
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(served)
    # second call: files are cached, no fetch
    data.load_mnist(kind="test", download=True)
    assert len(fetched) == 2

    # a corrupted download on the first mirror falls back to the second; all bad -> OSError
    (tmp_path / "cache2").mkdir()
    calls = []

    def flaky(url, timeout=60.0):
        calls.append(url)
        if url.startswith(data.MNIST_MIRRORS[0]):
            return b"corrupted"
        return served[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(data, "_fetch", flaky)
    data.load_mnist(tmp_path / "cache2", kind="test", download=True)
    assert len(calls) == 4

    def offline(url, timeout=60.0):
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "_fetch", offline)
    with pytest.raises(OSError, match="could not download t10k-images-idx3-ubyte.gz"):
        data.load_mnist(tmp_path / "cache3", kind="test", download=True)
    assert not any((tmp_path / "cache3").iterdir())  # no partial files left
