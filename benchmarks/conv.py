"""Convolution on the Tensor engine against PyTorch CPU, same weights, in one run.

Two workloads (float32):

* ``conv``: one convolution layer at MNIST size, forward and backward (gradients of
  input, weight and bias for a random upstream gradient): batch 32, 3x3 kernel,
  padding 1, 28x28 images, 1 -> 8 and 8 -> 16 channels;
* ``cnn``: one training step (forward, cross-entropy, backward, SGD update) of the
  digits CNN of ``examples/cnn_digits.py`` (two conv-relu-maxpool blocks and a
  linear layer) on a batch of 32 8x8 images.

Both libraries start from the same weights and data, and their outputs and
gradients are checked to agree before anything is timed. Each implementation is
timed in its own block (PyTorch last: its OpenMP threads keep spinning for a
while after its ops). Prints the median time per step and the ratio to PyTorch,
and the best times and their ratio (on a shared machine the best is what
preemption leaves alone). PyTorch runs with its default number of threads, numpy
with its BLAS's; on a busy machine the threads fight: compare single-threaded with
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``.

    python benchmarks/conv.py [--repeats N] [--quick] [--which conv,cnn]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np

import tinygrad_memo as tm
from tinygrad_memo import nn, optim
from tinygrad_memo.nn import functional as F

LR = 0.05
LAYERS = [(1, 8), (8, 16)]
BATCH = 32


def _example():
    path = Path(__file__).resolve().parent.parent / "examples" / "cnn_digits.py"
    spec = importlib.util.spec_from_file_location("cnn_digits_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- one conv layer, forward + backward --------------------------------------------------------------
def conv_problem(cin, cout, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, cin, 28, 28)).astype(np.float32)
    w = (rng.uniform(-1, 1, (cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, cout).astype(np.float32)
    g = rng.standard_normal((BATCH, cout, 28, 28)).astype(np.float32)
    return x, w, b, g


class MemoConv:
    def __init__(self, x, w, b, g):
        self.x, self.w, self.b = (tm.Tensor(a, requires_grad=True) for a in (x, w, b))
        self.g = g

    def step(self):
        for t in (self.x, self.w, self.b):
            t.grad = None
        out = F.conv2d(self.x, self.w, self.b, padding=1)
        out.backward(self.g)
        return out.data, [t.grad for t in (self.x, self.w, self.b)]


class TorchConv:
    def __init__(self, x, w, b, g):
        import torch

        self.torch = torch
        self.x, self.w, self.b = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        self.g = torch.from_numpy(g)

    def step(self):
        for t in (self.x, self.w, self.b):
            t.grad = None
        out = self.torch.nn.functional.conv2d(self.x, self.w, self.b, padding=1)
        out.backward(self.g)
        return out.detach().numpy(), [t.grad.numpy() for t in (self.x, self.w, self.b)]


# -- a training step of the digits CNN --------------------------------------------------------------------
def cnn_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (BATCH, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    tm.manual_seed(seed)
    state = _example().make_cnn(nn).state_dict()
    return state, x, y


class MemoCNN:
    def __init__(self, state, x, y):
        self.model = _example().make_cnn(nn)
        self.model.load_state_dict(state)
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.y = x, y

    def step(self):
        loss = F.cross_entropy(self.model(tm.Tensor(self.x)), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item(), [p.grad for p in self.model.parameters()]


class TorchCNN:
    def __init__(self, state, x, y):
        import torch

        self.torch = torch
        self.model = _example().make_cnn(torch.nn)
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def step(self):
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item(), [p.grad.numpy() for p in self.model.parameters()]


# -- checking and timing --------------------------------------------------------------------------------
def check_agreement(ours, theirs) -> None:
    """The first step of both gives the same result and gradients (float32 tolerance:
    sums of thousands of terms, so the absolute tolerance follows each array's scale)."""
    (a, grads), (b, tgrads) = ours.step(), theirs.step()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
    assert len(grads) == len(tgrads)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-3, atol=1e-5 * np.abs(tg).max())


def time_steps(model, repeats) -> tuple:
    """(median, best) seconds per step, after a warm-up."""
    for _ in range(3):
        model.step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def cases(which):
    if "conv" in which:
        for cin, cout in LAYERS:
            yield f"conv {cin}->{cout} 28x28", MemoConv, TorchConv, conv_problem(cin, cout)
    if "cnn" in which:
        yield "digits CNN step", MemoCNN, TorchCNN, cnn_problem()


def run(which, repeats):
    rows = []
    for name, ours_cls, torch_cls, problem in cases(which):
        try:
            import torch  # noqa: F401
        except ImportError:
            rows.append((name, time_steps(ours_cls(*problem), repeats), None))
            continue
        check_agreement(ours_cls(*problem), torch_cls(*problem))
        t_ours = time_steps(ours_cls(*problem), repeats)
        t_torch = time_steps(torch_cls(*problem), repeats)
        rows.append((name, t_ours, t_torch))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="a few repeats (a smoke test)")
    ap.add_argument("--which", default="conv,cnn", help="comma-separated: conv, cnn")
    args = ap.parse_args(argv)
    rows = run(args.which.split(","), 3 if args.quick else args.repeats)
    print("outputs and gradients agree with PyTorch (checked before timing)"
          if all(t is not None for _, _, t in rows) else "PyTorch is not installed: ours only")
    print(f"{'case':<20} {'memo ms':>9} {'torch ms':>9} {'memo/torch':>11} {'best: memo/torch':>17}")
    for name, (t_ours, b_ours), torch_times in rows:
        if torch_times is None:
            print(f"{name:<20} {t_ours * 1e3:9.2f} {'n/a':>9} {'n/a':>11} {'n/a':>17}")
            continue
        t_torch, b_torch = torch_times
        print(f"{name:<20} {t_ours * 1e3:9.2f} {t_torch * 1e3:9.2f} {t_ours / t_torch:10.2f}x "
              f"{b_ours * 1e3:6.2f} / {b_torch * 1e3:5.2f} = {b_ours / b_torch:4.2f}x")


if __name__ == "__main__":
    main()
