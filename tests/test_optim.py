"""Optimizers and schedules: the same trajectory as PyTorch's, on Tensor and Value parameters."""

import math

import numpy as np
import pytest

from tinygrad_memo import Tensor, Value, optim

torch = pytest.importorskip("torch")

STEPS = 25

SGD_VARIANTS = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.05),
    dict(lr=0.04, momentum=0.5, dampening=0.5, weight_decay=0.2),
]
ADAM_VARIANTS = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.05, weight_decay=0.1, amsgrad=True),
]
ADAMW_VARIANTS = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.3),
    dict(lr=0.02, betas=(0.85, 0.95), weight_decay=0.1, amsgrad=True),
]
CASES = (
    [("SGD", kw) for kw in SGD_VARIANTS]
    + [("Adam", kw) for kw in ADAM_VARIANTS]
    + [("AdamW", kw) for kw in ADAMW_VARIANTS]
)
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CASES]


def _problem(seed=0):
    g = np.random.default_rng(seed)
    return dict(
        W=g.normal(size=(3, 4)), b=g.normal(size=3), X=g.normal(size=(6, 4)),
        Y=g.normal(size=(6, 3)), unused=g.normal(size=2),
    )


def _tm_loss(W, b, X, Y):
    r = X @ W.T + b - Y
    return (r * r).mean() + W.tanh().sum() * 0.1 + (b * b * b).sum() * 0.05


def _torch_loss(W, b, X, Y):
    r = X @ W.T + b - Y
    return (r * r).mean() + W.tanh().sum() * 0.1 + (b * b * b).sum() * 0.05


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_tensor_trajectory_equals_torch(name, kw):
    d = _problem()
    W = Tensor(d["W"], requires_grad=True)
    b = Tensor(d["b"], requires_grad=True)
    unused = Tensor(d["unused"], requires_grad=True)  # never gets a grad: skipped
    X, Y = Tensor(d["X"]), Tensor(d["Y"])
    tW = torch.tensor(d["W"], requires_grad=True)
    tb = torch.tensor(d["b"], requires_grad=True)
    tunused = torch.tensor(d["unused"], requires_grad=True)
    tX, tY = torch.tensor(d["X"]), torch.tensor(d["Y"])

    opt = getattr(optim, name)([W, b, unused], **kw)
    topt = getattr(torch.optim, name)([tW, tb, tunused], **kw)
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        _tm_loss(W, b, X, Y).backward()
        _torch_loss(tW, tb, tX, tY).backward()
        np.testing.assert_allclose(W.grad, tW.grad.numpy(), rtol=0, atol=1e-9)
        opt.step()
        topt.step()
        np.testing.assert_allclose(W.data, tW.detach().numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=0, atol=1e-6)
    assert np.abs(W.data - d["W"]).max() > 1e-2  # it really moved
    np.testing.assert_array_equal(unused.data, d["unused"])
    assert W.dtype == np.float64 and W.grad is not None


def _rosen_values(p):
    a, b, c = p
    return (1 - a) ** 2 + (b - a * a) ** 2 * 0.5 + (c * a - 0.5) ** 2 + (c * 0.3).tanh()


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_value_trajectory_equals_torch(name, kw):
    start = [-0.7, 1.3, 0.4]
    vals = [Value(x) for x in start]
    tps = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in start]
    opt = getattr(optim, name)(vals, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        _rosen_values(vals).backward()
        _rosen_values(tps).backward()
        opt.step()
        topt.step()
        for v, t in zip(vals, tps):
            assert isinstance(v.data, float)
            assert abs(v.data - t.item()) < 1e-6
    assert abs(vals[0].data - start[0]) > 1e-2
    assert all(abs(v.data) < 10 for v in vals)  # a bounded, meaningful trajectory


def test_mixed_tensor_and_value_params_one_optimizer():
    w = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    v = Value(2.0)
    tw = torch.tensor([0.5, -1.5], dtype=torch.float64, requires_grad=True)
    tv = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    opt = optim.Adam([w, v], lr=0.1, weight_decay=0.01)
    topt = torch.optim.Adam([tw, tv], lr=0.1, weight_decay=0.01)
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        ((w * w * w).sum() + (w * 3.0).sum()).backward()
        (v * v * v - v).backward()
        ((tw ** 3).sum() + (tw * 3.0).sum()).backward()
        (tv ** 3 - tv).backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), atol=1e-6, rtol=0)
    assert abs(v.data - tv.item()) < 1e-6


