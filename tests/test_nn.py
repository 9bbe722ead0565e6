"""nn: Module discovery and state, Tensor layers against PyTorch, init, Dropout, training."""

import math

import numpy as np
import pytest

from tinygrad_memo import Tensor, Value, data, nn, optim
from tinygrad_memo.nn import functional as F
from tinygrad_memo.nn import init
from tinygrad_memo.random import manual_seed
from tinygrad_memo.serialization import load, save

torch = pytest.importorskip("torch")


def _copy_linear(ours, theirs):
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))


def _grads_both(out, tout, seed=0):
    G = np.random.default_rng(seed).normal(size=out.shape)  # non-uniform upstream gradient
    out.backward(G)
    tout.backward(torch.tensor(G))


# -- Module discovery -------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.extra = [nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)]
        self.scale = nn.Parameter(np.ones(2))
        self.frozen = nn.Parameter(np.zeros(2), requires_grad=False)
        self.const = Tensor(np.ones(2))  # not a parameter
        self.pair = (Tensor(np.zeros(1), requires_grad=True), "not a parameter")
        self.note = "hello"

    def forward(self, x):
        x = self.fc(x)
        for m in self.extra:
            x = m(x)
        return x * self.scale + self.frozen


def test_named_parameters_are_dotted_and_in_attribute_order():
    names = [n for n, _ in Block().named_parameters()]
    assert names == ["fc.weight", "fc.bias", "extra.0.weight", "extra.0.bias", "extra.2.weight",
                     "extra.2.bias", "scale", "frozen", "pair.0"]


def test_named_modules_and_children():
    b = Block()
    assert [n for n, _ in b.named_modules()] == ["", "fc", "extra.0", "extra.1", "extra.2"]
    assert [type(m).__name__ for m in b.children()] == ["Linear", "Linear", "Tanh", "Linear"]
    mlp = nn.MLP(2, [4, 4, 1])
    assert [n for n, _ in mlp.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias"]


def test_parameter_order_is_deterministic_and_shared_params_appear_once():
    names = [n for n, _ in Block().named_parameters()]
    # own parameters and submodule parameters all present, each once
    assert sorted(names) == sorted(set(names))
    assert len(names) == 9

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a
            self.w = [self.a.weight]

        def forward(self, x):
            return self.b(self.a(x))

    assert [n for n, _ in Tied().named_parameters()] == ["a.weight", "a.bias"]


def test_value_parameters_in_a_module():
    class Scalar(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = [Value(1.0), Value(2.0)]
            self.b = Value(0.5)

        def forward(self, x):
            return self.w[0] * x + self.w[1] * x * x + self.b

    m = Scalar()
    assert [n for n, _ in m.named_parameters()] == ["w.0", "w.1", "b"]
    m(3.0).backward()
    assert m.w[1].grad == 9.0
    m.zero_grad()
    assert [p.grad for p in m.parameters()] == [0.0, 0.0, 0.0]
    sd = m.state_dict()
    assert sd["b"].shape == () and sd["b"].dtype == np.float64
    m2 = Scalar()
    m2.b.data = 7.0
    m2.load_state_dict(sd)
    assert m2.b.data == 0.5


def test_zero_grad_sets_tensor_grads_to_none():
    m = nn.MLP(2, [3, 1])
    m(Tensor(np.ones((2, 2), np.float32))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_train_eval_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_repr():
    r = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.2)))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in r
    assert "(2): Dropout(p=0.2)" in r
    assert "Parameter(" in repr(nn.Linear(1, 1).weight)


