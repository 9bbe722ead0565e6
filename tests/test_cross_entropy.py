"""F.cross_entropy for (C,), (N, C) and (N, C, d1, ...) with ignore_index, label_smoothing
and every reduction, against PyTorch (float64, forward and gradient, hypothesis shapes), by
gradcheck and gradgradcheck; its target checks run inside the op, so tm.jit replays them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import Tensor
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@st.composite
def cases(draw):
    """(logits, int targets, kwargs): ranks 1-4, some targets ignored, smoothing, reductions."""
    ndim = draw(st.integers(1, 4))
    C = draw(st.integers(1, 4))
    shape = (C,) if ndim == 1 else (draw(st.integers(1, 3)), C) + tuple(
        draw(st.integers(1, 3)) for _ in range(ndim - 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=shape) * 3
    tshape = () if ndim == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, C, tshape)
    ignore = draw(st.sampled_from([-100, 0, 2]))
    drop = rng.random(tshape) < draw(st.sampled_from([0.0, 0.3]))
    t = np.where(drop, ignore, t)
    kw = dict(ignore_index=ignore, label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.35])),
              reduction=draw(st.sampled_from(["mean", "sum", "none"])))
    return x, t, kw


def _all_ignored(t, kw):
    return kw["reduction"] == "mean" and (np.asarray(t) == kw["ignore_index"]).all()


@given(cases())
def test_cross_entropy_matches_torch(case):
    x, t, kw = case
    if _all_ignored(t, kw):  # 0 / 0 (nan, in both)
        return
    tx = torch.tensor(x, requires_grad=True)
    tout = TF.cross_entropy(tx, torch.tensor(t), **kw)
    ours = Tensor(x, requires_grad=True)
    out = F.cross_entropy(ours, t, **kw)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-11, atol=1e-12)
    g = np.random.default_rng(0).normal(size=tout.shape)
    tout.backward(torch.tensor(g))
    out.backward(Tensor(g))
    np.testing.assert_allclose(ours.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=8)
@given(cases())
def test_cross_entropy_gradcheck_gradgradcheck(case):
    x, t, kw = case
    if _all_ignored(t, kw):
        return
    leaf = Tensor(x, requires_grad=True)
    f = lambda x: F.cross_entropy(x, t, **kw)  # noqa: E731
    assert gradcheck(f, [leaf])
    assert gradgradcheck(f, [leaf])


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_probability_targets_with_smoothing_match_torch(eps):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 2))
    p = rng.random((3, 4, 2))
    p /= p.sum(axis=1, keepdims=True)
    tx = torch.tensor(x, requires_grad=True)
    tout = TF.cross_entropy(tx, torch.tensor(p), label_smoothing=eps)
    ours = Tensor(x, requires_grad=True)
    out = F.cross_entropy(ours, p, label_smoothing=eps)
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-12)
    tout.backward()
    out.backward()
    np.testing.assert_allclose(ours.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_all_targets_ignored_give_nan_as_torch():
    t = np.array([-100, -100])
    assert np.isnan(F.cross_entropy(Tensor(np.zeros((2, 3))), t).item())
    assert np.isnan(TF.cross_entropy(torch.zeros(2, 3), torch.tensor(t)).item())
    assert F.cross_entropy(Tensor(np.zeros((2, 3))), t, reduction="sum").item() == 0.0


def test_target_errors_are_raised_by_the_op():
    x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"class targets must be in \[0, 3\) or ignore_index=-1, "
                                         r"got values in \[3, 3\]"):
        tm.ops.CrossEntropy.apply(x, np.array([[0, 1, 2, 3], [0, 0, 0, 0]]), ignore_index=-1)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, np.zeros((2, 4), np.int64), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"input must have shape \(C,\), \(N, C\)"):
        F.cross_entropy(Tensor(np.array(1.0)), np.array(0))


def test_a_jit_replay_checks_the_new_targets():
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    step = tm.jit(lambda x, t: F.cross_entropy(x * w, t))
    x = Tensor(np.zeros((3, 4)))
    for t in ([0, 1, 2], [3, 2, 1], [1, 1, 1]):
        step(x, np.array(t))
    assert step.plans[0].replays == 1
    with pytest.raises(ValueError, match=r"cross_entropy: class targets must be in \[0, 4\)"):
        step(x, np.array([0, 4, 1]))
    assert step.plans[0].replays >= 1
