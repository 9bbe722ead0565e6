"""Weights that move: a model trained here, saved with ``tm.save(..., "*.safetensors")``,
loads into the same model written in PyTorch (``safetensors.torch.load_file`` and a
strict ``load_state_dict``) and gives the same outputs; and the reverse direction.
PyTorch's names and layouts are the library's, so no key is renamed, no array
transposed."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import nn, optim
from tinygrad_memo.nn import functional as F

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
tnn = torch.nn


def cnn_pair():
    """The same CNN in both libraries (NCHW 1x8x8 images, 10 classes)."""
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 10))
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                            tnn.Conv2d(4, 8, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(8 * 2 * 2, 10))
    return ours, theirs


def mlp_pair():
    """A small character-level next-token MLP: a context of 3 one-hot characters (27
    classes) -> LayerNorm'd tanh hidden layer -> logits."""
    ours = nn.Sequential(nn.Linear(3 * 27, 32), nn.LayerNorm(32), nn.Tanh(), nn.Linear(32, 27))
    theirs = tnn.Sequential(tnn.Linear(3 * 27, 32), tnn.LayerNorm(32), tnn.Tanh(),
                            tnn.Linear(32, 27))
    return ours, theirs


def char_pair():
    """makemore's character model: a context of 3 characters (27 classes), each looked up in
    an Embedding, flattened -> Linear -> BatchNorm1d -> tanh -> logits of the next character.
    The BatchNorm's running statistics (buffers) travel with the weights."""
    def build(nn):
        return nn.Sequential(nn.Embedding(27, 8), nn.Flatten(), nn.Linear(3 * 8, 32, bias=False),
                             nn.BatchNorm1d(32), nn.Tanh(), nn.Linear(32, 27))
    return build(nn), build(tnn)


def _data(kind: str, n: int, seed: int):
    g = np.random.default_rng(seed)
    if kind == "cnn":
        x = g.normal(size=(n, 1, 8, 8)).astype(np.float32)
        return x, g.integers(0, 10, size=n)
    if kind == "char":  # integer contexts: the Embedding's indices
        return g.integers(0, 27, size=(n, 3)), g.integers(0, 27, size=n)
    chars = g.integers(0, 27, size=(n, 3))
    return np.eye(27, dtype=np.float32)[chars].reshape(n, 3 * 27), g.integers(0, 27, size=n)


PAIRS = {"cnn": cnn_pair, "mlp": mlp_pair, "char": char_pair}


def _train_ours(model, kind, steps=5):
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        x, y = _data(kind, 16, seed=step)
        loss = F.cross_entropy(model(tm.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def _train_theirs(model, kind, steps=5):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        x, y = _data(kind, 16, seed=step)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("kind", list(PAIRS))
def test_trained_here_runs_in_pytorch(kind, tmp_path):
    tm.manual_seed(0)
    ours, theirs = PAIRS[kind]()
    before = {k: v.copy() for k, v in ours.state_dict().items()}
    _train_ours(ours, kind)
    assert any(not np.array_equal(before[k], v) for k, v in ours.state_dict().items())
    path = tm.save(ours.state_dict(), tmp_path / "model.safetensors")

    result = theirs.load_state_dict(st_torch.load_file(path))  # strict: every key, every shape
    assert not result.missing_keys and not result.unexpected_keys
    x, _ = _data(kind, 32, seed=99)
    ours.eval()
    theirs.eval()
    with tm.no_grad():
        mine = ours(tm.Tensor(x)).numpy()
    with torch.no_grad():
        other = theirs(torch.from_numpy(x)).numpy()
    assert np.abs(mine).max() > 0.1  # a real output, not zeros
    np.testing.assert_allclose(mine, other, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", list(PAIRS))
def test_trained_in_pytorch_runs_here(kind, tmp_path):
    torch.manual_seed(0)
    ours, theirs = PAIRS[kind]()
    _train_theirs(theirs, kind)
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(theirs.state_dict(), path, metadata={"format": "pt"})

    state = tm.load(path)
    assert tm.serialization.load_metadata(path) == {"format": "pt"}
    assert set(state) == set(theirs.state_dict())
    ours.load_state_dict(state)  # strict
    for name, value in ours.state_dict().items():  # parameters and buffers
        np.testing.assert_array_equal(value, theirs.state_dict()[name].numpy())
    x, _ = _data(kind, 32, seed=98)
    theirs.eval()
    ours.eval()  # (a BatchNorm: the running statistics that came with the weights)
    with torch.no_grad():
        other = theirs(torch.from_numpy(x)).numpy()
    with tm.no_grad():
        mine = ours(tm.Tensor(x)).numpy()
    np.testing.assert_allclose(mine, other, rtol=1e-5, atol=1e-5)
    # and training goes on here from PyTorch's weights
    ours.train()
    assert np.isfinite(_train_ours(ours, kind, steps=2))


def test_a_layout_mismatch_is_refused_not_loaded():
    """The check that makes a silent transpose impossible: a Linear's (in, out) array is
    refused by shape, naming the key."""
    ours, theirs = mlp_pair()
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    state["0.weight"] = state["0.weight"].T.copy()
    with pytest.raises(ValueError, match=r"0\.weight"):
        ours.load_state_dict(state)
