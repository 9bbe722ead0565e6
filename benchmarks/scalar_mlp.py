"""One training step of a scalar MLP: tinygrad_memo (eager and jitted) vs PyPI micrograd vs plain floats.

The step is micrograd's demo step: forward over 100 two-moons points through an
MLP(2, [16, 16, 1]) (relu hidden layers, linear output), SVM hinge loss
``mean(relu(1 - y_i * score_i))`` plus L2 ``1e-4 * sum(p * p)``, backward, SGD
update. All implementations start from the same weights and data, in one run:

* tinygrad_memo: the MLP built directly from ``tinygrad_memo.Value`` (lists of
  weights per neuron, written like micrograd's ``nn.py``), Python's GC on;
* micrograd (``micrograd==0.1.0``, the ``bench`` extra) as people run it, GC on;
* micrograd with the cyclic GC disabled (collected between steps, untimed);
* plain floats: the same forward and a hand-written backward, no graph at all;
* tinygrad_memo jitted: the same model with its loss under ``tm.jit`` (recorded on
  two calls, replayed after: each group of same-op nodes at one depth is one
  numpy call, forward and backward).

Before timing, one step's loss and every parameter gradient are checked to agree
between the implementations. Prints the median time per step and the ratios.

    python benchmarks/scalar_mlp.py [--steps N] [--rounds R] [--quick] [--seed S] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
from pathlib import Path

try:
    import tinygrad_memo
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo

import tinygrad_memo as tm
from tinygrad_memo import Value

SIZES = (2, 16, 16, 1)
JIT = "tinygrad_memo, jitted"
N_POINTS = 100
ALPHA = 1e-4  # L2 strength
LR = 0.1


# -- data ------------------------------------------------------------------------------------
def moons(n: int, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: (X as lists of 2 floats, y as +-1 floats)."""
    try:
        from tinygrad_memo.data import make_moons
    except ImportError:
        make_moons = _make_moons
    X, y = make_moons(n, noise=noise, seed=seed)
    return [[float(a), float(b)] for a, b in X], [2.0 * float(t) - 1.0 for t in y]


def _make_moons(n, noise=0.1, seed=None):
    """Inline fallback for ``tinygrad_memo.data.make_moons`` (sklearn's construction)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]),
    ])
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    X = X + rng.normal(scale=noise, size=X.shape)
    perm = rng.permutation(n)
    return X[perm].astype(np.float32), y[perm]


# -- weights: layers -> neurons -> (w list, b) --------------------------------------------------
def init_weights(seed: int):
    rnd = random.Random(seed)
    return [[([rnd.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)]
            for nin, nout in zip(SIZES[:-1], SIZES[1:], strict=True)]


def flat(weights):
    """Parameters in micrograd's order: per layer, per neuron, w then b."""
    return [x for layer in weights for w, b in layer for x in (*w, b)]