# -- Linear, MLP, Sequential against torch ---------------------------------------------------------
def test_linear_init_is_pytorch_default():
    manual_seed(0)
    lin = nn.Linear(64, 300)
    bound = 1 / math.sqrt(64)
    assert lin.weight.shape == (300, 64) and lin.weight.dtype == np.float32
    w = lin.weight.data
    assert np.abs(w).max() <= bound and np.abs(lin.bias.data).max() <= bound
    # uniform on (-bound, bound): mean 0, variance bound**2 / 3
    assert abs(w.mean()) < 0.01 * bound * 10
    assert abs(w.var() / (bound ** 2 / 3) - 1) < 0.05
    assert lin.weight.requires_grad and lin.bias.requires_grad
    manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(64, 300).weight.data, w)  # seeded
    assert nn.Linear(3, 2, bias=False).bias is None
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_forward_and_grads_equal_torch():
    lin = nn.Linear(5, 3, dtype=np.float64)
    tlin = torch.nn.Linear(5, 3, dtype=torch.float64)
    _copy_linear(lin, tlin)
    X = np.random.default_rng(1).normal(size=(7, 5))
    x = Tensor(X, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    out, tout = lin(x), tlin(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _grads_both(out, tout)
    np.testing.assert_allclose(lin.weight.grad, tlin.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, tlin.bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("activation,torch_act", [
    ("relu", torch.nn.ReLU), ("tanh", torch.nn.Tanh), ("sigmoid", torch.nn.Sigmoid),
    ("gelu", torch.nn.GELU),
])
def test_mlp_forward_and_grads_equal_torch(activation, torch_act):
    manual_seed(2)
    mlp = nn.MLP(3, [8, 6, 2], activation=activation, dtype=np.float64)
    tmods = []
    for i, layer in enumerate(mlp.layers):
        tl = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        _copy_linear(layer, tl)
        tmods.append(tl)
        if i != len(mlp.layers) - 1:
            tmods.append(torch_act())
    tmlp = torch.nn.Sequential(*tmods)
    X = np.random.default_rng(3).normal(size=(10, 3))
    out, tout = mlp(Tensor(X)), tmlp(torch.tensor(X))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    _grads_both(out, tout)
    tlinears = [m for m in tmlp if isinstance(m, torch.nn.Linear)]
    for layer, tl in zip(mlp.layers, tlinears):
        np.testing.assert_allclose(layer.weight.grad, tl.weight.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, tl.bias.grad.numpy(), atol=1e-12)


def test_mlp_has_no_activation_after_last_layer():
    mlp = nn.MLP(2, [4, 1], activation="relu", dtype=np.float64)
    mlp.layers[1].bias.data[...] = -100.0  # a final relu would clamp this to 0
    assert (mlp(Tensor(np.zeros((3, 2)))).data < -90).all()
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(2, [4, 1], activation="swish")
    with pytest.raises(ValueError, match="nouts"):
        nn.MLP(2, [])


def test_sequential_loads_a_torch_state_dict():
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    sd = {k: v.detach().numpy() for k, v in tnet.state_dict().items()}
    assert list(sd) == list(net.state_dict())
    net.load_state_dict(sd)
    X = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(net(Tensor(X)).data, tnet(torch.tensor(X)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert len(net) == 3 and isinstance(net[-1], nn.Linear) and len(net[:2]) == 2


def test_activation_modules():
    x = Tensor(np.array([-2.0, 0.5, 3.0]))
    np.testing.assert_allclose(nn.ReLU()(x).data, [0.0, 0.5, 3.0])
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)))
    tx = torch.tensor(x.data)
    for ours, theirs in ((nn.GELU(), torch.nn.GELU()),
                         (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
                         (nn.LeakyReLU(), torch.nn.LeakyReLU()),
                         (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
                         (nn.SiLU(), torch.nn.SiLU()), (nn.Softplus(), torch.nn.Softplus()),
                         (nn.Softplus(2.0, 1.0), torch.nn.Softplus(2.0, 1.0)),
                         (nn.ELU(), torch.nn.ELU()), (nn.ELU(0.5), torch.nn.ELU(0.5))):
        np.testing.assert_allclose(ours(x).data, theirs(tx).numpy(), rtol=1e-12, atol=1e-15)
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU(approximate="erf")


# -- LayerNorm, Dropout ---------------------------------------------------------------------------
def test_layer_norm_equals_torch():
    g = np.random.default_rng(5)
    ln = nn.LayerNorm(6, dtype=np.float64)
    tln = torch.nn.LayerNorm(6, dtype=torch.float64)
    w, b = g.normal(size=6), g.normal(size=6)
    ln.weight.data[...] = w
    ln.bias.data[...] = b
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(w))
        tln.bias.copy_(torch.tensor(b))
    X = g.normal(size=(4, 6)) * 5 + 2
    x = Tensor(X, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    out, tout = ln(x), tln(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-10)
    _grads_both(out, tout)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ln.weight.grad, tln.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ln.bias.grad, tln.bias.grad.numpy(), atol=1e-10)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert ln.eps == 1e-5


def test_dropout_train_and_eval():
    manual_seed(0)
    drop = nn.Dropout(0.25)
    x = Tensor(np.ones((100, 100), np.float32), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02  # about p of them dropped
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)  # the rest scaled by 1/(1-p)
    assert abs(y.data.mean() - 1.0) < 0.03  # so the expectation is kept
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.data, rtol=1e-6)
    assert not np.array_equal(drop(x).data, y.data)  # a fresh mask each call
    manual_seed(0)
    np.testing.assert_array_equal(nn.Dropout(0.25)(x).data, y.data)  # seeded
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    assert nn.Dropout(0.0).train()(x) is x
    assert (nn.Dropout(1.0)(x).data == 0).all()
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(-0.1)


def test_dropout_inside_model_respects_model_eval():
    manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 50), nn.Dropout(0.5))
    X = Tensor(np.ones((2, 3), np.float32))
    net.eval()
    np.testing.assert_array_equal(net(X).data, net(X).data)
    net.train()
    assert not np.array_equal(net(X).data, net(X).data)


