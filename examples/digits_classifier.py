"""Handwritten digits with a Tensor MLP: the 8x8 digits of scikit-learn, or MNIST.

A Tensor ``nn.MLP`` trained with Adam and cross-entropy on shuffled minibatches.
By default it uses the 1,797 8x8 digits that scikit-learn ships (no download;
about 97% test accuracy in a few seconds). With ``--mnist DIR`` it reads MNIST
from the standard IDX files in DIR (``train-images-idx3-ubyte[.gz]``,
``train-labels-idx1-ubyte[.gz]``, ``t10k-...``); ``--download`` fetches them
into DIR first when they are missing.

    python examples/digits_classifier.py                      # 8x8 digits, 20 epochs
    python examples/digits_classifier.py --epochs 3           # quick
    python examples/digits_classifier.py --mnist ~/data/mnist --limit 10000 --epochs 5
    python examples/digits_classifier.py --jit                # the training step jitted

With ``--jit`` the whole training step (forward, loss, ``zero_grad``, ``backward``,
``opt.step()``) is one ``tm.jit`` function: recorded on its first two calls, then
replayed; the losses and accuracies are eager's, bit for bit.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import data, nn, optim
from tinygrad_memo.nn import functional as F


def load(args):
    """(X_train, y_train, X_test, y_test, name) for the chosen data set."""
    if args.mnist is None:
        X_train, y_train, X_test, y_test = data.load_digits(test_fraction=0.2, seed=args.seed)
        name = "8x8 digits"
    else:
        X_train, y_train = data.load_mnist(args.mnist, "train", download=args.download)
        X_test, y_test = data.load_mnist(args.mnist, "test", download=args.download)
        name = "MNIST"
    if args.limit:
        X_train, y_train = X_train[: args.limit], y_train[: args.limit]
    return X_train, y_train, X_test, y_test, name


def accuracy(model, X, y, batch_size=2000):
    """Fraction of rows of X whose arg-max logit is the label (in batches, no graph)."""
    right = 0
    with tm.no_grad():
        for i in range(0, len(X), batch_size):
            logits = model(tm.Tensor(X[i : i + batch_size])).numpy()
            right += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    return right / len(X)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", metavar="DIR", help="train on MNIST from the IDX files in DIR")
    parser.add_argument("--download", action="store_true", help="download missing MNIST files")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--hidden", default="128,64", help="hidden sizes (default 128,64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--jit", action="store_true", help="jit the whole training step")
    args = parser.parse_args(argv)
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        parser.error(f"--hidden must be comma-separated integers, got {args.hidden!r}")
    if args.epochs < 1 or args.batch_size < 1 or any(h < 1 for h in hidden):
        parser.error("need --epochs >= 1, --batch-size >= 1 and positive hidden sizes")

    try:
        X_train, y_train, X_test, y_test, name = load(args)
    except ImportError as e:  # the 8x8 digits come with scikit-learn
        print(f"error: {e} (or use --mnist DIR)", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        hint = " (--download fetches them)" if isinstance(e, FileNotFoundError) else ""
        print(f"error: {e}{hint}", file=sys.stderr)
        return 1
    classes = int(max(y_train.max(), y_test.max())) + 1
    print(f"{name}: {len(X_train)} training and {len(X_test)} test images of "
          f"{X_train.shape[1]} pixels, {classes} classes")

    tm.manual_seed(args.seed)
    model = nn.MLP(X_train.shape[1], [*hidden, classes])
    print(f"model: MLP({X_train.shape[1]}, {[*hidden, classes]}), "
          f"{sum(p.size for p in model.parameters()):,} parameters")
    opt = optim.Adam(model.parameters(), lr=args.lr)
    sched = optim.CosineAnnealingLR(opt, T_max=args.epochs, eta_min=args.lr / 20)

    def train_step(xb, yb):
        loss = F.cross_entropy(model(tm.Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step = tm.jit(train_step) if args.jit else train_step
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        losses = []
        for xb, yb in data.minibatches(X_train, y_train, args.batch_size,
                                       seed=args.seed * 1000 + epoch):
            losses.append(step(xb, yb).item())
        sched.step()
        print(f"epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  "
              f"test accuracy {accuracy(model, X_test, y_test) * 100:.2f}%", flush=True)
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    if args.jit:
        print("jitted step: " + ", ".join(f"{p.signature} {p.status}, {p.replays} replays"
                                          for p in step.plans))
    print(f"train accuracy {accuracy(model, X_train, y_train) * 100:.2f}%")
    print(f"test accuracy {accuracy(model, X_test, y_test) * 100:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
