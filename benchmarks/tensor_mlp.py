"""One training step of an MLP on the Tensor engine, against hand-written numpy and PyTorch.

A step is: forward, softmax cross-entropy, backward, SGD update (float32), each
written the way its users write it (``nn.Linear`` layers with weight (out, in),
``F.cross_entropy``, ``optim.SGD``; the same in PyTorch). Three
sizes: small 64-128-10 batch 32; large 784-1024-1024-10 batch 256; deep-narrow
50 layers of 32 with tanh, batch 16. All three implementations start from the
same weights and data; their losses and gradients are checked to agree before
anything is timed. Prints median time per step, the ratios to hand-written numpy,
and the peak memory of one step above the memory after set-up (tracemalloc sees
numpy's allocations, not PyTorch's).

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


def check_agreement(size):
    """All three take the same first step: same loss and same gradients."""
    cfg = SIZES[size]
    ws, bs, x, y = make_problem(cfg["dims"], cfg["batch"])
    ref = NumpyMLP(ws, bs, cfg["act"])
    ours = MemoMLP(ws, bs, cfg["act"])
    l_ref, l_ours = ref.step(x, y), ours.step(x, y)
    assert abs(l_ref - l_ours) <= 1e-4 * max(1.0, abs(l_ref)), (l_ref, l_ours)
    for (gw, gb), w, b in zip(ref.grads, ours.ws, ours.bs):
        np.testing.assert_allclose(w.grad, gw, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(b.grad, gb, rtol=1e-3, atol=1e-5)
    try:
        t = TorchMLP(ws, bs, cfg["act"])
    except ImportError:
        return
    l_t = t.step(x, y)
    assert abs(l_ref - l_t) <= 1e-4 * max(1.0, abs(l_ref)), (l_ref, l_t)


def time_steps(model, x, y, repeats):
    for _ in range(3):  # warm-up
        model.step(x, y)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.step(x, y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
    rows = []
    for size in sizes:
        cfg = SIZES[size]
        check_agreement(size)
        ws, bs, x, y = make_problem(cfg["dims"], cfg["batch"])
        impls = {"numpy": NumpyMLP, "tinygrad_memo": MemoMLP, "pytorch": TorchMLP}
        models = {}
        for name, cls in impls.items():
            try:
                models[name] = cls(ws, bs, cfg["act"])
            except ImportError:
                pass
        # One block per implementation (PyTorch last): PyTorch's OpenMP threads keep
        # spinning for a while after its ops, which would slow whatever runs next.
        med = {name: time_steps(m, x, y, repeats) for name, m in models.items()}
        mem = {k: peak_memory(models[k], x, y) for k in ("numpy", "tinygrad_memo")}
        rows.append((size, med, mem))
    return rows


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
    print(f"{'size':<6} {'numpy ms':>9} {'memo ms':>9} {'torch ms':>9} {'memo/numpy':>11} "
          f"{'torch/numpy':>12} {'peak MB numpy':>14} {'peak MB memo':>13} {'mem ratio':>10}")
    for size, med, mem in rows:
        t_np, t_me = med["numpy"], med["tinygrad_memo"]
        t_to = med.get("pytorch")
        torch_ms = f"{t_to * 1e3:9.2f}" if t_to else f"{'n/a':>9}"
        torch_ratio = f"{t_to / t_np:11.2f}x" if t_to else f"{'n/a':>12}"
        print(f"{size:<6} {t_np * 1e3:9.2f} {t_me * 1e3:9.2f} {torch_ms} {t_me / t_np:10.2f}x "
              f"{torch_ratio} {mem['numpy'] / 1e6:14.1f} {mem['tinygrad_memo'] / 1e6:13.1f} "
              f"{mem['tinygrad_memo'] / mem['numpy']:9.2f}x")


if __name__ == "__main__":
    main()
