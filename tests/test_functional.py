"""nn.functional: every loss's value and gradient equal PyTorch's (float64, all reductions),
stability, activations, and clear errors for bad targets."""

import numpy as np
import pytest

from tinygrad_memo import Tensor, Value
from tinygrad_memo.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _backward_both(out, tout, seed=1):
    """Backward with a non-uniform upstream gradient on both sides."""
    if out.data.size == 1 and out.ndim == 0:
        # a scalar: differentiate (out + 1) ** 2, whose seed 2 (out + 1) is not 1
        ((out + 1.0) ** 2).backward()
        ((tout + 1.0) ** 2).backward()
    else:
        G = _rng(seed).normal(size=out.shape)
        out.backward(G)
        tout.backward(torch.tensor(G))


def _check(ours, theirs, inputs, tinputs, atol=1e-10):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=atol)
    assert ours.shape == tuple(theirs.shape)
    _backward_both(ours, theirs)
    for x, tx in zip(inputs, tinputs):
        assert x.grad is not None
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=atol)


def _pair(a):
    return Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss(reduction):
    g = _rng(0)
    x, tx = _pair(g.normal(size=(4, 3)))
    y, ty = _pair(g.normal(size=(4, 3)))  # the target gets a gradient too
    _check(F.mse_loss(x, y, reduction=reduction), TF.mse_loss(tx, ty, reduction=reduction),
           [x, y], [tx, ty])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss(reduction):
    g = _rng(1)
    x, tx = _pair(g.normal(size=(5, 2)))
    target = g.normal(size=(5, 2))
    _check(F.l1_loss(x, target, reduction=reduction),
           TF.l1_loss(tx, torch.tensor(target), reduction=reduction), [x], [tx])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy(reduction):
    g = _rng(2)
    x, tx = _pair(g.normal(size=(7, 5)) * 3)
    t = g.integers(0, 5, size=7)
    _check(F.cross_entropy(x, t, reduction=reduction),
           TF.cross_entropy(tx, torch.tensor(t), reduction=reduction), [x], [tx])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    g = _rng(3)
    x, tx = _pair(g.normal(size=(4, 3)))
    p = g.random(size=(4, 3))
    p /= p.sum(axis=1, keepdims=True)
    _check(F.cross_entropy(x, p, reduction=reduction),
           TF.cross_entropy(tx, torch.tensor(p), reduction=reduction), [x], [tx])


def test_cross_entropy_unbatched():
    x, tx = _pair(_rng(4).normal(size=6))
    _check(F.cross_entropy(x, np.array(2)), TF.cross_entropy(tx, torch.tensor(2)), [x], [tx])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 5e3], [3.0, 1e4, 1e4]], dtype=dtype)
    t = np.array([0, 2, 1])
    x = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, t)
    tx = torch.tensor(logits, requires_grad=True)
    tloss = TF.cross_entropy(tx, torch.tensor(t))
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-6)
    loss.backward()
    tloss.backward()
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    g = _rng(5)
    x, tx = _pair(g.normal(size=(6, 4)))
    t = g.integers(0, 4, size=6)
    _check(F.nll_loss(x, t, reduction=reduction),
           TF.nll_loss(tx, torch.tensor(t), reduction=reduction), [x], [tx])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    g = _rng(6)
    x, tx = _pair(g.normal(size=(5, 3)) * 4)
    y, ty = _pair(g.random(size=(5, 3)))
    _check(F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
           TF.binary_cross_entropy_with_logits(tx, ty, reduction=reduction), [x, y], [tx, ty])


def test_bce_with_logits_stable_and_exact_at_zero():
    logits = np.array([1e4, -1e4, 0.0, 0.0, 800.0, -800.0])
    target = np.array([1.0, 1.0, 1.0, 0.0, 0.3, 0.7])
    x, tx = _pair(logits)
    _check(F.binary_cross_entropy_with_logits(x, target, reduction="none"),
           TF.binary_cross_entropy_with_logits(tx, torch.tensor(target), reduction="none"),
           [x], [tx], atol=1e-9)
    # the gradient at exactly 0 is sigmoid(0) - y, not a kink convention
    x2 = Tensor(np.array([0.0]), requires_grad=True)
    F.binary_cross_entropy_with_logits(x2, np.array([0.25]), reduction="sum").backward()
    np.testing.assert_allclose(x2.grad, [0.25])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    g = _rng(7)
    p, tp = _pair(g.uniform(0.05, 0.95, size=(4, 3)))
    y = g.random(size=(4, 3))
    _check(F.binary_cross_entropy(p, y, reduction=reduction),
           TF.binary_cross_entropy(tp, torch.tensor(y), reduction=reduction), [p], [tp])


def test_binary_cross_entropy_clamps_logs_like_torch():
    p = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    x = Tensor(p, requires_grad=True)
    out = F.binary_cross_entropy(x, y, reduction="none")
    ref = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(out.data, ref.numpy())
    out.sum().backward()
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_loss(reduction):
    g = _rng(8)
    s, ts = _pair(g.normal(size=(9,)) * 2)
    y = g.choice([-1, 1], size=9)
    ref = torch.relu(1.0 - torch.tensor(y, dtype=torch.float64) * ts)
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    _check(F.hinge_loss(s, y, reduction=reduction), ref, [s], [ts])


