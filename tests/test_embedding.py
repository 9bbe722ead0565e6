"""Embedding, one_hot and multinomial: against PyTorch (float64, hypothesis shapes), by
gradcheck and gradgradcheck, their errors, nn.Embedding given PyTorch's weights, and
multinomial's draws (reproducible, distinct without replacement, redrawn by tm.jit)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_memo as tm
from tinygrad_memo import Tensor, nn
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
SMALL = settings(max_examples=8)


@st.composite
def lookups(draw):
    """(indices, weight) for embedding: small tables, index shapes of 0-3 dims, repeats."""
    v, d = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.integers(0, v, shape), rng.normal(size=(v, d))


@given(lookups())
def test_embedding_matches_torch(case):
    idx, w = case
    tw = torch.tensor(w, requires_grad=True)
    ty = TF.embedding(torch.tensor(idx), tw)
    g = np.random.default_rng(1).normal(size=ty.shape)
    ty.backward(torch.tensor(g))
    x = Tensor(w, requires_grad=True)
    y = F.embedding(idx, x)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    y.backward(Tensor(g))
    np.testing.assert_allclose(x.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_embedding_repeated_indices_add_up():
    w = Tensor(np.zeros((3, 2)), requires_grad=True)
    F.embedding(np.array([[1, 1], [1, 0]]), w).sum().backward()
    np.testing.assert_array_equal(w.grad, [[1, 1], [3, 3], [0, 0]])


@SMALL
@given(lookups())
def test_embedding_gradcheck_gradgradcheck(case):
    idx, w = case
    x = Tensor(w, requires_grad=True)
    if idx.size == 0:
        return
    f = lambda x: F.embedding(idx, x).tanh()  # noqa: E731 (tanh: a non-zero second derivative)
    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


def test_embedding_errors_name_the_shapes_and_range():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 3\).*\(3, 2\).*"
                       r"\[0, 3\]"):
        F.embedding(np.array([0, 3]), w)
    with pytest.raises(IndexError, match=r"\[-1, 0\]"):
        F.embedding(np.array([-1, 0]), w)
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float64"):
        F.embedding(np.array([0.0, 1.0]), w)
    with pytest.raises(ValueError, match=r"weight must be 2-D.*\(3,\)"):
        F.embedding(np.array([0]), Tensor(np.ones(3)))


def test_embedding_module_matches_torch_given_its_weights():
    torch.manual_seed(0)
    ref = torch.nn.Embedding(7, 3).double()
    m = nn.Embedding(7, 3)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in ref.named_parameters()]
    m.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    idx = np.array([[0, 6, 6], [2, 1, 0]])
    out, tout = m(idx), ref(torch.tensor(idx))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(m.weight.grad, ref.weight.grad.numpy())
    assert repr(m) == repr(ref)


def test_embedding_module_init_is_standard_normal():
    tm.manual_seed(0)
    w = nn.Embedding(200, 50).weight.numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be a positive int"):
        nn.Embedding(0, 3)


@given(st.lists(st.integers(0, 4), max_size=6), st.sampled_from([-1, 5, 7]))
def test_one_hot_matches_torch(values, num_classes):
    idx = np.array(values, dtype=np.int64).reshape(-1)
    if num_classes == -1 and idx.size == 0:
        return
    want = TF.one_hot(torch.tensor(idx), num_classes).numpy()
    got = F.one_hot(idx, num_classes).numpy()
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(F.one_hot(idx.reshape(-1, 1), num_classes).numpy(),
                                  want.reshape(-1, 1, want.shape[-1]))


def test_one_hot_errors_are_torchs():
    for idx, k, match in (([0, -1], 3, "class values must be non-negative"),
                          ([0, 3], 3, r"class values must be smaller than num_classes \(3\)"),
                          ([], -1, "can not infer total number of classes from empty tensor")):
        with pytest.raises(RuntimeError, match=match):
            F.one_hot(np.array(idx, dtype=np.int64), k)
        if idx:
            with pytest.raises(RuntimeError):
                TF.one_hot(torch.tensor(idx), k)
    with pytest.raises(TypeError, match="one_hot: indices must be integers"):
        F.one_hot(np.array([0.5]))


# -- multinomial ----------------------------------------------------------------------------
def test_multinomial_is_reproducible_and_its_shapes_are_torchs():
    p = Tensor(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]))
    for replacement in (False, True):
        tm.manual_seed(3)
        a = tm.multinomial(p, 2, replacement=replacement)
        tm.manual_seed(3)
        b = tm.multinomial(p, 2, replacement=replacement)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.dtype == np.int64 and a.shape == (2, 2) and not a.requires_grad
    assert tm.multinomial(Tensor([1.0, 2.0]), 1).shape == (1,)
    assert tuple(torch.multinomial(torch.tensor([1.0, 2.0]), 1).shape) == (1,)


def test_multinomial_never_draws_a_zero_weight_and_without_replacement_is_distinct():
    tm.manual_seed(0)
    p = np.array([[0.0, 1.0, 3.0, 0.0, 2.0]] * 50)
    a = tm.multinomial(Tensor(p), 3).numpy()
    assert sorted(set(a.ravel().tolist())) == [1, 2, 4]
    assert all(len(set(row)) == 3 for row in a.tolist())
    b = tm.multinomial(Tensor(p), 20, replacement=True).numpy()
    assert set(b.ravel().tolist()) <= {1, 2, 4}


def test_multinomial_without_replacement_completes_a_row_with_zero_weights_as_torch():
    p = np.array([[0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    for a in (tm.multinomial(Tensor(p), 3).numpy(), torch.multinomial(torch.tensor(p), 3).numpy()):
        assert a[:, 0].tolist() == [1, 3]  # the non-zero weight first, then distinct others
        assert all(len(set(row)) == 3 for row in a.tolist())


def test_multinomial_frequencies_follow_the_weights():
    """With replacement: counts within 5 standard deviations of n p (fixed seed)."""
    tm.manual_seed(1)
    p = np.array([0.1, 0.6, 0.3])
    n = 20000
    counts = np.bincount(tm.multinomial(Tensor(p * 5), n, replacement=True).numpy(), minlength=3)
    assert (np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p))).all()
    # without replacement, the first draw follows the weights too
    tm.manual_seed(2)
    first = tm.multinomial(Tensor(np.tile(p, (n, 1))), 2).numpy()[:, 0]
    counts = np.bincount(first, minlength=3)
    assert (np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p))).all()


def test_multinomial_errors_are_torchs():
    cases = [
        (np.array([0.5, -0.1]), 1, False, "probability tensor contains either `inf`, `nan` or "
                                          "element < 0"),
        (np.array([0.5, np.nan]), 1, False, "probability tensor contains"),
        (np.array([0.0, 0.0]), 1, True, r"invalid multinomial distribution \(sum of probabilities "
                                        r"<= 0\)"),
        (np.array([0.5, 0.5]), 3, False, "cannot sample n_sample > prob_dist.size"),
        (np.ones((2, 2, 2)), 1, False, "prob_dist must be 1 or 2 dim"),
        (np.array([0.5, 0.5]), 0, True, "cannot sample n_sample <= 0 samples"),
    ]
    for p, k, rep, match in cases:
        with pytest.raises(RuntimeError, match=match):
            tm.multinomial(Tensor(p), k, replacement=rep)
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(p), k, replacement=rep)


def test_multinomial_redraws_at_each_jit_replay():
    probs = Tensor(np.full((4, 6), 1.0))
    step = tm.jit(lambda p: tm.multinomial(p * 1.0, 3))
    draws = []
    for i in range(4):
        tm.manual_seed(i)
        eager = tm.multinomial(probs * 1.0, 3).numpy()
        tm.manual_seed(i)
        draws.append(step(probs).numpy())
        np.testing.assert_array_equal(draws[-1], eager)
    assert step.plans[0].replays == 2
    assert not np.array_equal(draws[2], draws[3])
