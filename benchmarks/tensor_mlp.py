"""One training step of an MLP on the Tensor engine, against hand-written numpy and PyTorch.

A step is: forward, softmax cross-entropy, backward, SGD update (float32), each
written the way its users write it (``nn.Linear`` layers with weight (out, in),
``F.cross_entropy``, ``optim.SGD``; the same in PyTorch). Three
sizes: small 64-128-10 batch 32; large 784-1024-1024-10 batch 256; deep-narrow
50 layers of 32 with tanh, batch 16. The implementations: hand-written numpy (as
one writes it, and with every buffer allocated once, ``out=`` everywhere),
tinygrad_memo eager, tinygrad_memo with the forward jitted (``tm.jit``), with the
whole training step jitted (forward, backward and optimizer step in one ``tm.jit``),
PyTorch CPU. All start from the same weights and data; their losses and gradients are
checked to agree over three steps before anything is timed (the jitted replays
bit for bit with eager). Prints median time per step (the numpy and tinygrad_memo
implementations timed in turns, block by block, PyTorch after them), the ratios to
the numpy with buffers, and the peak memory of one step above the memory after set-up
(tracemalloc sees numpy's allocations, not PyTorch's).

    python benchmarks/tensor_mlp.py [--repeats N] [--quick] [--sizes small,large,deep]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

import tinygrad_memo as tm
from tinygrad_memo import nn, optim
from tinygrad_memo.nn import functional as F

SIZES = {
    "small": dict(dims=[64, 128, 10], batch=32, act="relu"),
    "large": dict(dims=[784, 1024, 1024, 10], batch=256, act="relu"),
    "deep": dict(dims=[32] * 51 + [10], batch=16, act="tanh"),
}
LR = 0.01


def make_problem(dims, batch, seed=0):
    rng = np.random.default_rng(seed)
    ws = [
        (rng.uniform(-1, 1, (o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(dims, dims[1:])
    ]
    bs = [np.zeros(o, np.float32) for o in dims[1:]]
    x = rng.standard_normal((batch, dims[0])).astype(np.float32)
    y = rng.integers(0, dims[-1], batch)
    return ws, bs, x, y


# -- hand-written numpy: the floor for any numpy framework ---------------------------------
class NumpyMLP:
    def __init__(self, ws, bs, act):
        self.ws = [w.copy() for w in ws]
        self.bs = [b.copy() for b in bs]
        self.act = act

    def step(self, x, y):
        hs, pre = [x], []
        h = x
        last = len(self.ws) - 1
        for i, (w, b) in enumerate(zip(self.ws, self.bs)):
            z = h @ w.T
            z += b
            if i < last:
                h = np.maximum(z, 0) if self.act == "relu" else np.tanh(z)
                pre.append(z if self.act == "relu" else h)
                hs.append(h)
            else:
                h = z
        n = len(y)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s[:, 0]).mean() - z[np.arange(n), y].mean())
        g = e / s
        g[np.arange(n), y] -= 1
        g /= n
        grads = []
        for i in range(last, -1, -1):
            grads.append((g.T @ hs[i], g.sum(axis=0)))
            if i:
                g = g @ self.ws[i]
                if self.act == "relu":
                    g *= pre[i - 1] > 0
                else:
                    g *= 1 - pre[i - 1] * pre[i - 1]
        grads.reverse()
        for (w, b), (gw, gb) in zip(zip(self.ws, self.bs), grads):
            w -= LR * gw
            b -= LR * gb
        self.grads = grads
        return loss


class NumpyBuffersMLP(NumpyMLP):
    """Hand-written numpy with every array allocated once, ``out=`` everywhere: the
    floor a replayed plan is measured against."""

    def __init__(self, ws, bs, act):
        super().__init__(ws, bs, act)
        self.shape = None

    def _allocate(self, x):
        n = x.shape[0]
        f = x.dtype
        self.z = [np.empty((n, w.shape[0]), f) for w in self.ws]  # pre-activations
        self.h = [x] + [np.empty((n, w.shape[0]), f) for w in self.ws[:-1]]  # layer inputs
        self.gh = [np.empty((n, w.shape[1]), f) for w in self.ws]  # gradients of layer inputs
        self.tmp = [np.empty((n, w.shape[0]), f) for w in self.ws]
        self.gw = [np.empty_like(w) for w in self.ws]
        self.gb = [np.empty_like(b) for b in self.bs]
        self.uw = [np.empty_like(w) for w in self.ws]  # the SGD updates
        self.ub = [np.empty_like(b) for b in self.bs]
        self.grads = list(zip(self.gw, self.gb))
        self.m = np.empty((n, 1), f)
        self.s = np.empty((n, 1), f)
        self.rows = np.arange(n)
        self.shape = x.shape

    def step(self, x, y):
        if self.shape != x.shape:
            self._allocate(x)
        ws, bs, z, h, tmp = self.ws, self.bs, self.z, self.h, self.tmp
        h[0] = x
        last = len(ws) - 1
        relu = self.act == "relu"
        for i in range(last + 1):
            np.matmul(h[i], ws[i].T, out=z[i])
            z[i] += bs[i]
            if i < last:
                if relu:
                    np.maximum(z[i], 0, out=h[i + 1])
                else:
                    np.tanh(z[i], out=h[i + 1])
        n = len(y)
        g = z[last]  # the logits become their gradient in place
        np.max(g, axis=1, keepdims=True, out=self.m)
        g -= self.m
        picked = g[self.rows, y]
        np.exp(g, out=g)
        np.sum(g, axis=1, keepdims=True, out=self.s)
        loss = float(np.log(self.s).mean() - picked.mean())
        g /= self.s
        g[self.rows, y] -= 1
        g *= 1.0 / n
        for i in range(last, -1, -1):
            np.matmul(g.T, h[i], out=self.gw[i])
            np.sum(g, axis=0, out=self.gb[i])
            if i:
                gh = self.gh[i]
                np.matmul(g, ws[i], out=gh)
                if relu:
                    np.greater(h[i], 0, out=tmp[i - 1])
                    gh *= tmp[i - 1]
                else:
                    np.multiply(h[i], h[i], out=tmp[i - 1])
                    np.subtract(1, tmp[i - 1], out=tmp[i - 1])
                    gh *= tmp[i - 1]
                g = gh
        for w, b, gw, gb, uw, ub in zip(ws, bs, self.gw, self.gb, self.uw, self.ub):
            np.multiply(gw, LR, out=uw)
            w -= uw
            np.multiply(gb, LR, out=ub)
            b -= ub
        return loss


# -- tinygrad_memo -------------------------------------------------------------------------------
class MemoMLP:
    def __init__(self, ws, bs, act):
        layers = []
        for i, (w, b) in enumerate(zip(ws, bs)):
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data[...] = w
            lin.bias.data[...] = b
            layers.append(lin)
            if i < len(ws) - 1:
                layers.append(nn.ReLU() if act == "relu" else nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.ws = [m.weight for m in layers if isinstance(m, nn.Linear)]
        self.bs = [m.bias for m in layers if isinstance(m, nn.Linear)]
        self.opt = optim.SGD(self.model.parameters(), lr=LR)

    def step(self, x, y):
        loss = F.cross_entropy(self.model(tm.Tensor(x)), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class JitMLP(MemoMLP):
    """The same model and step, with the forward and loss jitted (``tm.jit``): its plan is
    recorded on the first calls, then replayed, and ``loss.backward()`` replays its
    backward plan."""

    def __init__(self, ws, bs, act):
        super().__init__(ws, bs, act)
        model = self.model
        self.forward = tm.jit(lambda x, y: F.cross_entropy(model(tm.Tensor(x)), y))

    def step(self, x, y):
        loss = self.forward(x, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class JitStepMLP(MemoMLP):
    """The whole training step jitted (forward, loss, ``zero_grad``, ``backward``,
    ``opt.step()``), as TinyJit users write it: a replay runs the recorded forward and
    backward plans and hands each parameter its gradient, then steps the optimizer."""

    def __init__(self, ws, bs, act):
        super().__init__(ws, bs, act)
        model, opt = self.model, self.opt

        def train_step(x, y):
            loss = F.cross_entropy(model(tm.Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        self.train_step = tm.jit(train_step)

    def step(self, x, y):
        return self.train_step(x, y).item()


# -- PyTorch CPU ---------------------------------------------------------------------------------
class TorchMLP:
    def __init__(self, ws, bs, act):
        import torch

        self.torch = torch
        self.ws = [torch.tensor(w, requires_grad=True) for w in ws]
        self.bs = [torch.tensor(b, requires_grad=True) for b in bs]
        self.act = act
        self.opt = torch.optim.SGD(self.ws + self.bs, lr=LR)

    def step(self, x, y):
        torch = self.torch
        h = torch.from_numpy(x)
        last = len(self.ws) - 1
        for i, (w, b) in enumerate(zip(self.ws, self.bs)):
            h = torch.nn.functional.linear(h, w, b)
            if i < last:
                h = torch.relu(h) if self.act == "relu" else torch.tanh(h)
        loss = torch.nn.functional.cross_entropy(h, torch.from_numpy(y))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


IMPLS = {"numpy": NumpyMLP, "numpy buffers": NumpyBuffersMLP, "tinygrad_memo": MemoMLP,
         "tinygrad_memo jit": JitMLP, "jit whole step": JitStepMLP, "pytorch": TorchMLP}
BASE = "numpy buffers"  # the ratios are to the hand-written numpy with buffers allocated once


def make_models(size):
    cfg = SIZES[size]
    ws, bs, x, y = make_problem(cfg["dims"], cfg["batch"])
    models = {}
    for name, cls in IMPLS.items():
        try:
            models[name] = cls(ws, bs, cfg["act"])
        except ImportError:  # no PyTorch
            pass
    return models, x, y


def check_agreement(size):
    """Every implementation takes the same first three steps (the jitted one records on
    the first two and replays the third): same losses, gradients and weights."""
    models, x, y = make_models(size)
    ref = models["numpy"]
    for _ in range(3):
        losses = {name: m.step(x, y) for name, m in models.items()}
        for name, loss in losses.items():
            assert abs(loss - losses["numpy"]) <= 1e-4 * max(1.0, abs(loss)), (name, losses)
        for name in ("numpy buffers", "tinygrad_memo", "tinygrad_memo jit", "jit whole step"):
            m = models[name]
            grads = m.grads if name == "numpy buffers" else [(w.grad, b.grad) for w, b in
                                                             zip(m.ws, m.bs)]
            for (gw, gb), (hw, hb) in zip(ref.grads, grads):
                np.testing.assert_allclose(hw, gw, rtol=1e-3, atol=1e-5, err_msg=name)
                np.testing.assert_allclose(hb, gb, rtol=1e-3, atol=1e-5, err_msg=name)
    eager, jitted, whole = (models[k] for k in ("tinygrad_memo", "tinygrad_memo jit",
                                                  "jit whole step"))
    assert jitted.forward.plans[0].replays == 1 and whole.train_step.plans[0].replays == 1
    for a, b, c in zip(eager.ws + eager.bs, jitted.ws + jitted.bs, whole.ws + whole.bs):
        np.testing.assert_array_equal(a.data, b.data)  # the replays: bit for bit
        np.testing.assert_array_equal(a.data, c.data)
        np.testing.assert_array_equal(a.grad, c.grad)


def time_steps(model, x, y, repeats):
    for _ in range(3):  # warm-up
        model.step(x, y)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.step(x, y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_interleaved(models: dict, x, y, repeats) -> dict:
    """Median time per step of each model, timed in turns (one block of steps of each
    model per round, ``repeats`` rounds), so that a slow spell of the machine falls
    on every model alike instead of on whichever ran then."""
    for m in models.values():
        for _ in range(3):  # warm-up
            m.step(x, y)
    t0 = time.perf_counter()
    models[BASE].step(x, y)
    block = max(1, min(50, int(0.01 / max(time.perf_counter() - t0, 1e-6))))  # ~10 ms blocks
    blocks: dict = {name: [] for name in models}
    for _ in range(repeats):
        for name, m in models.items():
            t0 = time.perf_counter()
            for _ in range(block):
                m.step(x, y)
            blocks[name].append((time.perf_counter() - t0) / block)
    return {name: statistics.median(b) for name, b in blocks.items()}


def peak_memory(model, x, y):
    """Peak bytes allocated (numpy/Python, via tracemalloc) during one step."""
    model.step(x, y)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    model.step(x, y)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def run(sizes, repeats):
    for size in sizes:
        check_agreement(size)
    time.sleep(0.5)  # PyTorch's OpenMP threads spin a while after its ops: let them rest
    rows = []
    for size in sizes:
        models, x, y = make_models(size)
        med = time_interleaved({n: m for n, m in models.items() if n != "pytorch"}, x, y,
                               repeats)
        mem = {k: peak_memory(models[k], x, y) for k in models if k != "pytorch"}
        rows.append((size, med, mem, models, x, y))
    for _size, med, _mem, models, x, y in rows:  # PyTorch last, for the same reason
        if "pytorch" in models:
            med["pytorch"] = time_steps(models["pytorch"], x, y, repeats)
    return [(size, med, mem) for size, med, mem, *_ in rows]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="few repeats, small and deep only")
    ap.add_argument("--sizes", default="small,large,deep")
    args = ap.parse_args(argv)
    sizes = args.sizes.split(",")
    repeats = args.repeats
    if args.quick:
        sizes, repeats = [s for s in sizes if s != "large"], 3
    rows = run(sizes, repeats)
    names = [n for n in IMPLS if any(n in med for _, med, _ in rows)]
    print(f"median ms per step (ratio to {BASE}); peak MB of one step (tracemalloc)")
    print(f"{'size':<6}" + "".join(f"{n:>22}" for n in names))
    for size, med, mem in rows:
        base = med[BASE]
        cells = [f"{med[n] * 1e3:9.3f} ({med[n] / base:5.2f}x)" if n in med else "n/a"
                 for n in names]
        print(f"{size:<6}" + "".join(f"{c:>22}" for c in cells))
        cells = [f"{mem[n] / 1e6:.1f} MB" if n in mem else "" for n in names]
        print(f"{'':<6}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
