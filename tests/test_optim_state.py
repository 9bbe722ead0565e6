"""Optimizer state dicts (training resumes bit for bit through tm.save / tm.load, PyTorch's
layout and state names and values) and nn.utils.clip_grad_norm_ against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo import Tensor, Value, nn, optim
from tinygrad_memo.nn import functional as F
from tinygrad_memo.nn.utils import clip_grad_norm_

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 3))
Y = RNG.integers(0, 2, 16)

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
}


def _model():
    tm.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2))


def _train(model, opt, steps, start):
    for k in range(start, start + steps):
        rows = np.arange(k % 4, 16, 2)
        loss = F.cross_entropy(model(Tensor(X[rows])), Y[rows])
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_resumes_bit_for_bit_through_save_and_load(name, tmp_path):
    make = OPTIMIZERS[name]
    a = _model()
    opt_a = make(a.parameters())
    _train(a, opt_a, 7, 0)  # uninterrupted: 7 + 5 steps
    _train(a, opt_a, 5, 7)
    b = _model()
    opt_b = make(b.parameters())
    _train(b, opt_b, 7, 0)  # interrupted after 7: saved, loaded into fresh ones, 5 more
    tm.save(b.state_dict(), tmp_path / "model.npz")
    tm.save(opt_b.state_dict(), tmp_path / "optim.npz")
    c = _model()
    opt_c = make(c.parameters())
    opt_c.lr = 123.0  # restored by the load
    c.load_state_dict(tm.load(tmp_path / "model.npz"))
    opt_c.load_state_dict(tm.load(tmp_path / "optim.npz"))
    assert opt_c.lr == opt_b.lr
    _train(c, opt_c, 5, 7)
    for (k, va), vc in zip(a.state_dict().items(), c.state_dict().values()):
        np.testing.assert_array_equal(vc, va, err_msg=k)


@pytest.mark.parametrize("name", ["sgd_momentum", "adam"])
def test_value_parameters_resume_bit_for_bit(name):
    def run(params, opt, steps):
        for _ in range(steps):
            loss = sum(((p - 0.3 * i) ** 2 for i, p in enumerate(params)), Value(0.0))
            opt.zero_grad()
            loss.backward()
            opt.step()

    make = OPTIMIZERS[name]
    a = [Value(1.0), Value(-2.0), Value(0.5)]
    opt_a = make(a)
    run(a, opt_a, 9)
    b = [Value(1.0), Value(-2.0), Value(0.5)]
    opt_b = make(b)
    run(b, opt_b, 4)
    sd = opt_b.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    c = [Value(v.data) for v in b]
    opt_c = make(c)
    opt_c.load_state_dict(sd)
    run(c, opt_c, 5)
    assert [v.data for v in c] == [v.data for v in a]


@pytest.mark.parametrize("name", ["sgd_momentum", "adam_amsgrad", "adamw"])
def test_state_names_and_values_are_torchs(name):
    rng = np.random.default_rng(1)
    ws = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    ours = [Tensor(w.copy(), requires_grad=True) for w in ws]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in ws]
    kw = {"sgd_momentum": dict(lr=0.05, momentum=0.9, weight_decay=1e-3),
          "adam_amsgrad": dict(lr=0.01, amsgrad=True, weight_decay=1e-2),
          "adamw": dict(lr=0.01)}[name]
    cls = {"sgd_momentum": "SGD", "adam_amsgrad": "Adam", "adamw": "AdamW"}[name]
    opt, topt = getattr(optim, cls)(ours, **kw), getattr(torch.optim, cls)(theirs, **kw)
    for _ in range(3):
        gs = [rng.normal(size=w.shape) for w in ws]
        for p, tp, g in zip(ours, theirs, gs):
            p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert sorted(sd["state"][i]) == sorted(tsd["state"][i])
        for k, v in sd["state"][i].items():
            np.testing.assert_allclose(np.asarray(v), np.asarray(tsd["state"][i][k]), rtol=1e-12)
    group, tgroup = sd["param_groups"][0], tsd["param_groups"][0]
    assert group["params"] == tgroup["params"]
    for k, v in group.items():
        assert v == (tuple(tgroup[k]) if isinstance(v, tuple) else tgroup[k]), k


def test_load_state_dict_errors_name_what_does_not_fit():
    w = Tensor(np.ones(2), requires_grad=True)
    w.grad = np.ones(2)
    opt = optim.Adam([w])
    opt.step()
    sd = opt.state_dict()
    two = optim.Adam([Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(1), requires_grad=True)])
    with pytest.raises(ValueError, match="has 1 parameters, this optimizer has 2"):
        two.load_state_dict(sd)
    other = optim.Adam([Tensor(np.ones(3), requires_grad=True)])
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(2,\), the "
                       r"parameter has shape \(3,\)"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.1).load_state_dict(sd)
    before = other.state
    assert before == {}  # a refused load changes nothing


# -- clip_grad_norm_ --------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(2)
    gs = [rng.normal(size=(3, 4)), rng.normal(size=5), rng.normal(size=())]
    ours = [Tensor(np.zeros(g.shape), requires_grad=True) for g in gs]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, tp, g in zip(ours, theirs, gs):
        p.grad, tp.grad = g.copy(), torch.tensor(g)
    ours.append(Tensor(np.zeros(2), requires_grad=True))  # no grad: skipped
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    assert ours[-1].grad is None


def test_clip_grad_norm_of_values_and_nonfinite_norms():
    a, b = Value(0.0), Value(0.0)
    a.grad, b.grad = 3.0, 4.0
    assert clip_grad_norm_([a, b], 1.0).item() == pytest.approx(5.0)
    assert (a.grad, b.grad) == pytest.approx((0.6, 0.8), rel=1e-6)
    w = Tensor(np.zeros(2), requires_grad=True)
    w.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        clip_grad_norm_(w, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([], 1.0).item() == 0.0
