"""Smoke tests of the scripts in examples/ (except fibonacci.py, tested on its own).

Each example's ``main(argv)`` is called in-process with small settings and its
output is checked for what it claims (accuracy above chance, identical outputs
after loading, files written); each script also runs as a script (``--help``,
and one real run) in a subprocess.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["moons_micrograd.py", "custom_layer.py", "digits_classifier.py", "save_load.py",
           "cnn_digits.py", "rnn_sequence.py", "tiny_transformer.py", "makemore.py"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{Path(name).stem}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _percent(pattern: str, text: str) -> float:
    found = re.findall(pattern + r"\s*([0-9.]+)%", text)
    assert found, f"no {pattern!r} in:\n{text}"
    return float(found[-1])


def test_moons_micrograd(capsys):
    mod = _load("moons_micrograd.py")
    assert mod.main(["--n", "40", "--steps", "15", "--seed", "1337"]) == 0
    out = capsys.readouterr().out
    assert "337 Value parameters" in out
    assert _percent("final accuracy", out) >= 75.0  # chance is 50%
    steps = re.findall(r"step\s+(\d+) loss ([0-9.]+)", out)
    assert [int(s) for s, _ in steps] == [0, 10, 14]
    assert float(steps[-1][1]) < float(steps[0][1])  # the loss went down
    picture = out.split("decision regions")[1].splitlines()[1:]
    assert len(picture) == 20 and {"o", "x"} <= set("".join(picture))


def test_moons_micrograd_loss_matches_hinge_loss():
    """The example's hand-written loss is micrograd's: hinge + L2, as in nn.functional."""
    import tinygrad_memo as tm
    from tinygrad_memo import nn
    from tinygrad_memo.nn import functional as F

    mod = _load("moons_micrograd.py")
    tm.manual_seed(0)
    model = nn.scalar.MLP(2, [4, 1])
    xs, ys = [[0.5, -0.2], [1.0, 0.3], [-0.7, 0.9]], [1.0, -1.0, 1.0]
    loss, acc = mod.loss_and_accuracy(model, xs, ys, alpha=1e-3)
    expected = F.hinge_loss([model(x) for x in xs], ys).data + 1e-3 * sum(
        p.data ** 2 for p in model.parameters())
    assert loss.data == pytest.approx(expected, rel=1e-12)
    assert 0.0 <= acc <= 1.0


def test_custom_layer(capsys):
    mod = _load("custom_layer.py")
    assert mod.main(["--epochs", "25", "--hidden", "16"]) == 0
    out = capsys.readouterr().out
    assert "gradcheck Softplus: ok" in out
    assert "gradcheck GatedLinear (input, weights and biases): ok" in out
    assert "glu.gate_weight (16, 2)" in out  # the custom layer's parameters were found
    assert _percent("test accuracy", out) > 70.0  # three classes: chance is 33%


def test_custom_layer_pieces():
    import tinygrad_memo as tm

    mod = _load("custom_layer.py")
    x = tm.Tensor(np.array([-30.0, -1.0, 0.0, 2.0, 40.0]), requires_grad=True, dtype=np.float64)
    y = mod.Softplus.apply(x)
    np.testing.assert_allclose(y.data, np.log1p(np.exp(x.data)), rtol=1e-12)
    g = np.array([1.0, -2.0, 0.5, 3.0, 1.0])
    y.backward(g)
    np.testing.assert_allclose(x.grad, g / (1 + np.exp(-x.data)), rtol=1e-12)
    layer = mod.GatedLinear(3, 4)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias", "gate_weight",
                                                        "gate_bias"]
    # the stand-in finite-difference checker agrees with gradcheck's verdict
    rng = np.random.default_rng(0)
    params = [tm.Tensor(rng.normal(size=s), requires_grad=True, dtype=np.float64)
              for s in [(2, 3), (4, 3), (4,), (4, 3), (4,)]]
    assert mod._finite_differences(mod.gated_linear, params)


@pytest.fixture
def tiny_mnist(tmp_path):
    """Small IDX files in MNIST's layout: class k is a bright 6x6 block at spot k, plus noise."""
    from tinygrad_memo.data import write_idx

    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        X = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(y):
            r, c = 2 + 8 * (k // 4), 2 + 6 * (k % 4)
            X[i, r:r + 6, c:c + 6] = 255
        return X, y

    (Xtr, ytr), (Xte, yte) = make(300), make(60)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", Xtr)
    write_idx(tmp_path / "train-labels-idx1-ubyte", ytr)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", Xte)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", yte)
    return tmp_path


