"""Save a trained model and load it into a fresh one: identical outputs.

``model.state_dict()`` maps dotted names (``layers.0.weight``) to arrays;
``tm.save`` writes it as an ``.npz`` archive (never pickle) and ``tm.load``
reads it back as a dict of numpy arrays; ``load_state_dict`` copies them into
a model of the same architecture. The same works for micrograd-style scalar
models, whose parameters are Values. A state dict that does not fit (a missing
key, an unexpected one, a wrong shape) is refused with a clear error.

    python examples/save_load.py                   # writes into a temporary folder
    python examples/save_load.py --out ckpt --steps 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import data, nn, optim
from tinygrad_memo.nn import functional as F


def train_tensor_model(X, y, steps, seed):
    """A Tensor MLP(2, [16, 16, 2]) trained with Adam on the whole batch."""
    tm.manual_seed(seed)
    model = nn.MLP(2, [16, 16, 2])
    opt = optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        loss = F.cross_entropy(model(tm.Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, loss.item()


def train_scalar_model(X, y, steps, seed):
    """A scalar MLP(2, [8, 1]) of Values, trained with the hinge loss and SGD."""
    tm.manual_seed(seed)
    model = nn.scalar.MLP(2, [8, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    xs, ys = [[float(a), float(b)] for a, b in X], [2.0 * t - 1.0 for t in y]
    for _ in range(steps):
        loss = F.hinge_loss([model(x) for x in xs], ys)
        model.zero_grad()
        loss.backward()
        opt.step()
    return model, loss.data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", metavar="DIR", help="folder for the .npz files (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error("--steps must be >= 0")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        X, y = data.make_moons(100, noise=0.1, seed=args.seed)
        X_new = data.make_moons(20, noise=0.1, seed=args.seed + 1)[0]  # inputs it never saw

        # -- a Tensor model ---------------------------------------------------------------
        model, loss = train_tensor_model(X, y, args.steps, args.seed)
        path = tm.save(model.state_dict(), out / "tensor_mlp.npz")
        print(f"trained a Tensor MLP (loss {loss:.4f}); saved {len(model.state_dict())} "
              f"arrays to {path.name}: {', '.join(model.state_dict())}")
        tm.manual_seed(args.seed + 1)
        fresh = nn.MLP(2, [16, 16, 2])  # different random weights
        state = tm.load(path)
        fresh.load_state_dict(state)
        with tm.no_grad():
            a, b = model(tm.Tensor(X_new)).numpy(), fresh(tm.Tensor(X_new)).numpy()
        same = np.array_equal(a, b)
        print(f"Tensor model: outputs of the loaded copy identical: {same}")

        # -- a scalar (Value) model ---------------------------------------------------------
        smodel, sloss = train_scalar_model(X[:30], y[:30], min(args.steps, 20), args.seed)
        spath = tm.save(smodel.state_dict(), out / "scalar_mlp.npz")
        sfresh = nn.scalar.MLP(2, [8, 1])
        sfresh.load_state_dict(tm.load(spath))
        with tm.no_grad():
            ssame = all(smodel([float(p), float(q)]).data == sfresh([float(p), float(q)]).data
                        for p, q in X_new)
        print(f"scalar model (loss {sloss:.4f}, {len(smodel.state_dict())} Values saved): "
              f"outputs of the loaded copy identical: {ssame}")

        # -- a state dict that does not fit is refused --------------------------------------
        try:
            nn.MLP(2, [32, 16, 2]).load_state_dict(state)  # same names, other shapes
        except (KeyError, ValueError, RuntimeError) as e:
            print(f"loading into a different architecture is refused: {type(e).__name__}: "
                  f"{str(e).splitlines()[0]}")
        if not (same and ssame):
            print("error: a loaded model gives different outputs", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
