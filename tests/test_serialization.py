"""Tests for tinygrad_memo.serialization: .npz state dicts, never pickle."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from tinygrad_memo import Value
from tinygrad_memo.serialization import load, save


class ArrayLike:
    """Stands in for a Tensor: anything with __array__ is stored as that array."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


def _state():
    g = np.random.default_rng(0)
    return {
        "layers.0.weight": g.normal(size=(4, 3)).astype(np.float32),
        "layers.0.bias": g.normal(size=4).astype(np.float32),
        "layers.1.weight": g.normal(size=(2, 4)),  # float64
        "step": np.int64(7),
        "mask": np.array([True, False, True]),
        "counts": np.arange(5, dtype=np.int32),
        "empty": np.zeros((0, 3), np.float32),
    }


def test_round_trip_is_exact_and_keeps_order(tmp_path):
    state = _state()
    path = save(state, tmp_path / "model.npz")
    assert path == tmp_path / "model.npz" and path.is_file()
    out = load(path)
    assert list(out) == list(state)  # insertion order, dotted names intact
    for name, value in state.items():
        assert isinstance(out[name], np.ndarray)
        assert out[name].dtype == np.asarray(value).dtype
        assert out[name].shape == np.shape(value)
        np.testing.assert_array_equal(out[name], value)
        assert out[name].tobytes() == np.asarray(value).tobytes()  # bit-exact


def test_order_is_insertion_order_not_sorted(tmp_path):
    names = ["z", "a", "m.2", "m.10", "m.1"]
    out = load(save({n: np.float32(i) for i, n in enumerate(names)}, tmp_path / "o"))
    assert list(out) == names
    assert [float(v) for v in out.values()] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_special_values_round_trip(tmp_path):
    a = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, np.finfo(np.float64).max])
    out = load(save({"a": a}, tmp_path / "s"))["a"]
    assert out.tobytes() == a.tobytes()


def test_npz_suffix_is_appended_like_numpy(tmp_path):
    p = save({"w": np.ones(2)}, tmp_path / "ckpt")
    assert p == tmp_path / "ckpt.npz" and p.is_file()
    assert not (tmp_path / "ckpt").exists()
    np.savez(tmp_path / "numpy_ckpt", w=np.ones(2))  # numpy does the same
    assert (tmp_path / "numpy_ckpt.npz").is_file()
    p = save({"w": np.ones(2)}, str(tmp_path / "second.npz"))
    assert p == tmp_path / "second.npz"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["ckpt.npz", "numpy_ckpt.npz", "second.npz"]


def test_load_missing_file_suggests_the_npz_name(tmp_path):
    save({"w": np.ones(2)}, tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match=r"did you mean .*ckpt\.npz"):
        load(tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "other.npz")


def test_numpy_can_read_our_files_and_we_read_numpys(tmp_path):
    state = _state()
    ours = save(state, tmp_path / "ours")
    with np.load(ours, allow_pickle=False) as z:
        assert z.files == list(state)
        np.testing.assert_array_equal(z["layers.0.weight"], state["layers.0.weight"])
    np.savez_compressed(tmp_path / "theirs.npz", a=np.arange(3), b=np.eye(2))
    out = load(tmp_path / "theirs.npz")
    assert list(out) == ["a", "b"]
    np.testing.assert_array_equal(out["b"], np.eye(2))


def test_compressed_round_trip(tmp_path):
    state = {"big": np.zeros((100, 100), np.float32), "x": np.arange(4.0)}
    plain = save(state, tmp_path / "plain")
    packed = save(state, tmp_path / "packed", compress=True)
    assert packed.stat().st_size < plain.stat().st_size / 10
    out = load(packed)
    for k in state:
        np.testing.assert_array_equal(out[k], state[k])


