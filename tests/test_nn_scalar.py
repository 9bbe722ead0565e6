"""nn.scalar: micrograd's Neuron/Layer/MLP on Values, checked against the Tensor engine."""

import numpy as np
import pytest

from tinygrad_memo import Tensor, Value, data, optim
from tinygrad_memo.engine import naive_grad
from tinygrad_memo.nn import Module
from tinygrad_memo.nn import functional as F
from tinygrad_memo.nn.scalar import MLP, Layer, Neuron
from tinygrad_memo.random import manual_seed
from tinygrad_memo.serialization import load, save


def test_neuron_like_micrograd():
    manual_seed(0)
    n = Neuron(3)
    assert len(n.w) == 3 and all(-1 <= w.data <= 1 for w in n.w) and n.b.data == 0.0
    assert [name for name, _ in n.named_parameters()] == ["w.0", "w.1", "w.2", "b"]
    n.w[0].data, n.w[1].data, n.w[2].data, n.b.data = 1.0, -2.0, 0.5, 0.25
    assert n([1.0, 1.0, 2.0]).data == pytest.approx(0.25)  # relu(1 - 2 + 1 + 0.25)
    assert n([0.0, 1.0, 0.0]).data == 0.0  # relu clamps
    lin = Neuron(3, nonlin=False)
    lin.w[0].data, lin.w[1].data, lin.w[2].data = 1.0, 1.0, 1.0
    assert lin([0.0, -3.0, 0.0]).data == -3.0
    assert repr(n) == "ReLUNeuron(3)" and repr(lin) == "LinearNeuron(3)"
    assert isinstance(n, Module)


def test_layer_and_mlp_structure_and_names():
    manual_seed(0)
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 16 * 3 + 16 * 17 + 17 == 337
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                         "layers.0.neurons.0.b", "layers.0.neurons.1.w.0"]
    assert "layers.0.neurons.3.w.1" in names and names[-1] == "layers.2.neurons.0.b"
    assert [n.nonlin for layer in model.layers for n in layer.neurons[:1]] == [True, True, False]
    out = model([0.5, -0.5])
    assert isinstance(out, Value)
    assert isinstance(Layer(2, 3)([1.0, 2.0]), list)
    assert repr(MLP(1, [1])) == "MLP of [Layer of [LinearNeuron(1)]]"


def test_seeded_initialisation():
    manual_seed(5)
    a = [p.data for p in MLP(3, [4, 1]).parameters()]
    manual_seed(5)
    b = [p.data for p in MLP(3, [4, 1]).parameters()]
    assert a == b
    assert [p.data for p in MLP(3, [4, 1]).parameters()] != a


def test_one_neuron_layer_inside_an_mlp():
    manual_seed(1)
    model = MLP(2, [1, 4, 1])  # micrograd's Layer returns a bare Value for nout == 1
    out = model([0.3, -0.7])
    assert isinstance(out, Value)
    out.backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    assert Neuron(1)(Value(2.0)).data >= 0.0  # a single Value as input


def test_wrong_input_length_is_an_error():
    with pytest.raises(ValueError, match="expected 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])
    with pytest.raises(ValueError, match="Layer: expected 2 inputs, got 3"):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)


def _as_tensor_mlp(model):
    """The weights of a scalar MLP as float64 (W, b) arrays per layer."""
    return [(np.array([[w.data for w in n.w] for n in layer.neurons]),
             np.array([n.b.data for n in layer.neurons])) for layer in model.layers]


def test_forward_and_gradients_equal_the_tensor_engine():
    manual_seed(2)
    model = MLP(3, [5, 4, 2])
    X = np.random.default_rng(0).normal(size=(6, 3))
    # scalar engine: loss = mean over samples and outputs of (out + 1) ** 2 (non-uniform seed)
    outs = [model(list(x)) for x in X]
    flat = [o for row in outs for o in row]
    loss = sum(((o + 1) ** 2 for o in flat), Value(0.0)) * (1.0 / len(flat))
    loss.backward()
    # Tensor engine with the same weights
    params = [(Tensor(W, requires_grad=True), Tensor(b, requires_grad=True))
              for W, b in _as_tensor_mlp(model)]
    h = Tensor(X)
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i != len(params) - 1:
            h = h.relu()
    tloss = ((h + 1) ** 2).mean()
    tloss.backward()
    np.testing.assert_allclose([[o.data for o in row] for row in outs], h.data, atol=1e-12)
    assert loss.data == pytest.approx(tloss.item(), abs=1e-12)
    for layer, (W, b) in zip(model.layers, params):
        np.testing.assert_allclose([[w.grad for w in n.w] for n in layer.neurons], W.grad,
                                   atol=1e-12)
        np.testing.assert_allclose([n.b.grad for n in layer.neurons], b.grad, atol=1e-12)


def test_gradients_equal_the_naive_path_oracle():
    manual_seed(3)
    model = MLP(2, [3, 1])
    out = model([0.4, -1.1]) * model([0.9, 0.2])
    params = model.parameters()
    grads, _ = naive_grad(out, params)
    out.backward()
    np.testing.assert_allclose([p.grad for p in params], grads, atol=1e-12)


def test_zero_grad_and_state_dict_round_trip(tmp_path):
    manual_seed(4)
    model = MLP(2, [4, 1])
    model([1.0, 2.0]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    before = model([0.3, 0.1]).data
    path = save(model.state_dict(), tmp_path / "scalar")
    manual_seed(5)
    other = MLP(2, [4, 1])
    other.load_state_dict(load(path))
    assert other([0.3, 0.1]).data == before
    with pytest.raises(KeyError, match="missing keys"):
        MLP(2, [4, 2]).load_state_dict(load(path))


def test_optimizer_on_scalar_model_matches_manual_sgd():
    manual_seed(6)
    model = MLP(2, [3, 1])
    params = model.parameters()
    model([1.0, -1.0]).backward()
    expected = [p.data - 0.1 * p.grad for p in params]
    optim.SGD(params, lr=0.1).step()
    assert [p.data for p in params] == pytest.approx(expected, abs=1e-15)


def test_scalar_mlp_reaches_95_percent_on_moons_within_60_steps():
    """micrograd's demo recipe: MLP(2, [16, 16, 1]), SVM max-margin loss + 1e-4 L2,
    full-batch SGD with lr decaying linearly from 1.0 to 0.1 over 60 steps.
    Training stops as soon as the accuracy reaches 95% (seed 0: about 10 steps)."""
    X, y = data.make_moons(60, noise=0.1, seed=0)
    y = 2 * y - 1  # labels -1 / +1
    manual_seed(0)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    opt = optim.SGD(params, lr=1.0)
    steps = 60
    sched = optim.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / steps)
    rows, labels = X.astype(np.float64).tolist(), y.tolist()
    losses = []

    def accuracy():
        scores = [model(x) for x in rows]
        return scores, np.mean([(s.data > 0) == (t > 0) for s, t in zip(scores, labels)])

    for _step in range(steps):
        scores, acc = accuracy()
        if acc >= 0.95:
            break
        loss = F.hinge_loss(scores, labels) + 1e-4 * sum(p * p for p in params)
        losses.append(loss.data)
        model.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    else:
        _, acc = accuracy()  # after all 60 updates
    assert acc >= 0.95, f"accuracy {acc} after {len(losses)} steps"
    assert len(losses) <= steps and losses[-1] < losses[0]