def test_hinge_loss_on_values_equals_tensor():
    g = _rng(9)
    scores = g.normal(size=6)
    y = g.choice([-1, 1], size=6)
    vals = [Value(float(v)) for v in scores]
    loss = F.hinge_loss(vals, y)
    loss.backward()
    t = Tensor(scores, requires_grad=True)
    tl = F.hinge_loss(t, y)
    tl.backward()
    assert loss.data == pytest.approx(tl.item(), abs=1e-12)
    np.testing.assert_allclose([v.grad for v in vals], t.grad, atol=1e-12)


def test_mse_loss_on_values():
    vals = [Value(1.0), Value(-2.0)]
    loss = F.mse_loss(vals, [0.5, 0.0])
    loss.backward()
    assert loss.data == pytest.approx((0.25 + 4.0) / 2)
    assert [v.grad for v in vals] == pytest.approx([0.5, -2.0])
    assert len(F.mse_loss(vals, [0.5, 0.0], reduction="none")) == 2


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "log_softmax"])
def test_activations_equal_torch(name):
    x, tx = _pair(_rng(10).normal(size=(3, 4)) * 2)
    ours = getattr(F, name)(x)
    theirs = getattr(TF, name)(tx, dim=-1) if "softmax" in name else getattr(torch, name)(tx)
    _check(ours, theirs, [x], [tx])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_is_torchs_in_both_forms(approximate):
    x, tx = _pair(np.linspace(-6, 6, 25).reshape(5, 5))
    _check(F.gelu(x, approximate), TF.gelu(tx, approximate=approximate), [x], [tx])


def test_gelu_default_is_torchs_exact_form():
    x, tx = _pair(np.linspace(-6, 6, 25).reshape(5, 5))
    _check(F.gelu(x), TF.gelu(tx), [x], [tx])
    with pytest.raises(ValueError, match="gelu: approximate argument must be either 'none' or "
                       "'tanh'"):
        F.gelu(x, approximate="erf")


def test_linear_and_layer_norm_equal_torch():
    g = _rng(11)
    x, tx = _pair(g.normal(size=(4, 3)))
    w, tw = _pair(g.normal(size=(2, 3)))
    b, tb = _pair(g.normal(size=2))
    _check(F.linear(x, w, b), TF.linear(tx, tw, tb), [x, w, b], [tx, tw, tb])
    x, tx = _pair(g.normal(size=(2, 3, 4)) * 3 + 1)
    w, tw = _pair(g.normal(size=(3, 4)))
    b, tb = _pair(g.normal(size=(3, 4)))
    _check(F.layer_norm(x, (3, 4), w, b), TF.layer_norm(tx, (3, 4), tw, tb), [x, w, b], [tx, tw, tb],
           atol=1e-9)


def test_dropout_functional():
    from tinygrad_memo.random import manual_seed

    x = Tensor(np.ones((200, 50)), requires_grad=True)
    manual_seed(0)
    y = F.dropout(x, 0.3)
    manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, 0.3).data, y.data)  # seeded
    assert set(np.unique(y.data).tolist()) == {0.0, 1 / 0.7}
    assert abs((y.data == 0).mean() - 0.3) < 0.02
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad, y.data)  # the gradient uses the same mask
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match="dropout"):
        F.dropout(x, 1.5)


# -- validation ----------------------------------------------------------------------------------
def test_shape_mismatch_errors_name_function_and_shapes():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"mse_loss.*\(4,\).*\(4, 3\)"):
        F.mse_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(4, 1\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"l1_loss"):
        F.l1_loss(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"hinge_loss"):
        F.hinge_loss(Tensor(np.zeros(3)), np.ones(4))


def test_cross_entropy_target_errors():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy.*target shape \(3,\).*\(4, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy.*float target.*\(4,\)"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy.*\[0, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"nll_loss.*integers.*bool"):
        F.nll_loss(x, np.array([True, False, True, False]))
    with pytest.raises(ValueError, match=r"cross_entropy.*expected target shape \(2, 4\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3, 4))), np.zeros(2, dtype=int))


def test_other_validation():
    x = Tensor(np.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, np.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match=r"hinge_loss: labels must be -1 or \+1, got \[0\]"):
        F.hinge_loss(x, np.array([1, 0, -1]))
    with pytest.raises(ValueError, match="binary_cross_entropy: input must be probabilities"):
        F.binary_cross_entropy(Tensor(np.array([1.5])), np.array([1.0]))
    with pytest.raises(ValueError, match="mse_loss: target must be numeric"):
        F.mse_loss(x, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="linear"):
        F.linear(Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="hinge_loss: got 2 Value scores but target has 3"):
        F.hinge_loss([Value(1.0), Value(2.0)], [1, 1, -1])
