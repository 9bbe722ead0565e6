"""A small CNN on the 8x8 digits: two conv-relu-pool blocks, then a linear layer.

The 1,797 8x8 digits that scikit-learn ships, split as ``tinygrad_memo.data.load_digits``
fixes it (1,438 training and 359 test images), each image a (1, 8, 8) tensor.
``make_cnn(nn)`` builds the model from either library's ``nn`` (tinygrad_memo's or
PyTorch's: the same names, shapes and parameter layouts), trained with Adam on
shuffled minibatches. Writes the loss and accuracy curves to a PNG when matplotlib
is installed (the ``demo`` extra).

    python examples/cnn_digits.py                       # 30 epochs: about 98-99% test accuracy
    python examples/cnn_digits.py --epochs 2 --limit 300 --out /tmp/cnn   # quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import data, nn, optim
from tinygrad_memo.nn import functional as F


def make_cnn(nn, channels=(16, 32), classes=10):
    """conv3x3-relu-maxpool2 twice (8x8 -> 4x4 -> 2x2), flatten, linear. ``nn`` is
    ``tinygrad_memo.nn`` or ``torch.nn``: the same code builds the same model in either."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 2 * 2, classes),
    )


def images(X: np.ndarray) -> np.ndarray:
    """Rows of 64 pixels as a batch of (1, 8, 8) images."""
    return X.reshape(-1, 1, 8, 8)


def evaluate(model, X, y, batch_size=500):
    """(mean cross-entropy, accuracy) on X, y, without recording a graph."""
    loss, right = 0.0, 0
    with tm.no_grad():
        for i in range(0, len(X), batch_size):
            logits = model(tm.Tensor(images(X[i : i + batch_size])))
            loss += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum").item()
            right += int((logits.numpy().argmax(axis=1) == y[i : i + batch_size]).sum())
    return loss / len(X), right / len(X)


def plot_curves(history: dict, path: Path) -> Path | None:
    """Loss and accuracy per epoch, train and test, as a PNG (None without matplotlib)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(9, 3.5))
    FigureCanvasAgg(fig)
    epochs = range(1, len(history["train_loss"]) + 1)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for split in ("train", "test"):
        ax_loss.plot(epochs, history[f"{split}_loss"], label=split)
        ax_acc.plot(epochs, [100 * a for a in history[f"{split}_acc"]], label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def train(model, X_train, y_train, X_test, y_test, epochs, lr, batch_size, seed, log=print):
    """Adam with a cosine schedule; returns the per-epoch history."""
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.CosineAnnealingLR(opt, T_max=epochs, eta_min=lr / 20)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    for epoch in range(epochs):
        model.train()
        for xb, yb in data.minibatches(X_train, y_train, batch_size, seed=seed * 1000 + epoch):
            loss = F.cross_entropy(model(tm.Tensor(images(xb))), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        for split, (X, y) in (("train", (X_train, y_train)), ("test", (X_test, y_test))):
            loss, acc = evaluate(model, X, y)
            history[f"{split}_loss"].append(loss)
            history[f"{split}_acc"].append(acc)
        log(f"epoch {epoch + 1:3d}  train loss {history['train_loss'][-1]:.4f}  "
            f"test loss {history['test_loss'][-1]:.4f}  test accuracy {100 * history['test_acc'][-1]:.2f}%")
    return history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--channels", default="16,32", help="channels of the two conv layers (default 16,32)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and shuffling (default 0)")
    parser.add_argument("--out", default="cnn_digits_out", metavar="DIR",
                        help="where the curves go (default: cnn_digits_out)")
    args = parser.parse_args(argv)
    try:
        channels = tuple(int(c) for c in args.channels.split(","))
    except ValueError:
        parser.error(f"--channels must be two comma-separated integers, got {args.channels!r}")
    if len(channels) != 2 or min(channels) < 1 or args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("need two positive --channels, --epochs >= 1, --batch-size >= 1 and --lr > 0")

    try:
        X_train, y_train, X_test, y_test = data.load_digits()  # the library's fixed split
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.limit:
        X_train, y_train = X_train[: args.limit], y_train[: args.limit]
    print(f"8x8 digits: {len(X_train)} training and {len(X_test)} test images")

    tm.manual_seed(args.seed)
    model = make_cnn(nn, channels)
    print(model)
    print(f"{sum(p.size for p in model.parameters()):,} parameters")
    t0 = time.perf_counter()
    history = train(model, X_train, y_train, X_test, y_test, args.epochs, args.lr, args.batch_size,
                    args.seed)
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    written = plot_curves(history, Path(args.out) / "cnn_digits_curves.png")
    print(f"wrote {written}" if written else "matplotlib is not installed: no curves written")
    print(f"train accuracy {100 * history['train_acc'][-1]:.2f}%")
    print(f"test accuracy {100 * history['test_acc'][-1]:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