def test_lr_is_settable_between_steps_like_torch():
    d = _problem(1)
    W = Tensor(d["W"], requires_grad=True)
    tW = torch.tensor(d["W"], requires_grad=True)
    opt = optim.SGD([W], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([tW], lr=0.1, momentum=0.9)
    for k in range(STEPS):
        opt.lr = 0.1 * (1 - k / STEPS)
        for group in topt.param_groups:
            group["lr"] = 0.1 * (1 - k / STEPS)
        opt.zero_grad()
        topt.zero_grad()
        (W.tanh() * W).sum().backward()
        (tW.tanh() * tW).sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(W.data, tW.detach().numpy(), atol=1e-6, rtol=0)


def test_float32_params_stay_float32_and_track_torch():
    g = np.random.default_rng(3)
    w0 = g.normal(size=(5,)).astype(np.float32)
    w = Tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    opt = optim.Adam([w], lr=0.01)
    topt = torch.optim.Adam([tw], lr=0.01)
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        (w * w * w).sum().backward()
        (tw ** 3).sum().backward()
        opt.step()
        topt.step()
    assert w.data.dtype == np.float32
    np.testing.assert_allclose(w.data, tw.detach().numpy(), atol=1e-5, rtol=0)


def test_step_updates_in_place_and_keeps_grad():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    arr = w.data
    w.grad = np.array([0.5, -0.5])
    g_before = w.grad.copy()
    optim.SGD([w], lr=0.1, weight_decay=0.5, momentum=0.9).step()
    assert w.data is arr
    np.testing.assert_array_equal(w.grad, g_before)  # the update never mutates .grad


def test_zero_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    v = Value(1.0)
    w.grad = np.ones(2)
    v.grad = 3.0
    opt = optim.SGD([w, v], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad, np.zeros(2))
    opt.zero_grad()
    assert w.grad is None and v.grad == 0.0


def test_optimizer_validation():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([Tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="expected a Tensor or a Value"):
        optim.Adam([np.ones(2)])
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([w, w])
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) to a tensor of shape \(2,\)"):
        w.grad = np.ones(3)  # refused when assigned, never broadcast later


def _run_schedule(ours, theirs, steps):
    lrs, tlrs = [], []
    o_opt, t_opt = ours.optimizer, theirs.optimizer
    for _ in range(steps):
        o_opt.step()
        t_opt.step()
        ours.step()
        theirs.step()
        lrs.append(o_opt.lr)
        tlrs.append(t_opt.param_groups[0]["lr"])
        assert ours.get_last_lr()[0] == o_opt.lr
    return np.array(lrs), np.array(tlrs)


def test_step_lr_equals_torch():
    opt = optim.SGD([Value(1.0)], lr=0.5)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    lrs, tlrs = _run_schedule(optim.StepLR(opt, step_size=3, gamma=0.5),
                              torch.optim.lr_scheduler.StepLR(topt, step_size=3, gamma=0.5), 12)
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12)
    assert lrs[-1] == pytest.approx(0.5 * 0.5 ** 4)


def test_cosine_lr_equals_torch():
    opt = optim.SGD([Value(1.0)], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    lrs, tlrs = _run_schedule(
        optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.01),
        torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, eta_min=0.01), 25)
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-9, atol=1e-12)
    assert lrs[9] == pytest.approx(0.01)


def test_lambda_lr_equals_torch():
    f = lambda k: 1.0 - 0.9 * k / 20  # micrograd's linear decay
    opt = optim.SGD([Value(1.0)], lr=1.0)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    lrs, tlrs = _run_schedule(optim.LambdaLR(opt, f), torch.optim.lr_scheduler.LambdaLR(topt, f), 20)
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12)
    assert lrs[-1] == pytest.approx(0.1)


def test_schedule_validation():
    opt = optim.SGD([Value(1.0)], lr=1.0)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="Optimizer"):
        optim.StepLR("not an optimizer", step_size=1)
    assert math.isclose(opt.lr, 1.0)