# -- init ------------------------------------------------------------------------------------------
def test_init_functions_fill_in_place_and_are_seeded():
    t = Tensor(np.empty((200, 300), np.float32), requires_grad=True)
    arr = t.data
    manual_seed(7)
    assert init.xavier_uniform_(t) is t and t.data is arr and t.dtype == np.float32
    assert np.abs(arr).max() <= math.sqrt(6 / 500)
    first = arr.copy()
    manual_seed(7)
    init.xavier_uniform_(t)
    np.testing.assert_array_equal(arr, first)
    init.kaiming_normal_(t, nonlinearity="relu")
    assert abs(arr.std() / math.sqrt(2 / 300) - 1) < 0.02
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(arr.std() / math.sqrt(2 / 200) - 1) < 0.02
    init.kaiming_uniform_(t, a=math.sqrt(5))
    assert np.abs(arr).max() <= 1 / math.sqrt(300)
    init.xavier_normal_(t, gain=2.0)
    assert abs(arr.std() / (2 * math.sqrt(2 / 500)) - 1) < 0.02
    init.normal_(t, 1.0, 0.1)
    assert abs(arr.mean() - 1.0) < 0.01
    init.uniform_(t, 2.0, 3.0)
    assert arr.min() >= 2.0 and arr.max() < 3.0
    init.zeros_(t)
    assert not arr.any()
    init.ones_(t)
    assert (arr == 1).all()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(Tensor(np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(Tensor(np.zeros(3, np.int64)))
    for name, param in [("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("sigmoid", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param))


# -- state dicts -----------------------------------------------------------------------------------
def test_state_dict_round_trip_through_a_file(tmp_path):
    manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    X = Tensor(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    before = model(X).data.copy()
    path = save(model.state_dict(), tmp_path / "model")
    manual_seed(4)
    other = nn.Sequential(nn.Linear(2, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    assert not np.array_equal(other(X).data, before)
    result = other.load_state_dict(load(path))
    assert result == ([], []) and result.missing_keys == []
    np.testing.assert_array_equal(other(X).data, before)  # identical, bit for bit
    assert other[0].weight.dtype == np.float32


def test_state_dict_is_a_copy_and_load_is_in_place():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    w = lin.weight
    arr = w.data
    lin.weight.data[...] = 0.0
    assert sd["weight"].any()  # unaffected by later changes
    lin.load_state_dict(sd)
    assert lin.weight is w and lin.weight.data is arr  # optimizers keep the same arrays
    np.testing.assert_array_equal(arr, sd["weight"])
    lin.load_state_dict({"weight": Tensor(np.ones((2, 2))), "bias": [1.0, 2.0]})
    assert lin.weight.data.dtype == np.float32 and (lin.weight.data == 1).all()


def test_load_state_dict_errors():
    model = nn.MLP(2, [3, 1])
    sd = model.state_dict()
    missing = {k: v for k, v in sd.items() if k != "layers.1.bias"}
    with pytest.raises(KeyError, match=r"missing keys: 'layers.1.bias'"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys: 'layers.2.weight'"):
        model.load_state_dict({**sd, "layers.2.weight": np.zeros((1, 1))})
    bad = dict(sd)
    bad["layers.0.weight"] = np.zeros((2, 3))
    before = model.layers[1].bias.data.copy()
    bad["layers.1.bias"] = before + 1
    with pytest.raises(ValueError, match=r"'layers.0.weight'.*\(2, 3\).*\(3, 2\)"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model.layers[1].bias.data, before)  # nothing half-loaded
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_state_dict(bad, strict=False)  # shapes are checked even when not strict
    partial = {"layers.0.weight": np.ones((3, 2)), "other": np.zeros(1)}
    res = model.load_state_dict(partial, strict=False)
    assert res.missing_keys == ["layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert res.unexpected_keys == ["other"]
    assert (model.layers[0].weight.data == 1).all()
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([1, 2])


# -- training ----------------------------------------------------------------------------------------
def test_tensor_mlp_reaches_97_percent_on_moons():
    X, y = data.make_moons(200, noise=0.1, seed=0)
    manual_seed(0)
    model = nn.MLP(2, [16, 16, 2])
    opt = optim.Adam(model.parameters(), lr=0.05)
    Xt = Tensor(X)
    for _ in range(100):
        loss = F.cross_entropy(model(Xt), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    acc = (model(Xt).data.argmax(axis=1) == y).mean()
    assert acc >= 0.97
    assert loss.item() < 0.1


def test_tensor_mlp_with_bce_and_schedule():
    X, y = data.make_moons(200, noise=0.1, seed=1)
    manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Dropout(0.1), nn.Linear(32, 1))
    opt = optim.AdamW(model.parameters(), lr=0.05)
    sched = optim.CosineAnnealingLR(opt, T_max=150)
    Xt, yt = Tensor(X), y.astype(np.float32).reshape(-1, 1)
    for _ in range(150):
        loss = F.binary_cross_entropy_with_logits(model(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    acc = ((model(Xt).data[:, 0] > 0) == (y == 1)).mean()
    assert acc >= 0.97
    assert opt.lr == pytest.approx(0.0, abs=1e-12)
