"""Every Tensor op against PyTorch: forward values, and gradients for a random
upstream gradient, over hypothesis-generated shapes (broadcast pairs, axes,
indices); softmax stability at logits of magnitude 1e4."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_tensor_helpers import (
    OP_IDS,
    OPS,
    op_settings,
    rng_of,
    tm_grads,
    torch_grads,
    upstream,
)
from test_tensor_ops_fd import MATMUL_CASES

import tinygrad_memo as tm

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


def check_torch(op, arrays, kw, rng, dtype=np.float64):
    arrays = [a.astype(dtype) for a in arrays]
    with tm.no_grad():
        out = op.fn(*[tm.Tensor(a) for a in arrays], **kw)
    assert out.dtype == dtype, f"{op.name}: output dtype {out.dtype}, inputs {dtype}"
    w = upstream(rng, out.shape)
    t_out, t_grads = torch_grads(op, [a.astype(np.float64) for a in arrays], kw, w)
    m_out, m_grads = tm_grads(op, arrays, kw, w, dtype)
    assert m_out.shape == t_out.shape, f"{op.name}: shape {m_out.shape} != torch {t_out.shape}"
    np.testing.assert_allclose(m_out, t_out, **TOL[dtype], err_msg=f"{op.name} forward")
    for i, (g, e, a) in enumerate(zip(m_grads, t_grads, arrays)):
        assert g.shape == a.shape and g.dtype == dtype, f"{op.name}: input {i} gradient {g.shape} {g.dtype}"
        np.testing.assert_allclose(g, e, **TOL[dtype], err_msg=f"{op.name} grad of input {i}")


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@op_settings(15)
@given(data=st.data())
def test_matches_torch_float64(op, data):
    arrays, kw = op.draw(data.draw)
    check_torch(op, arrays, kw, rng_of(data.draw))


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@op_settings(5)
@given(data=st.data())
def test_matches_torch_float32(op, data):
    arrays, kw = op.draw(data.draw)
    check_torch(op, arrays, kw, rng_of(data.draw), np.float32)


@pytest.mark.parametrize("sa,sb", MATMUL_CASES, ids=[f"{a}@{b}" for a, b in MATMUL_CASES])
def test_matmul_every_numpy_case_torch(sa, sb):
    rng = np.random.default_rng(1)
    op = OPS[OP_IDS.index("matmul")]
    check_torch(op, [rng.uniform(-2, 2, sa), rng.uniform(-2, 2, sb)], {}, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_stable_at_large_logits(method, dtype, axis):
    rng = np.random.default_rng(2)
    logits = (rng.uniform(-1, 1, (4, 5)) * 1e4).astype(dtype)
    logits[0, :] = 1e4  # ties at the top
    logits[1, :] = -1e4
    w = rng.normal(size=logits.shape).astype(dtype)
    x = tm.Tensor(logits, requires_grad=True)
    out = getattr(x, method)(axis=axis)
    out.backward(w)
    tx = torch.tensor(logits, requires_grad=True)
    tout = getattr(tx, method)(dim=axis)
    tout.backward(torch.tensor(w))
    assert np.isfinite(out.data).all() and np.isfinite(x.grad).all()
    assert out.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_sigmoid_and_exp_extremes_like_torch():
    a = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float32)
    x = tm.Tensor(a, requires_grad=True)
    x.sigmoid().backward(np.ones(5, dtype=np.float32))
    tx = torch.tensor(a, requires_grad=True)
    tx.sigmoid().backward(torch.ones(5))
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-7)
