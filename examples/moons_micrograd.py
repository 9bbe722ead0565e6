"""micrograd's demo on tinygrad_memo's scalar engine: an MLP of Values learns two moons.

Every weight is a ``Value``; one step builds the whole graph of the loss (about
100,000 nodes for 100 points), runs the memoized backward over it and takes an
SGD step. The loss is micrograd's: the SVM hinge loss ``relu(1 - y * score)``
with labels -1/+1, plus L2 regularisation; the learning rate decays from 1.0 to 0.1.

    python examples/moons_micrograd.py                  # 100 points, 100 steps (under a minute)
    python examples/moons_micrograd.py --steps 20 --n 50  # quick
"""

from __future__ import annotations

import argparse
import sys

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import data, nn, optim


def loss_and_accuracy(model, xs, ys, alpha=1e-4):
    """micrograd's loss: mean hinge loss + alpha * sum of squared parameters; and accuracy."""
    scores = [model(x) for x in xs]
    losses = [(1 - y * s).relu() for y, s in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    accuracy = sum((s.data > 0) == (y > 0) for y, s in zip(ys, scores)) / len(ys)
    return data_loss + reg_loss, accuracy


def ascii_boundary(model, xs, ys, width=60, height=20):
    """The model's decision regions as text: '.' for class -1, ':' for +1, 'o'/'x' the points."""
    x0s, x1s = [x[0] for x in xs], [x[1] for x in xs]
    lo0, hi0, lo1, hi1 = min(x0s) - 0.3, max(x0s) + 0.3, min(x1s) - 0.3, max(x1s) + 0.3
    grid = []
    with tm.no_grad():
        for r in range(height):
            v = hi1 - (hi1 - lo1) * (r + 0.5) / height
            grid.append([":" if model([lo0 + (hi0 - lo0) * (c + 0.5) / width, v]).data > 0
                         else "." for c in range(width)])
    for (a, b), y in zip(xs, ys):
        c = min(width - 1, int((a - lo0) / (hi0 - lo0) * width))
        r = min(height - 1, int((hi1 - b) / (hi1 - lo1) * height))
        grid[r][c] = "x" if y > 0 else "o"
    return "\n".join("".join(row) for row in grid)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="number of points (default 100)")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (default 100)")
    parser.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    parser.add_argument("--no-plot", action="store_true", help="skip the text picture at the end")
    args = parser.parse_args(argv)
    if args.n < 2 or args.steps < 1:
        parser.error("need --n >= 2 and --steps >= 1")

    tm.manual_seed(args.seed)
    X, y = data.make_moons(args.n, noise=0.1, seed=args.seed)
    xs = [[float(a), float(b)] for a, b in X]
    ys = [1.0 if t == 1 else -1.0 for t in y]

    model = nn.scalar.MLP(2, [16, 16, 1])  # 2 inputs, two hidden layers of 16, one score
    print(f"scalar MLP(2, [16, 16, 1]): {len(model.parameters())} Value parameters, "
          f"{args.n} points, {args.steps} steps")
    opt = optim.SGD(model.parameters(), lr=1.0)

    for k in range(args.steps):
        total_loss, acc = loss_and_accuracy(model, xs, ys)  # forward
        model.zero_grad()
        total_loss.backward()                               # memoized backward
        opt.lr = 1.0 - 0.9 * k / max(1, args.steps - 1)    # 1.0 -> 0.1
        opt.step()                                          # SGD update
        if k % 10 == 0 or k == args.steps - 1:
            print(f"step {k:3d} loss {total_loss.data:.4f}, accuracy {acc * 100:.0f}%")

    with tm.no_grad():
        final_loss, final_acc = loss_and_accuracy(model, xs, ys)
    print(f"final loss {final_loss.data:.4f}, final accuracy {final_acc * 100:.1f}%")
    if not args.no_plot:
        print("decision regions ('.' class -1, ':' class +1; points 'o' -1, 'x' +1):")
        print(ascii_boundary(model, xs, ys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
