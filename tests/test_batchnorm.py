"""BatchNorm1d/2d against PyTorch's modules given the same weights (float64; training and
eval, the running statistics after several steps, gradients, hypothesis shapes), gradcheck
and gradgradcheck through the batch statistics, errors; Module buffers (register_buffer,
buffers, named_buffers, state_dict round trips, never parameters)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import Tensor, nn, optim
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.jit import JitWarning

torch = pytest.importorskip("torch")


def _pair(cls, tcls, c, **kw):
    ours = cls(c, dtype=np.float64, **kw)
    theirs = tcls(c, dtype=torch.float64, **kw)
    rng = np.random.default_rng(c)
    if ours.weight is not None:
        w = rng.normal(size=c)
        ours.weight.data[...] = w
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
    if ours.bias is not None:
        b = rng.normal(size=c)
        ours.bias.data[...] = b
        with torch.no_grad():
            theirs.bias.copy_(torch.tensor(b))
    return ours, theirs


def _same_state(ours, theirs):
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        np.testing.assert_allclose(sd[k], tsd[k].numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


@st.composite
def bn_cases(draw):
    two_d = draw(st.booleans())
    n, c = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    rest = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if two_d else \
        draw(st.sampled_from([(), (1,), (3,)]))
    kw = draw(st.fixed_dictionaries({
        "momentum": st.sampled_from([0.1, 0.5, None]), "affine": st.booleans(),
        "track_running_stats": st.booleans(), "eps": st.sampled_from([1e-5, 1e-2])}))
    return two_d, (n, c) + rest, kw, draw(st.integers(0, 2**16))


@settings(max_examples=15)
@given(bn_cases())
def test_batchnorm_matches_torch_in_both_modes_over_several_steps(case):
    two_d, shape, kw, seed = case
    cls, tcls = (nn.BatchNorm2d, torch.nn.BatchNorm2d) if two_d else (nn.BatchNorm1d,
                                                                     torch.nn.BatchNorm1d)
    ours, theirs = _pair(cls, tcls, shape[1], **kw)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(seed)
    for step in range(4):
        if step == 3:
            ours.eval()
            theirs.eval()
        X = rng.normal(size=shape) * 3 + 1
        x, tx = Tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.normal(size=shape)
        y.backward(Tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
        for name, p in ours.named_parameters():
            tp = dict(theirs.named_parameters())[name]
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-11)
            p.grad = None
            tp.grad = None
        _same_state(ours, theirs)


def test_batchnorm_trains_with_an_optimizer_like_torch():
    ours, theirs = _pair(nn.BatchNorm1d, torch.nn.BatchNorm1d, 3)
    opt, topt = optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        X = rng.normal(size=(6, 3))
        loss = (ours(Tensor(X)) ** 3).sum()
        tloss = (theirs(torch.tensor(X)) ** 3).sum()
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
    _same_state(ours, theirs)


@settings(max_examples=6)
@given(st.booleans(), st.integers(0, 2**16))
def test_batchnorm_gradcheck_gradgradcheck(two_d, seed):
    rng = np.random.default_rng(seed)
    bn = (nn.BatchNorm2d(2, dtype=np.float64) if two_d else nn.BatchNorm1d(2, dtype=np.float64))
    bn.weight.data[...] = rng.normal(size=2)
    x = Tensor(rng.normal(size=(3, 2, 2, 2) if two_d else (4, 2)), requires_grad=True)
    f = lambda x, w, b: bn(x).tanh()  # noqa: E731 (w, b: the module's, checked too)
    assert gradcheck(f, [x, bn.weight, bn.bias])
    assert gradgradcheck(f, [x, bn.weight, bn.bias], fast_mode=True)


def test_batchnorm_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input"):
        nn.BatchNorm1d(3)(Tensor(np.ones((2, 3, 4, 5))))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"\(2, 4\) has 4 channels.*num_features=3"):
        nn.BatchNorm1d(3)(Tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match="expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(Tensor(np.ones((1, 3))))
    nn.BatchNorm1d(3).eval()(Tensor(np.ones((1, 3))))  # eval: one sample is fine


def test_batchnorm_state_dict_moves_between_the_two():
    ours, theirs = _pair(nn.BatchNorm1d, torch.nn.BatchNorm1d, 3)
    theirs(torch.tensor(np.random.default_rng(1).normal(size=(5, 3))))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    _same_state(ours, theirs)
    fresh = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    ours(Tensor(np.random.default_rng(2).normal(size=(5, 3))))
    fresh.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    _same_state(ours, fresh)


def test_batchnorm_in_a_jitted_training_step_runs_eagerly_and_eval_replays():
    bn = nn.BatchNorm1d(2, dtype=np.float64)
    step = tm.jit(lambda x: bn(x).sum())
    X = np.random.default_rng(0).normal(size=(4, 2))
    with pytest.warns(JitWarning, match="in-place write"):
        for _ in range(3):
            step(Tensor(X))
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    ev = tm.jit(lambda x: bn(x).sum())
    for _ in range(3):
        assert ev(Tensor(X)).item() == pytest.approx(bn(Tensor(X)).sum().item(), rel=1e-15)
    assert ev.plans[0].replays == 1


# -- buffers ---------------------------------------------------------------------------------
class _WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("steps", np.zeros((), np.int64))
        self.register_buffer("scratch", np.ones(3), persistent=False)
        self.register_buffer("nothing", None)


def test_buffers_are_listed_saved_restored_and_never_parameters():
    m = _WithBuffers()
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert len(m.buffers()) == 2
    assert all(not isinstance(b, nn.Parameter) and not b.requires_grad for b in m.buffers())
    assert {id(p) for p in m.parameters()}.isdisjoint(id(b) for b in m.buffers())
    assert list(m.state_dict()) == ["lin.weight", "lin.bias", "steps"]
    m.steps += 5
    m2 = _WithBuffers()
    m2.load_state_dict(m.state_dict())
    assert m2.steps.item() == 5 and m2.steps.dtype == np.int64
    with pytest.raises(KeyError, match="missing keys: 'steps'"):
        m2.load_state_dict({k: v for k, v in m.state_dict().items() if k != "steps"})
    with pytest.raises(ValueError, match=r"shape mismatch for 'steps'.*the buffer in the model"):
        m2.load_state_dict({**m.state_dict(), "steps": np.zeros(2)})
    m.steps = Tensor(np.array(9))  # assigning replaces the buffer
    assert m.state_dict()["steps"] == 9


def test_buffers_survive_tm_save_and_load(tmp_path):
    bn = nn.BatchNorm2d(2)
    bn(Tensor(np.random.default_rng(0).normal(size=(3, 2, 2, 2))))
    tm.save(bn.state_dict(), tmp_path / "bn.npz")
    fresh = nn.BatchNorm2d(2)
    fresh.load_state_dict(tm.load(tmp_path / "bn.npz"))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)


def test_register_buffer_errors_are_torchs():
    m = nn.Module()
    with pytest.raises(KeyError, match='contain "."'):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(KeyError, match="be empty string"):
        m.register_buffer("", np.zeros(1))
    with pytest.raises(TypeError, match="buffer name should be a string"):
        m.register_buffer(3, np.zeros(1))
    m.x = 1
    with pytest.raises(KeyError, match="attribute .*x.* already exists"):
        m.register_buffer("x", np.zeros(1))
    with pytest.raises(ValueError, match="buffer 'w' requires grad"):
        m.register_buffer("w", Tensor(np.zeros(1), requires_grad=True))
    m.register_buffer("b", np.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'list' as buffer 'b'"):
        m.b = [1.0]