def test_digits_classifier_mnist_idx_files(tiny_mnist, capsys):
    mod = _load("digits_classifier.py")
    assert mod.main(["--mnist", str(tiny_mnist), "--epochs", "4", "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    assert "MNIST: 300 training and 60 test images of 784 pixels, 10 classes" in out
    assert _percent("test accuracy", out) >= 90.0  # chance is 10%
    assert mod.main(["--mnist", str(tiny_mnist), "--epochs", "1", "--limit", "50"]) == 0
    assert "MNIST: 50 training" in capsys.readouterr().out


def test_digits_classifier_missing_mnist(tmp_path, capsys):
    mod = _load("digits_classifier.py")
    assert mod.main(["--mnist", str(tmp_path / "nowhere"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "--download" in err


def test_digits_classifier_digits(capsys):
    pytest.importorskip("sklearn", reason="the 8x8 digits come with scikit-learn")
    mod = _load("digits_classifier.py")
    assert mod.main(["--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "8x8 digits: 1438 training and 359 test images" in out
    assert _percent("test accuracy", out) > 85.0
    assert mod.main(["--epochs", "3", "--jit"]) == 0  # the same training, jitted whole
    jitted = capsys.readouterr().out
    assert re.findall(r"loss.*", jitted) == re.findall(r"loss.*", out)  # bit for bit
    assert re.search(r"jitted step: .* ready, \d+ replays", jitted)


def test_cnn_digits(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="the 8x8 digits come with scikit-learn")
    mod = _load("cnn_digits.py")
    assert mod.main(["--epochs", "3", "--limit", "400", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "8x8 digits: 400 training and 359 test images" in out
    assert "Conv2d(1, 16, kernel_size=(3, 3)" in out and "MaxPool2d" in out
    assert len(re.findall(r"epoch\s+\d+ ", out)) == 3
    assert _percent("test accuracy", out) > 40.0  # chance is 10%
    if importlib.util.find_spec("matplotlib") is not None:
        png = tmp_path / "cnn_digits_curves.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cnn_digits_model_is_pytorch_s_too():
    """make_cnn builds the same model from torch.nn: same state dict names and shapes,
    and the same logits given the same weights."""
    torch = pytest.importorskip("torch")
    import tinygrad_memo as tm
    from tinygrad_memo import nn

    mod = _load("cnn_digits.py")
    ours, theirs = mod.make_cnn(nn), mod.make_cnn(torch.nn)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in state.items()}
    ours.load_state_dict(state)
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(tm.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_sequence(cell, capsys):
    mod = _load("rnn_sequence.py")
    assert mod.main(["--cell", cell, "--steps", "40", "--length", "30", "--hidden", "16",
                     "--delay", "2", "--lr", "2e-2"]) == 0
    out = capsys.readouterr().out
    assert ("LSTMCell(4, 16)" if cell == "lstm" else "GRUCell(4, 16)") in out
    assert "chance accuracy 25.0%" in out
    assert len(re.findall(r"step\s+\d+ ", out)) == 2
    assert _percent("test accuracy", out) > 50.0  # it remembers: chance is 25%


def test_tiny_transformer(capsys):
    mod = _load("tiny_transformer.py")
    assert mod.main(["--steps", "60", "--layers", "1", "--length", "4", "--digits", "4",
                     "--embd", "16", "--test", "100", "--lr", "1e-2"]) == 0
    out = capsys.readouterr().out
    assert "in 1 blocks of 2-head causal self-attention" in out
    assert len(re.findall(r"step\s+\d+ ", out)) == 2
    assert _percent("token accuracy", out) > 80.0  # it sorts: chance is 25%


def test_tiny_transformer_attends_causally():
    """Changing a later token leaves the logits of earlier positions alone."""
    import tinygrad_memo as tm

    mod = _load("tiny_transformer.py")
    tm.manual_seed(0)
    model = mod.TinyGPT(vocab=5, context=7, embd=8, heads=2, layers=2)
    a = np.array([[1, 2, 3, 4, 0, 1, 2]])
    b = a.copy()
    b[0, 4:] = [3, 3, 3]
    with tm.no_grad():
        la, lb = model(a).numpy(), model(b).numpy()
    np.testing.assert_allclose(la[0, :4], lb[0, :4], rtol=1e-6)
    assert not np.allclose(la[0, 4:], lb[0, 4:])
    with pytest.raises(ValueError, match="do not fit the context of 7"):
        model(np.zeros((1, 8), dtype=np.int64))


def test_makemore(capsys):
    mod = _load("makemore.py")
    assert mod.main(["--steps", "300", "--names", "600", "--hidden", "64", "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "600 names (" in out and "BatchNorm1d(64" in out and "Embedding(27, 10)" in out
    train, val = (float(re.findall(rf"{k} loss ([0-9.]+)", out)[-1]) for k in ("train", "validation"))
    assert train < 2.6 and val < 2.8  # uniform guessing: ln 27 = 3.30
    samples = out.split("sampled names (* = not in the data set):")[1].split()
    assert len(samples) == 5 and all(s.rstrip("*").isalpha() or s in ("", "*") for s in samples)


def test_makemore_names_and_data():
    mod = _load("makemore.py")
    names = mod.make_names(200, seed=3)
    assert len(set(names)) == 200 and names == mod.make_names(200, seed=3)
    assert all(3 <= len(n) <= 12 and set(n) <= set(mod.CHARS[1:]) for n in names)
    X, Y = mod.dataset(["ab"], block=3)
    assert X.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2]] and Y.tolist() == [1, 2, 0]
    # the bigram baseline is a real model: better than uniform on names of the same grammar
    assert mod.bigram_loss(names[:150], names[150:]) < np.log(27)


def test_save_load(tmp_path, capsys):
    mod = _load("save_load.py")
    assert mod.main(["--steps", "10", "--out", str(tmp_path / "ckpt")]) == 0
    out = capsys.readouterr().out
    assert out.count("outputs of the loaded copy identical: True") == 2
    assert "shape mismatch" in out
    import tinygrad_memo as tm

    state = tm.load(tmp_path / "ckpt" / "tensor_mlp.npz")
    assert list(state) == [f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")]
    assert state["layers.0.weight"].shape == (16, 2)
    assert len(tm.load(tmp_path / "ckpt" / "scalar_mlp.npz")) == 8 * 3 + 9


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help(script):
    r = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:")


def test_script_runs_as_a_script(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "save_load.py"), "--steps", "3",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "identical: True" in r.stdout
    assert (tmp_path / "tensor_mlp.npz").is_file()


def test_bad_arguments_exit_2():
    r = subprocess.run([sys.executable, str(EXAMPLES / "moons_micrograd.py"), "--steps", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--steps" in r.stderr
