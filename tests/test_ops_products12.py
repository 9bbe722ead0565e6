"""Products (einsum, tensordot, outer), scaled dot-product attention and the
constructors of issue 12: against PyTorch (forward, gradients, Hessian-vector
products) in float64, gradcheck and gradgradcheck, forward-mode rules."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm
from tinygrad_memo.function import Context
from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
from tinygrad_memo.nn import functional as F
from tinygrad_memo.ops import REGISTRY

torch = pytest.importorskip("torch")

# (subscripts, operand shapes): matrix products, batches, '...', implicit outputs,
# diagonals (repeated letters), letters only one operand has, three operands, odd sizes
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 5)]),
    ("bij,bjk->bik", [(3, 2, 3), (3, 3, 1)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("bhld,bhsd->bhls", [(2, 3, 4, 5), (2, 3, 3, 5)]),
    ("ijk,k->ij", [(2, 3, 4), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij,ij->i", [(3, 2), (3, 2), (3, 2)]),
    ("i,->i", [(3,), ()]),
]
IDS = [c[0] for c in EINSUM_CASES]


def _operands(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, s) for s in shapes]


def _both(f_tm, f_torch, arrays, seed=0):
    """Forward, gradient and Hessian-vector product of f in both libraries."""
    rng = np.random.default_rng(seed + 100)
    xs = [tm.Tensor(a, requires_grad=True) for a in arrays]
    out = f_tm(*xs)
    w = rng.normal(size=out.shape)
    vs = [rng.normal(size=a.shape) for a in arrays]
    loss = (out * out * tm.Tensor(w)).sum()
    grads = tm.grad(loss, xs, create_graph=True)
    hv = tm.grad(sum((g * tm.Tensor(v)).sum() for g, v in zip(grads, vs)), xs)
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = f_torch(*txs)
    tloss = (tout * tout * torch.tensor(w)).sum()
    tgrads = torch.autograd.grad(tloss, txs, create_graph=True)
    thv = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vs)), txs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, tg, h, th in zip(grads, tgrads, hv, thv):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h, th.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("subs,shapes", EINSUM_CASES, ids=IDS)
def test_einsum_matches_torch_first_and_second_order(subs, shapes):
    arrays = _operands(shapes, len(subs))
    _both(lambda *x: tm.einsum(subs, *x), lambda *x: torch.einsum(subs, *x), arrays)


@pytest.mark.parametrize("subs,shapes", EINSUM_CASES[::3], ids=IDS[::3])
def test_einsum_gradcheck_and_gradgradcheck(subs, shapes):
    xs = [tm.Tensor(a, requires_grad=True) for a in _operands(shapes, 1)]
    assert gradcheck(lambda *x: tm.einsum(subs, *x), xs)
    assert gradgradcheck(lambda *x: tm.einsum(subs, *x), xs)


@pytest.mark.parametrize("subs,shapes", EINSUM_CASES, ids=IDS)
def test_einsum_forward_mode_rule(subs, shapes):
    arrays = _operands(shapes, 2)
    ts = [np.random.default_rng(3 + i).normal(size=a.shape) for i, a in enumerate(arrays)]
    fn = REGISTRY["einsum"]

    def run(xs):
        ctx = Context(fn, tuple(xs), {"subscripts": subs})
        ctx.needs_input_grad = (True,) * len(xs)
        return fn.forward(ctx, *xs, subscripts=subs), ctx

    _, ctx = run(arrays)
    eps = 1e-6
    up, _ = run([a + eps * t for a, t in zip(arrays, ts)])
    down, _ = run([a - eps * t for a, t in zip(arrays, ts)])
    np.testing.assert_allclose(fn.jvp(ctx, *ts), (up - down) / (2 * eps), rtol=1e-6, atol=1e-6)
    only_first = fn.jvp(ctx, ts[0], *([None] * (len(ts) - 1)))
    up, _ = run([arrays[0] + eps * ts[0], *arrays[1:]])
    down, _ = run([arrays[0] - eps * ts[0], *arrays[1:]])
    np.testing.assert_allclose(only_first, (up - down) / (2 * eps), rtol=1e-6, atol=1e-6)


def test_einsum_with_a_constant_operand_and_errors():
    x = tm.Tensor(np.ones((2, 3)), requires_grad=True)
    y = tm.einsum("ij,jk->ik", x, np.arange(6.0).reshape(3, 2))
    assert y.grad_fn.name == "einsum" and y.grad_fn.args["subscripts"] == "ij,jk->ik"
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, np.tile([1.0, 5.0, 9.0], (2, 1)))
    with pytest.raises(ValueError, match="einsum: 'ij,jk' names 2 operands, got 1"):
        tm.einsum("ij,jk", x)
    with pytest.raises(ValueError, match="einsum: subscript 'ijk' does not fit"):
        tm.einsum("ijk->i", x)
    with pytest.raises(ValueError, match="einsum: size 2 of 'j'"):
        tm.einsum("ij,jk->ik", x, np.ones((2, 2)))


@pytest.mark.parametrize("sa,sb,axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), 1), ((3,), (4,), 0),
    ((2, 3, 4), (4, 2, 3), ([0, 1], [1, 2])), ((3, 2), (2, 3), ([1], [0])), ((2, 3), (3, 2), (0, 1)),
])
def test_tensordot_matches_torch(sa, sb, axes):
    arrays = _operands([sa, sb], 5)
    t_axes = axes if isinstance(axes, int) else [[x] if isinstance(x, int) else x for x in axes]
    _both(lambda a, b: tm.tensordot(a, b, axes), lambda a, b: torch.tensordot(a, b, t_axes),
          arrays)
    np.testing.assert_allclose(tm.tensordot(*arrays, axes).data, np.tensordot(*arrays, axes))


def test_outer_is_numpys():
    a, b = _operands([(3,), (2, 2)], 6)
    np.testing.assert_allclose(tm.outer(a, b).data, np.outer(a, b))
    _both(lambda x, y: tm.outer(x, y), lambda x, y: torch.outer(x, y), _operands([(3,), (4,)], 7))


# -- attention ----------------------------------------------------------------------------------
ATTN_CASES = [
    dict(shapes=[(2, 3, 4), (2, 5, 4), (2, 5, 3)]),
    dict(shapes=[(1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 5)], is_causal=True),
    dict(shapes=[(3, 2), (4, 2), (4, 3)], is_causal=True),  # L < S: the mask is tril(L, S)
    dict(shapes=[(2, 3, 4), (2, 5, 4), (2, 5, 3)], mask="bool", scale=0.3),
    dict(shapes=[(2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4)], mask="float"),
    dict(shapes=[(5, 1), (3, 1), (3, 2)], scale=2.0),
]


@pytest.mark.parametrize("case", ATTN_CASES, ids=[str(i) for i in range(len(ATTN_CASES))])
def test_scaled_dot_product_attention_matches_torch(case):
    rng = np.random.default_rng(11)
    q, k, v = _operands(case["shapes"], 12)
    L, S = q.shape[-2], k.shape[-2]
    kw = {"is_causal": case.get("is_causal", False), "scale": case.get("scale")}
    mask = None
    if case.get("mask") == "bool":
        mask = rng.random((L, S)) < 0.7
        mask[:, 0] = True  # every query sees some key
    elif case.get("mask") == "float":
        mask = rng.normal(size=(L, S))
    tmask = None if mask is None else torch.tensor(mask)

    def reference(a, b, c):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel(SDPBackend.MATH):  # the backend that has second derivatives
            return torch.nn.functional.scaled_dot_product_attention(a, b, c, attn_mask=tmask, **kw)

    _both(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask, **kw),
          reference, [q, k, v])


def test_scaled_dot_product_attention_gradgradcheck_and_dropout():
    q, k, v = (tm.Tensor(a, requires_grad=True) for a in _operands([(2, 3), (3, 3), (3, 2)], 13))
    assert gradgradcheck(lambda *x: F.scaled_dot_product_attention(*x, is_causal=True), [q, k, v])
    tm.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    tm.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.data, b.data)
    full = F.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(a.data, full.data)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((2, 3), bool), is_causal=True)
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(q, k, v.T)


# -- constructors --------------------------------------------------------------------------------
def test_constructors_follow_numpy_with_float32_for_python_floats():
    x = tm.Tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    for f, fill in [(tm.zeros_like, 0), (tm.ones_like, 1)]:
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and (y.data == fill).all()
        assert f([[1, 2]]).dtype == np.int64 and f(x, dtype=np.float32).dtype == np.float32
    assert tm.full((2, 3), 1.5).dtype == np.float32 and tm.full(3, 2).dtype.kind == "i"
    assert tm.full(3, True).dtype == bool and tm.full((1,), 2.0, dtype=np.float64).dtype == np.float64
    z = tm.full_like(x, 7, requires_grad=True)
    assert z.requires_grad and z.dtype == np.float64 and (z.data == 7).all()
    np.testing.assert_allclose(tm.linspace(-1, 1, 5).data, np.linspace(-1, 1, 5))
    assert tm.linspace(0, 1, 4, endpoint=False).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tm.linspace(0, 1).shape == (50,) and tm.linspace(0, 1).dtype == np.float32
    with pytest.raises(TypeError, match="use num="):
        tm.linspace(0, 1, steps=5)