def test_array_likes_numbers_and_values(tmp_path):
    state = {
        "tensor": ArrayLike(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "lr": 0.125,
        "epoch": 3,
        "flag": True,
        "np_scalar": np.float32(2.5),
        "value": Value(1.5),
        "nested": [[1.0, 2.0], [3.0, 4.0]],
    }
    out = load(save(state, tmp_path / "mixed"))
    np.testing.assert_array_equal(out["tensor"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["tensor"].dtype == np.float32
    assert out["lr"].shape == () and out["lr"].dtype == np.float64 and float(out["lr"]) == 0.125
    assert out["epoch"].shape == () and int(out["epoch"]) == 3
    assert out["flag"].dtype == np.bool_ and bool(out["flag"])
    assert out["np_scalar"].dtype == np.float32 and float(out["np_scalar"]) == 2.5
    assert out["value"].shape == () and float(out["value"]) == 1.5
    np.testing.assert_array_equal(out["nested"], [[1.0, 2.0], [3.0, 4.0]])


def test_real_tensor_if_available(tmp_path):
    tensor = pytest.importorskip("tinygrad_memo.tensor")
    t = tensor.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = load(save({"t": t}, tmp_path / "t"))
    np.testing.assert_array_equal(out["t"], t.data)
    assert out["t"].dtype == t.data.dtype


def test_names_that_would_break_np_savez(tmp_path):
    # np.savez(file, **d) fails on a key "file" or "allow_pickle"; save must not
    state = {"file": np.ones(1), "allow_pickle": np.zeros(1), "a/b": np.arange(2), "x.npy": 1.0}
    out = load(save(state, tmp_path / "names"))
    assert list(out) == list(state)
    np.testing.assert_array_equal(out["a/b"], [0, 1])


def test_file_objects(tmp_path):
    buf = io.BytesIO()
    assert save({"w": np.arange(3)}, buf) is buf
    buf.seek(0)
    np.testing.assert_array_equal(load(buf)["w"], np.arange(3))


def test_overwrite_is_atomic_and_leaves_no_temporary_files(tmp_path):
    save({"w": np.ones(2)}, tmp_path / "m")
    with pytest.raises(ValueError):
        save({"w": np.ones(2), "bad": np.array([object()])}, tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m.npz")["w"], np.ones(2))  # old file intact
    save({"w": np.zeros(3)}, tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m.npz")["w"], np.zeros(3))
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]


# ----------------------------------------------------------------------------- refusals on save
def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match=r"state_dict\['bad'\] has dtype object.*pickle"):
        save({"bad": np.array([1, None], dtype=object)}, tmp_path / "x")
    with pytest.raises(TypeError, match=r"state_dict\['bad'\] is a NoneType"):
        save({"bad": None}, tmp_path / "x")
    with pytest.raises(ValueError, match=r"state_dict\['ragged'\] cannot be made into an array"):
        save({"ragged": [np.ones(2), np.ones(3)]}, tmp_path / "x")
    assert not any(tmp_path.iterdir())


def test_save_refuses_bad_keys_and_containers(tmp_path):
    with pytest.raises(TypeError, match="keys must be str"):
        save({0: np.ones(1)}, tmp_path / "x")
    with pytest.raises(ValueError, match="non-empty"):
        save({"": np.ones(1)}, tmp_path / "x")
    with pytest.raises(TypeError, match="mapping"):
        save([("a", np.ones(1))], tmp_path / "x")
    with pytest.raises(TypeError, match=r"state_dict\['f'\] is a function"):
        save({"f": lambda: 0}, tmp_path / "x")


# ----------------------------------------------------------------------------- refusals on load
def test_load_refuses_object_array_npz(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, fine=np.ones(2), evil=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"entry 'evil'.*without pickle") as info:
        load(path)
    assert "allow_pickle" in str(info.value) or "pickle" in str(info.value)


def test_load_refuses_a_pickle_file(tmp_path):
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="not an .npz archive.*refusing to unpickle"):
        load(path)


def test_load_refuses_npy_garbage_and_non_array_members(tmp_path):
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single array"):
        load(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load(tmp_path / "junk.npz")
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a .npy array"):
        load(tmp_path / "odd.npz")
