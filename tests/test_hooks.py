"""Tensor/Value hooks (fired once with the complete gradient, replacement, removal,
order, tm.grad inputs, create_graph) and module forward hooks, against the naive
oracle and PyTorch."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given

import tinygrad_memo as tm
from tinygrad_memo import engine, hooks, nn
from tinygrad_memo.engine import naive_grad, topological_order
from tinygrad_memo.testing import strategies as st


@pytest.fixture(autouse=True)
def _alone():
    """Each test sees no hooks of other tests (a node kept alive elsewhere may have some)."""
    gc.collect()
    saved = dict(hooks._LIVE)
    hooks._LIVE.clear()
    had_tap = hooks._tap in engine.TAPS
    if had_tap:
        engine.TAPS.remove(hooks._tap)
    yield
    gc.collect()
    hooks._LIVE.update(saved)
    if hooks._LIVE and hooks._tap not in engine.TAPS:
        engine.TAPS.append(hooks._tap)


def _no_hooks_left():
    gc.collect()
    return not hooks._LIVE and hooks._tap not in engine.TAPS


# -- firing: once per pass, with the complete gradient --------------------------------------------
@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_fires_once_with_the_complete_gradient(kind):
    # b fans out three ways (b + b, and b again in d): its slot gets three contributions
    if kind == "value":
        a = tm.Value(1.5)
    else:
        a = tm.Tensor([1.5, -0.5], requires_grad=True, dtype=np.float64)
    b = a * a
    seen = []
    b.register_hook(lambda g: seen.append(g.copy() if kind == "tensor" else g))
    c = b + b
    d = c * b
    root = d if kind == "value" else (d * np.array([2.0, -3.0])).sum()
    root.backward(retain_graph=True)
    assert len(seen) == 1
    (want,), _ = naive_grad(root, [b])
    np.testing.assert_array_equal(seen[0], want)
    root.backward()
    assert len(seen) == 2  # once per pass


@given(st.value_expressions())
def test_value_hooks_see_the_naive_oracle(expr):
    xs = expr.value_inputs()
    out = expr.build_value(xs)
    nodes = topological_order(out)
    seen = {}
    for n in nodes:
        n.register_hook(lambda g, n=n: seen.setdefault(n, []).append(g))
    out.backward(retain_graph=True)
    want, _ = naive_grad(out, nodes)
    for n, w in zip(nodes, want):
        assert len(seen[n]) == 1
        assert seen[n][0] == pytest.approx(w, rel=1e-12, abs=1e-12)


@given(st.tensor_expressions())
def test_tensor_hooks_see_the_naive_oracle(expr):
    xs = expr.tensor_inputs()
    out = expr.build_tensor(xs)
    w = np.random.default_rng(0).standard_normal(out.shape)
    root = (out * w).sum()  # a non-uniform upstream gradient
    nodes = topological_order(root)
    seen = {}
    for n in nodes:
        n.register_hook(lambda g, n=n: seen.setdefault(n, []).append(np.array(g)))
    root.backward(retain_graph=True)
    want, _ = naive_grad(root, nodes)
    for n, g in zip(nodes, want):
        assert len(seen[n]) == 1
        np.testing.assert_allclose(seen[n][0], g, rtol=1e-10, atol=1e-12)


# -- replacement, order, removal ----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_replacement_flows_downstream(kind):
    def leaf(v):
        return tm.Value(v) if kind == "value" else tm.Tensor([v], requires_grad=True,
                                                            dtype=np.float64)
    x, y = leaf(2.0), leaf(3.0)
    h = x * y
    h.register_hook(lambda g: g * 10)
    out = h.tanh() + x
    out.backward() if kind == "value" else out.sum().backward()
    dh = 1 - np.tanh(6.0) ** 2
    assert float(np.asarray(x.grad).item()) == pytest.approx(10 * dh * 3.0 + 1)
    assert float(np.asarray(y.grad).item()) == pytest.approx(10 * dh * 2.0)


@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_several_hooks_run_in_registration_order(kind):
    x = tm.Value(1.0) if kind == "value" else tm.Tensor([1.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(("a", float(np.asarray(g).item()))) or g + 1)
    x.register_hook(lambda g: calls.append(("b", float(np.asarray(g).item()))) or g * 3)
    x.register_hook(lambda g: calls.append(("c", float(np.asarray(g).item()))))
    (x * 2).backward() if kind == "value" else (x * 2).sum().backward()
    assert calls == [("a", 2.0), ("b", 3.0), ("c", 9.0)]
    assert float(np.asarray(x.grad).item()) == 9.0  # the leaf accumulates the hooked gradient


def test_order_tensor_hooks_then_retained_grad_then_the_rule():
    torch = pytest.importorskip("torch")
    ours, theirs = {}, {}
    for lib, store in ((tm, ours), (torch, theirs)):
        x = lib.tensor([1.0, 2.0], requires_grad=True) if lib is torch else \
            tm.Tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        h.retain_grad()  # registered before the hook: still sees the hooked gradient
        h.register_hook(lambda g: g * 2)
        x.register_hook(lambda g: g + 1)
        (h * h).sum().backward()
        store["h"] = np.asarray(h.grad.numpy() if lib is torch else h.grad, dtype=np.float64)
        store["x"] = np.asarray(x.grad.numpy() if lib is torch else x.grad, dtype=np.float64)
    np.testing.assert_array_equal(ours["h"], theirs["h"])
    np.testing.assert_array_equal(ours["x"], theirs["x"])


@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_remove(kind):
    x = tm.Value(1.0) if kind == "value" else tm.Tensor([1.0], requires_grad=True)
    calls = []
    h1 = x.register_hook(lambda g: calls.append(1))
    h2 = x.register_hook(lambda g: calls.append(2))
    h1.remove()
    h1.remove()  # again: nothing
    (x * 2).backward() if kind == "value" else (x * 2).sum().backward()
    assert calls == [2]
    assert hooks.has_hooks(x)
    h2.remove()
    assert not hooks.has_hooks(x)
    assert _no_hooks_left()
    (x * 2).backward() if kind == "value" else (x * 2).sum().backward()
    assert calls == [2]


def test_handle_as_context_manager_and_dead_nodes_drop_their_hooks():
    x = tm.Tensor([1.0], requires_grad=True)
    with x.register_hook(lambda g: g * 0):
        (x * 2).sum().backward()
    assert x.grad.tolist() == [0.0]
    assert _no_hooks_left()
    h = x * 2
    h.register_hook(lambda g: g)
    assert not _no_hooks_left()
    del h
    assert _no_hooks_left()  # the side table does not keep graphs alive


@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_a_hook_that_refers_to_its_node_does_not_keep_it_alive(kind):
    x = tm.Value(1.0) if kind == "value" else tm.Tensor([1.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g, h=h: g)  # a cycle through the node: the collector frees it
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None
    assert _no_hooks_left()


# -- where hooks fire: leaves, interior, roots, tm.grad inputs, create_graph ------------------------------
def test_tm_grad_inputs_get_the_hooked_gradient_like_pytorch():
    torch = pytest.importorskip("torch")
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (g,) = tm.grad((x * x).sum(), x)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    xt.register_hook(lambda g: g * 10)
    (gt,) = torch.autograd.grad((xt * xt).sum(), xt)
    np.testing.assert_array_equal(g, gt.numpy())
    v = tm.Value(2.0)
    v.register_hook(lambda g: -g)
    assert tm.grad(v * v, v) == [-4.0]


def test_root_hook_sees_the_seed():
    y = tm.Tensor([1.0, 2.0], requires_grad=True) * 2
    seen = []
    y.register_hook(lambda g: seen.append(np.array(g)))
    y.backward(np.array([3.0, -1.0], np.float32))
    np.testing.assert_array_equal(seen[0], [3.0, -1.0])


@pytest.mark.parametrize("kind", ["value", "tensor"])
def test_create_graph_hooks_get_nodes_and_their_replacement_is_differentiated(kind):
    torch = pytest.importorskip("torch")
    if kind == "value":
        x = tm.Value(1.5)
    else:
        x = tm.Tensor([1.5], requires_grad=True, dtype=np.float64)
    h = x * x
    h.register_hook(lambda g: g * x)  # a gradient that depends on x: d/dx sees it
    out = h.sin()
    (dx,) = tm.grad(out if kind == "value" else out.sum(), x, create_graph=True)
    assert isinstance(dx, tm.Value if kind == "value" else tm.Tensor)
    (ddx,) = tm.grad(dx if kind == "value" else dx.sum(), x)
    xt = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    ht = xt * xt
    ht.register_hook(lambda g: g * xt)
    (dxt,) = torch.autograd.grad(ht.sin().sum(), xt, create_graph=True)
    (ddxt,) = torch.autograd.grad(dxt.sum(), xt)
    assert float(np.asarray(getattr(dx, "data", dx)).item()) == pytest.approx(dxt.item(), rel=1e-12)
    assert float(np.asarray(ddx).item()) == pytest.approx(ddxt.item(), rel=1e-12)


def test_what_a_hook_saw_is_never_changed_later():
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(seen.append)
    (x * 3).sum().backward()
    (x * 5).sum().backward()  # accumulates into x.grad in place
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [8.0, 8.0])
    assert not np.shares_memory(seen[0], x.grad)


# -- errors ---------------------------------------------------------------------------------------------
def test_hook_errors():
    x = tm.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tm.Tensor([1.0]).register_hook(print)
    with tm.no_grad():
        v = tm.Value(1.0) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        v.register_hook(print)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    h = x.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="changed the size.*shape \\(1,\\).*shape \\(2,\\)"):
        (x * 2).sum().backward()
    h.remove()
    h = x.register_hook(lambda g: g.astype(np.float64))
    with pytest.raises(RuntimeError, match="changed the type.*float64.*float32"):
        (x * 2).sum().backward()
    h.remove()
    h = x.register_hook(lambda g: g.__imul__(2))
    with pytest.raises(ValueError, match="read-only"):  # return a new array instead
        (x * 2).sum().backward()
    h.remove()
    assert _no_hooks_left()


def test_no_tap_while_no_hook_exists():
    assert _no_hooks_left()
    x = tm.Value(1.0)
    h = x.register_hook(print)
    assert engine.TAPS.count(hooks._tap) == 1
    h.remove()
    assert hooks._tap not in engine.TAPS


# -- module forward hooks --------------------------------------------------------------------------------
class Scale(nn.Module):
    def forward(self, x, factor=1.0):
        return x * factor


def test_forward_pre_hook_return_rules():
    m = Scale()
    x = tm.Tensor([1.0, 2.0])
    h = m.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # one value: wrapped
    assert m(x).numpy().tolist() == [2.0, 3.0]
    h.remove()
    h = m.register_forward_pre_hook(lambda mod, args: (args[0], 3.0))  # a tuple: the new args
    assert m(x).numpy().tolist() == [3.0, 6.0]
    h.remove()
    h = m.register_forward_pre_hook(
        lambda mod, args, kwargs: (args, {**kwargs, "factor": -1.0}), with_kwargs=True)
    assert m(x, factor=5.0).numpy().tolist() == [-1.0, -2.0]
    h.remove()
    h = m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="tuple of \\(new_args, new_kwargs\\)"):
        m(x)
    h.remove()
    assert m(x).numpy().tolist() == [1.0, 2.0]


def test_forward_hooks_order_prepend_args_and_replacement():
    m = Scale()
    calls = []
    m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] * 2,))
    m.register_forward_hook(lambda mod, args, out: calls.append(("b", args[0].numpy().tolist())))
    m.register_forward_hook(lambda mod, args, out: calls.append("a"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["factor"],
                            with_kwargs=True)
    out = m(tm.Tensor([1.0]), factor=10.0)
    assert calls == ["pre", "a", ("b", [2.0])]  # hooks see the arguments forward saw
    assert out.numpy().tolist() == [30.0]


def test_always_call_forward_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(tm.Tensor([1.0]))
    assert calls == [("always", None)]


def test_module_hooks_like_pytorch_on_an_mlp():
    torch = pytest.importorskip("torch")
    ours = nn.MLP(3, [4, 2], activation="tanh")
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    for i, j in ((0, 0), (1, 2)):
        theirs[j].weight.data = torch.tensor(ours.layers[i].weight.data)
        theirs[j].bias.data = torch.tensor(ours.layers[i].bias.data)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    for layer in (ours.layers[0], theirs[0]):
        layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        layer.register_forward_hook(lambda m, args, out: out - 1)
    a = ours(tm.Tensor(x)).numpy()
    b = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_modules_without_hooks_keep_no_hook_state():
    m = nn.Linear(2, 2)
    m(tm.Tensor([[1.0, 2.0]]))
    assert "_module_hooks" not in vars(m)
    h = m.register_forward_hook(lambda *a: None)
    h.remove()
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]
    assert list(m.state_dict()) == ["weight", "bias"]


def test_array_leaves_are_reached_as_soon_as_their_gradient_is_complete():
    # the walk reaches a Tensor leaf right after its last consumer, not at the end of the
    # pass: the memo does not hold every parameter's gradient until the pass is over
    layers = [nn.Linear(3, 3) for _ in range(3)]
    x = tm.Tensor(np.ones((2, 3), np.float32))
    order = []
    for i, layer in enumerate(layers):
        layer.weight.register_hook(lambda g, i=i: order.append(f"w{i}"))
    h = x
    for i, layer in enumerate(layers):
        h = layer(h)
        h.register_hook(lambda g, i=i: order.append(f"h{i}"))
    h.sum().backward()
    assert order == ["h2", "w2", "h1", "w1", "h0", "w0"]
    v = tm.Value(1.0)
    order.clear()
    v.register_hook(lambda g: order.append("v"))
    y = v * 2
    y.register_hook(lambda g: order.append("y"))
    (y * 3).backward()
    assert order == ["y", "v"]