# -- tinygrad_memo ------------------------------------------------------------------------------
class TmMLP:
    """micrograd's MLP, written with tinygrad_memo Values (neurons as lists of Values)."""

    def __init__(self, weights):
        self.layers = [[([Value(x) for x in w], Value(b)) for w, b in layer]
                       for layer in weights]
        self.params = [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = []
            for w, b in layer:
                act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
                out.append(act.relu() if i != last else act)
            x = out
        return x[0]


def tm_loss(model, X, y):
    scores = [model(x) for x in X]
    losses = [(1 - yi * si).relu() for yi, si in zip(y, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.params)
    return data_loss + reg_loss


def tm_step(model, X, y):
    return sgd_step(model, tm_loss(model, X, y))


def sgd_step(model, loss):
    for p in model.params:
        p.grad = 0.0
    loss.backward()
    for p in model.params:
        p.data -= LR * p.grad
    return loss.data


class JitMLP(TmMLP):
    """The same model and step, with the loss jitted (``tm.jit``): its plan is recorded on
    the first two calls, then replayed (grouped numpy evaluation), and
    ``loss.backward()`` replays the recorded backward plan."""

    def __init__(self, weights):
        super().__init__(weights)
        self.loss = tm.jit(lambda X, y: tm_loss(self, X, y))


def jit_step(model, X, y):
    return sgd_step(model, model.loss(X, y))


# -- micrograd ----------------------------------------------------------------------------------
def mg_model(weights):
    from micrograd.nn import MLP

    random.seed(0)  # micrograd draws its own weights: overwritten just below
    model = MLP(SIZES[0], list(SIZES[1:]))
    for p, x in zip(model.parameters(), flat(weights), strict=True):
        p.data = x
    return model


def mg_loss(model, X, y):  # micrograd's demo.ipynb loss, verbatim in spirit
    from micrograd.engine import Value as MgValue

    inputs = [list(map(MgValue, x)) for x in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def mg_step(model, X, y):
    loss = mg_loss(model, X, y)
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= LR * p.grad
    return loss.data


# -- plain floats, hand-written backward --------------------------------------------------------
class FloatMLP:
    def __init__(self, weights):
        self.W = [[list(w) for w, _ in layer] for layer in weights]
        self.B = [[b for _, b in layer] for layer in weights]

    def loss_and_grads(self, X, y):
        W, B = self.W, self.B
        nl = len(W)
        gW = [[[0.0] * len(row) for row in Wl] for Wl in W]
        gB = [[0.0] * len(Bl) for Bl in B]
        n = len(X)
        data_loss = 0.0
        for x, yi in zip(X, y, strict=True):
            acts = [x]  # inputs of each layer
            zs = []
            h = x
            for li in range(nl):
                z = [sum(wi * hi for wi, hi in zip(row, h, strict=True)) + b
                     for row, b in zip(W[li], B[li], strict=True)]
                zs.append(z)
                h = [v if v > 0 else 0.0 for v in z] if li != nl - 1 else z
                acts.append(h)
            margin = 1.0 - yi * h[0]
            if margin > 0:
                data_loss += margin
                g = [-yi / n]
            else:
                continue
            for li in range(nl - 1, -1, -1):
                if li != nl - 1:
                    g = [gi if zi > 0 else 0.0 for gi, zi in zip(g, zs[li], strict=True)]
                hin = acts[li]
                gWl, gBl, Wl = gW[li], gB[li], W[li]
                for j, gj in enumerate(g):
                    if gj == 0.0:
                        continue
                    row = gWl[j]
                    for k, hk in enumerate(hin):
                        row[k] += gj * hk
                    gBl[j] += gj
                if li:
                    g = [sum(Wl[j][k] * g[j] for j in range(len(g))) for k in range(len(hin))]
        reg = 0.0
        for li in range(nl):
            for j, row in enumerate(W[li]):
                for k, w in enumerate(row):
                    reg += w * w
                    gW[li][j][k] += 2 * ALPHA * w
                b = B[li][j]
                reg += b * b
                gB[li][j] += 2 * ALPHA * b
        return data_loss / n + ALPHA * reg, gW, gB

    def step(self, X, y):
        loss, gW, gB = self.loss_and_grads(X, y)
        for Wl, gWl, Bl, gBl in zip(self.W, gW, self.B, gB, strict=True):
            for row, grow in zip(Wl, gWl, strict=True):
                for k, g in enumerate(grow):
                    row[k] -= LR * g
            for j, g in enumerate(gBl):
                Bl[j] -= LR * g
        return loss

    def flat_grads(self, X, y):
        loss, gW, gB = self.loss_and_grads(X, y)
        return loss, [x for gWl, gBl in zip(gW, gB, strict=True)
                      for grow, gb in zip(gWl, gBl, strict=True) for x in (*grow, gb)]


# -- checking and timing ------------------------------------------------------------------------
def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def verify(weights, X, y):
    """One step's loss and gradients agree across the three implementations."""
    tm = TmMLP(weights)
    loss_tm = tm_loss(tm, X, y)
    loss_tm.backward()
    g_tm = [p.grad for p in tm.params]

    mg = mg_model(weights)
    loss_mg = mg_loss(mg, X, y)
    loss_mg.backward()
    g_mg = [p.grad for p in mg.parameters()]

    loss_f, g_f = FloatMLP(weights).flat_grads(X, y)

    for name, loss, grads in (("micrograd", loss_mg.data, g_mg), ("plain floats", loss_f, g_f)):
        if not _close(loss_tm.data, loss):
            raise AssertionError(f"loss: tinygrad_memo {loss_tm.data!r} != {name} {loss!r}")
        bad = [i for i, (a, b) in enumerate(zip(g_tm, grads, strict=True)) if not _close(a, b)]
        if bad:
            i = bad[0]
            raise AssertionError(f"{len(bad)} gradients differ from {name}, e.g. parameter {i}: "
                                 f"{g_tm[i]!r} != {grads[i]!r}")
    verify_jit(weights, X, y)
    return loss_tm.data, len(g_tm)


def verify_jit(weights, X, y, steps: int = 4):
    """The jitted step (two recordings, then replays) agrees with eager at every step."""
    eager, jitted = TmMLP(weights), JitMLP(weights)
    for k in range(steps):
        le, lj = tm_step(eager, X, y), jit_step(jitted, X, y)
        if not _close(le, lj):
            raise AssertionError(f"step {k}: jitted loss {lj!r} != eager {le!r}")
        for i, (a, b) in enumerate(zip(eager.params, jitted.params, strict=True)):
            if not math.isclose(a.grad, b.grad, rel_tol=1e-11, abs_tol=1e-13):
                raise AssertionError(f"step {k}: jitted gradient {i} {b.grad!r} != {a.grad!r}")
    if jitted.loss.plans[0].replays != steps - 2:
        raise AssertionError(f"the jitted step was not replayed: {jitted.loss.plans}")


def time_steps(step, steps: int, warmup: int, gc_off: bool = False) -> list[float]:
    """Seconds of each of ``steps`` calls of ``step()`` (after ``warmup`` calls).

    With ``gc_off`` the cyclic collector is disabled while timing and run between
    steps, outside the timed region (so memory stays bounded).
    """
    gc.collect()
    was = gc.isenabled()
    times = []
    try:
        if gc_off:
            gc.disable()
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            step()
            t = time.perf_counter() - t0
            if i >= warmup:
                times.append(t)
            if gc_off:
                gc.collect()
    finally:
        if was:
            gc.enable()
        gc.collect()
    return times


def _fmt(s: float) -> str:
    return f"{s * 1e3:9.2f} ms" if s < 10 else f"{s:9.2f} s "


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="timed steps per implementation")
    ap.add_argument("--rounds", type=int, default=2,
                    help="interleaved rounds the steps are split into (default 2)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 step, 20 points")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    ap.add_argument("--profile", action="store_true",
                    help="profile tinygrad_memo's step with cProfile instead of timing")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        ap.error("--steps and --rounds must be >= 1")

    n_points = 20 if args.quick else N_POINTS
    steps = 1 if args.quick else args.steps
    warmup = 0 if args.quick else 1
    X, y = moons(n_points, noise=0.1, seed=args.seed)
    weights = init_weights(args.seed)

    if args.profile:
        import cProfile
        import pstats

        model = TmMLP(weights)
        tm_step(model, X, y)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            tm_step(model, X, y)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return 0

    try:
        import micrograd.engine  # noqa: F401
        have_mg = True
    except ImportError:
        have_mg = False
        print("micrograd is not installed (pip install micrograd==0.1.0, or the bench extra): "
              "comparing with plain floats only")

    if have_mg:
        loss0, nparams = verify(weights, X, y)
        print(f"check: loss {loss0:.6f} and {nparams} gradients agree "
              "(tinygrad_memo = micrograd = plain floats)")

    # (name, model factory, step(model), cyclic GC off while timing)
    impls = [("tinygrad_memo", TmMLP, tm_step, False),
             ("tinygrad_memo, gc off", TmMLP, tm_step, True),
             (JIT, JitMLP, jit_step, False)]
    if have_mg:
        impls += [("micrograd", mg_model, mg_step, False),
                  ("micrograd, gc off", mg_model, mg_step, True)]
    impls.append(("plain floats", FloatMLP, lambda m, X, y: m.step(X, y), False))

    print(f"MLP{SIZES}, {n_points} points, one step = forward + hinge/L2 loss + backward + SGD; "
          f"median of {steps} step(s) in {min(args.rounds, steps)} round(s), each after "
          f"{warmup} warm-up step(s); Python "
          f"{sys.version.split()[0]}, tinygrad_memo {tinygrad_memo.__version__}")
    # Rounds interleave the implementations, so a burst of load on the machine
    # hits all of them alike; each round times a block of steps of each one.
    rounds = min(args.rounds, steps)
    per_round = [steps // rounds + (r < steps % rounds) for r in range(rounds)]
    times: dict[str, list[float]] = {name: [] for name, *_ in impls}
    jitted = None  # one jitted model for all rounds (it records on its first two calls)
    for n in per_round:
        for name, make, step, gc_off in impls:
            extra = 0
            if name == JIT:
                if jitted is None:
                    jitted, extra = make(weights), 2
                model = jitted
            else:
                model = make(weights)
            times[name] += time_steps(lambda m=model, f=step: f(m, X, y), n, warmup + extra,
                                      gc_off)
            del model
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["tinygrad_memo"]
    print(f"{'implementation':<24}{'time/step':>12}  {'vs tinygrad_memo':>16}")
    for name, *_ in impls:
        print(f"{name:<24}{_fmt(med[name]):>12}  {med[name] / base:>15.2f}x")
    if have_mg:
        print(f"ratio micrograd / tinygrad_memo (gc on, as people run it): "
              f"{med['micrograd'] / base:.1f}x")
        print(f"ratio micrograd / tinygrad_memo (both gc off): "
              f"{med['micrograd, gc off'] / med['tinygrad_memo, gc off']:.1f}x")
        print(f"ratio micrograd / tinygrad_memo jitted: {med['micrograd'] / med[JIT]:.1f}x")
    print(f"ratio plain floats / tinygrad_memo jitted: {med['plain floats'] / med[JIT]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
