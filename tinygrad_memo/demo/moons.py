"""Part 2 of the demo: micrograd's classic, a scalar MLP of Values on two moons."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .. import data, nn, optim
from ..grad_mode import no_grad
from ..jit import jit as memo_jit
from ..nn import functional as F
from ..random import manual_seed
from . import plots
from .progress import ticking


def train_moons(n: int = 100, steps: int = 100, seed: int = 0, alpha: float = 1e-4,
                callback: Callable[[int, float, float], object] | None = None,
                jit: bool = False) -> dict:
    """micrograd's demo: a scalar ``MLP(2, [16, 16, 1])`` of Values on ``n`` two-moons points.

    The loss is the SVM hinge loss ``mean(relu(1 - y_i score_i))`` (labels
    ``y = -1, +1``) plus ``alpha * sum(p ** 2)`` over the 337 parameters; plain
    SGD with a learning rate decaying linearly from 1.0 to 0.1. Returns a dict:
    ``model``, ``X``, ``y`` (0/1), ``losses`` and ``accuracies`` (one per step,
    measured on the forward pass of that step), ``accuracy`` and ``loss`` (of
    the trained model), ``seconds``. ``callback(step, loss, accuracy)`` is
    called after every step. With ``jit=True`` the forward and loss run under
    ``tm.jit``: recorded on the first two steps, replayed after (the same numbers
    to rounding, much faster).

    >>> r = train_moons(n=20, steps=3, seed=0)
    >>> len(r["losses"]), len(r["model"].parameters())
    (3, 337)
    >>> 0.0 <= r["accuracy"] <= 1.0
    True
    """

    manual_seed(seed)
    X, y = data.make_moons(n, noise=0.1, seed=seed)
    xs = [[float(a), float(b)] for a, b in X]
    ys = [2.0 * float(t) - 1.0 for t in y]  # labels -1 / +1 for the hinge loss
    model = nn.scalar.MLP(2, [16, 16, 1])
    params = model.parameters()
    opt = optim.SGD(params, lr=1.0)

    def loss_of(scores):
        data_loss = F.hinge_loss(scores, ys)
        reg = alpha * sum((p * p for p in params), 0.0)
        return data_loss + reg

    def accuracy_of(scores):
        return sum((s.data > 0) == (t > 0) for s, t in zip(scores, ys)) / len(ys)

    def forward():
        scores = [model(x) for x in xs]
        return loss_of(scores), scores

    if jit:
        forward = memo_jit(forward)
    losses, accuracies = [], []
    t0 = time.perf_counter()
    for k in range(steps):
        loss, scores = forward()
        model.zero_grad()
        loss.backward()
        opt.lr = 1.0 - 0.9 * k / max(1, steps - 1)
        opt.step()
        losses.append(loss.data)
        accuracies.append(accuracy_of(scores))
        del scores, loss  # free this step's graph before the next one is built
        if callback is not None:
            callback(k, losses[-1], accuracies[-1])
    with no_grad():
        scores = [model(x) for x in xs]
        final_loss, final_acc = loss_of(scores).data, accuracy_of(scores)
    return {"model": model, "X": X, "y": y, "losses": losses, "accuracies": accuracies,
            "loss": float(final_loss), "accuracy": float(final_acc),
            "seconds": time.perf_counter() - t0}


def scalar_mlp_numpy(model, X: np.ndarray) -> np.ndarray:
    """The scores of a scalar ``nn.scalar.MLP`` on the rows of ``X``, computed with numpy
    from the model's weights (the same arithmetic, fast enough for a fine grid).

    >>> r = train_moons(n=8, steps=1)
    >>> x = r["X"][0]
    >>> bool(abs(scalar_mlp_numpy(r["model"], r["X"][:1])[0]
    ...          - r["model"]([float(x[0]), float(x[1])]).data) < 1e-12)
    True
    """
    h = np.asarray(X, dtype=np.float64)
    for layer in model.layers:
        W = np.array([[w.data for w in neuron.w] for neuron in layer.neurons])
        b = np.array([neuron.b.data for neuron in layer.neurons])
        h = h @ W.T + b
        if layer.neurons[0].nonlin:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def part(ctx: dict) -> dict:
    """Train with ``ctx["settings"]`` (``moons_n`` points, ``moons_steps`` steps) and plot
    the curves (``moons_loss.png``) and the decision boundary (``moons_boundary.png``)."""
    s = ctx["settings"]
    n, steps = s["moons_n"], s["moons_steps"]
    ctx["log"](f"[2/5] micrograd's classic: a scalar MLP(2, [16, 16, 1]) of Values (337 "
               f"parameters) on {n} two-moons points, {steps} SGD steps")
    with ticking(ctx, "moons (scalar MLP)", total=steps) as tick:
        r = train_moons(n=n, steps=steps, seed=ctx["seed"],
                        callback=lambda k, loss, acc: tick(
                            f"loss {loss:.4f}, accuracy {100 * acc:.0f}%"))
    with ticking(ctx, "moons, jitted (tm.jit)", total=steps) as tick:
        rj = train_moons(n=n, steps=steps, seed=ctx["seed"], jit=True,
                         callback=lambda k, loss, acc: tick(
                             f"loss {loss:.4f}, accuracy {100 * acc:.0f}%"))
    if not np.allclose(rj["losses"], r["losses"], rtol=1e-9, atol=1e-12):
        raise RuntimeError("demo: the jitted training disagrees with the eager one")
    # the numpy forward that draws the boundary must be the model's own function
    check = scalar_mlp_numpy(r["model"], r["X"][:10])
    own = [r["model"]([float(a), float(b)]).data for a, b in r["X"][:10]]
    if not np.allclose(check, own, rtol=1e-9, atol=1e-9):
        raise RuntimeError("demo: the numpy forward of the scalar MLP disagrees with the model")
    ctx["log"](f"      {steps} steps in {r['seconds']:.1f} s: loss {r['loss']:.4f}, "
               f"training accuracy {100 * r['accuracy']:.1f}%")
    ctx["log"](f"      the same steps jitted (tm.jit: recorded twice, then replayed): "
               f"{rj['seconds']:.2f} s, {r['seconds'] / rj['seconds']:.0f}x faster, "
               "the same losses")
    subtitle = (f"scalar MLP(2, [16, 16, 1]) on {n} two-moons points: "
                f"SVM hinge loss + L2, SGD, {steps} steps")
    files = plots.moons_curves(ctx, r, "micrograd's demo: " + subtitle)
    files += plots.moons_boundary(
        ctx, r["X"], r["y"], lambda points: scalar_mlp_numpy(r["model"], points),
        "Decision boundary of the scalar MLP(2, [16, 16, 1])\n"
        f"{n} two-moons points, training accuracy {100 * r['accuracy']:.0f}%")
    summary = {"n": n, "steps": steps, "loss": r["loss"], "accuracy": r["accuracy"],
               "seconds": r["seconds"], "jit_seconds": rj["seconds"]}
    ctx["accuracies"].append(
        f"two moons, scalar MLP(2, [16, 16, 1]), {steps} SGD steps: training accuracy "
        f"{100 * r['accuracy']:.1f}% (loss {r['loss']:.4f})")
    return {"moons": summary, "files": files}
