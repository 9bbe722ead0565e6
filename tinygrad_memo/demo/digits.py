"""Part 3 of the demo: a Tensor MLP on the 8x8 digits (three spirals without scikit-learn)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .. import data, nn, optim
from ..grad_mode import no_grad
from ..nn import functional as F
from ..random import manual_seed
from ..tensor import Tensor
from . import plots
from .progress import ticking


def _predict(model, X: np.ndarray) -> np.ndarray:
    with no_grad():
        return model(Tensor(X)).numpy().argmax(axis=1)


def _accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    return float((_predict(model, X) == y).mean())


def train_classifier(X_train, y_train, X_test, y_test, hidden=(128, 64), epochs: int = 20,
                     lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
                     callback: Callable[[int, dict], object] | None = None, model=None) -> dict:
    """Train a Tensor ``nn.MLP(d, [*hidden, classes])`` (or the given ``model``) with Adam and
    cross-entropy on minibatches.

    The learning rate follows a cosine schedule from ``lr`` down to ``lr / 20``
    over the epochs. Returns a dict: ``model``, ``history`` (per epoch:
    ``loss``, the mean training minibatch loss, ``train_accuracy``,
    ``test_accuracy``), ``train_accuracy``, ``test_accuracy``, ``seconds``.
    ``callback(epoch, history_row)`` is called after every epoch.

    >>> from tinygrad_memo import data
    >>> X, y = data.make_blobs(200, centers=[[0, 0], [6, 0], [0, 6]], std=1.0, seed=0)
    >>> r = train_classifier(X[:150], y[:150], X[150:], y[150:], hidden=(16,), epochs=5,
    ...                      lr=0.03)
    >>> r["test_accuracy"] > 0.9
    True
    """

    manual_seed(seed)
    if model is None:
        classes = int(max(y_train.max(), y_test.max())) + 1
        model = nn.MLP(X_train.shape[1], [*hidden, classes])
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.CosineAnnealingLR(opt, T_max=max(1, epochs), eta_min=lr / 20)
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in data.minibatches(X_train, y_train, batch_size, seed=seed * 100_003 + epoch):
            loss = F.cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            count += len(yb)
        sched.step()
        row = {"epoch": epoch + 1, "loss": total / count,
               "train_accuracy": _accuracy(model, X_train, y_train),
               "test_accuracy": _accuracy(model, X_test, y_test)}
        history.append(row)
        if callback is not None:
            callback(epoch, row)
    return {"model": model, "history": history,
            "train_accuracy": _accuracy(model, X_train, y_train),
            "test_accuracy": _accuracy(model, X_test, y_test),
            "seconds": time.perf_counter() - t0}


def train_shown(ctx: dict, desc: str, splits: tuple, epochs: int, **kw) -> dict:
    """:func:`train_classifier` on ``splits`` (X_train, y_train, X_test, y_test) with a
    progress bar ``desc``, and a summary line in the log."""
    with ticking(ctx, desc, total=epochs, unit="epoch") as tick:
        r = train_classifier(*splits, epochs=epochs, seed=ctx["seed"], **kw,
                             callback=lambda epoch, row: tick(
                                 f"loss {row['loss']:.4f}, test accuracy "
                                 f"{100 * row['test_accuracy']:.1f}%"))
    ctx["log"](f"      {epochs} epochs in {r['seconds']:.1f} s: test accuracy "
               f"{100 * r['test_accuracy']:.1f}% (train {100 * r['train_accuracy']:.1f}%)")
    return r


def part(ctx: dict) -> dict:
    """Train on the digits (or the spirals) with ``ctx["settings"]`` and plot the curves
    and the test digits (or the decision regions)."""
    s = ctx["settings"]
    try:
        X_train, y_train, X_test, y_test = data.load_digits(test_fraction=0.2, seed=ctx["seed"])
        dataset, hidden, epochs, lr = "digits", (128, 64), s["digits_epochs"], 3e-3
        what = (f"the 8x8 handwritten digits ({len(y_train)} training and {len(y_test)} test "
                "images)")
        note = None
    except ImportError:
        note = ("      scikit-learn (which ships the digits) is not installed, so this part "
                "trains on three spirals instead (pip install scikit-learn for the digits)")
        X, y = data.make_spirals(600, classes=3, noise=0.2, seed=ctx["seed"])
        X_train, y_train, X_test, y_test = X[:480], y[:480], X[480:], y[480:]
        dataset, hidden, epochs, lr = "spirals", (64, 64), s["spirals_epochs"], 1e-2
        what = f"three spirals ({len(y_train)} training and {len(y_test)} test points)"
    arch = f"MLP({X_train.shape[1]}, [{', '.join(map(str, hidden))}, {int(y_train.max()) + 1}])"
    ctx["log"](f"[3/5] A Tensor {arch} on {what}: Adam, cross-entropy, minibatches of 32, "
               f"{epochs} epochs")
    if note:
        ctx["log"](note)
    r = train_shown(ctx, f"{dataset} (Tensor MLP)", (X_train, y_train, X_test, y_test),
                    epochs=epochs, hidden=hidden, lr=lr)
    model = r["model"]
    title = f"{dataset}: Tensor {arch}, Adam, cross-entropy, minibatches of 32"
    files = plots.classifier_curves(ctx, r, f"{dataset}_curves.png", title)
    if dataset == "digits":
        files += plots.digit_samples(ctx, X_test, y_test, _predict(model, X_test),
                                     f"Test digits and the predictions of the Tensor {arch}: "
                                     f"test accuracy {100 * r['test_accuracy']:.1f}%")
    else:
        files += plots.spirals_boundary(ctx, np.concatenate([X_train, X_test]),
                                        np.concatenate([y_train, y_test]),
                                        lambda points: _predict(model, points),
                                        f"Decision regions of the Tensor {arch}\n"
                                        f"test accuracy {100 * r['test_accuracy']:.1f}%")
    ctx["accuracies"].append(
        f"{dataset}, Tensor {arch}, {epochs} epochs of Adam: test accuracy "
        f"{100 * r['test_accuracy']:.1f}% (train {100 * r['train_accuracy']:.1f}%)")
    summary = {"dataset": dataset, "epochs": epochs, "train_accuracy": r["train_accuracy"],
               "test_accuracy": r["test_accuracy"], "seconds": r["seconds"],
               "history": r["history"]}
    return {"classifier": summary, "files": files}
