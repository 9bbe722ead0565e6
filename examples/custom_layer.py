"""A custom model: a custom op (tm.Function), a custom layer (nn.Module), gradients checked.

* ``Softplus`` is a new Tensor op written PyTorch-style: ``forward`` on numpy
  arrays, ``backward`` returning the gradient of its input. The backward rule is
  made of operators and numpy ufuncs, so it also works with ``create_graph=True``.
* ``GatedLinear`` is a new layer written from raw ``nn.Parameter`` s (a gated
  linear unit: ``(x W^T + b) * sigmoid(x V^T + c)``); ``nn.Module`` finds its
  parameters by itself.
* ``Net`` puts them together with a built-in ``nn.Linear`` and is trained on
  three spirals with Adam.

Before training, both new pieces are checked against finite differences in
float64 with ``tinygrad_memo.gradcheck.gradcheck`` (and Softplus's second
derivative with ``gradgradcheck``).

    python examples/custom_layer.py               # 100 epochs
    python examples/custom_layer.py --epochs 10   # quick
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import data, nn, optim
from tinygrad_memo.nn import functional as F


class Softplus(tm.Function):
    """softplus(x) = log(1 + exp(x)); its derivative is sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)  # log(exp(0) + exp(x)), stable for large |x|

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1.0 + np.exp(-x))


def gated_linear(x, weight, bias, gate_weight, gate_bias):
    """The layer's computation as a plain function of tensors (handy for gradcheck)."""
    return (x @ weight.T + bias) * (x @ gate_weight.T + gate_bias).sigmoid()


class GatedLinear(nn.Module):
    """A gated linear unit: ``(x W^T + b) * sigmoid(x V^T + c)``."""

    def __init__(self, nin, nout, dtype=np.float32):
        super().__init__()
        g = tm.random.rng()  # the library's generator: tm.manual_seed makes it repeat
        bound = 1.0 / math.sqrt(nin)

        def param(*shape):
            return nn.Parameter(g.uniform(-bound, bound, size=shape).astype(dtype))

        self.weight, self.bias = param(nout, nin), param(nout)
        self.gate_weight, self.gate_bias = param(nout, nin), param(nout)

    def forward(self, x):
        return gated_linear(x, self.weight, self.bias, self.gate_weight, self.gate_bias)


class Net(nn.Module):
    """GatedLinear -> Linear -> Softplus -> Linear."""

    def __init__(self, nin, hidden, classes):
        super().__init__()
        self.glu = GatedLinear(nin, hidden)
        self.hidden = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(Softplus.apply(self.hidden(self.glu(x))))


def check_gradients() -> None:
    """Check Softplus and GatedLinear against central finite differences, in float64."""
    try:
        from tinygrad_memo.gradcheck import gradcheck, gradgradcheck
    except ImportError:  # an older tinygrad_memo without gradcheck: a small stand-in
        gradcheck, gradgradcheck = _finite_differences, None
    g = np.random.default_rng(0)

    def t(*shape):
        return tm.Tensor(g.normal(size=shape), requires_grad=True, dtype=np.float64)

    x = t(5, 3)
    assert gradcheck(Softplus.apply, [x])
    print("gradcheck Softplus: ok")
    if gradgradcheck is not None:  # the backward rule is differentiable too
        assert gradgradcheck(Softplus.apply, [x])
        print("gradgradcheck Softplus (second derivatives, create_graph=True): ok")
    params = [t(4, 3), t(4), t(4, 3), t(4)]
    assert gradcheck(gated_linear, [x, *params])
    print("gradcheck GatedLinear (input, weights and biases): ok")


def _finite_differences(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare d(sum(fn * r))/d(input) with central differences (r fixed random weights)."""
    r = np.random.default_rng(1).normal(size=fn(*inputs).shape)
    for inp in inputs:
        inp.grad = None
    (fn(*inputs) * r).sum().backward()
    for inp in inputs:
        numeric = np.zeros_like(inp.data)
        for i in np.ndindex(inp.shape):
            old = inp.data[i]
            inp.data[i] = old + eps
            up = float((fn(*inputs).data * r).sum())
            inp.data[i] = old - eps
            down = float((fn(*inputs).data * r).sum())
            inp.data[i] = old
            numeric[i] = (up - down) / (2 * eps)
        if not np.allclose(inp.grad, numeric, atol=atol, rtol=rtol):
            raise AssertionError(f"gradient mismatch:\n{inp.grad}\nvs\n{numeric}")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden width (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.hidden < 1:
        parser.error("need --epochs >= 1 and --hidden >= 1")

    check_gradients()

    tm.manual_seed(args.seed)
    X, y = data.make_spirals(600, classes=3, noise=0.2, seed=args.seed)
    X_train, y_train, X_test, y_test = X[:480], y[:480], X[480:], y[480:]
    model = Net(2, args.hidden, 3)
    print(f"parameters: {', '.join(f'{n} {tuple(p.shape)}' for n, p in model.named_parameters())}")
    opt = optim.Adam(model.parameters(), lr=1e-2)

    def accuracy(X, y):
        with tm.no_grad():
            return float((model(tm.Tensor(X)).numpy().argmax(axis=1) == y).mean())

    for epoch in range(args.epochs):
        for xb, yb in data.minibatches(X_train, y_train, batch_size=32, seed=epoch):
            loss = F.cross_entropy(model(tm.Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1:3d} loss {loss.item():.4f}, "
                  f"train accuracy {accuracy(X_train, y_train) * 100:.1f}%")
    print(f"test accuracy {accuracy(X_test, y_test) * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
