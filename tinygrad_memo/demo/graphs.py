"""Part 4 of the demo: Graphviz pictures of computation graphs."""

from __future__ import annotations

from pathlib import Path

from .. import data, nn, viz
from ..nn import functional as F
from ..random import manual_seed
from ..tensor import Tensor
from .progress import progress

#: What to do when Graphviz's ``dot`` is missing (one line).
DOT_HINT = ("Graphviz's `dot` is not installed (install it: `sudo apt-get install graphviz`, "
            "`brew install graphviz`, or `make dot` here)")


def _small_mlp(seed: int):
    """A small Tensor MLP(2, [3, 2]) with its cross-entropy loss on 4 moons points, after
    backward, drawn top to bottom with its layers as clusters."""
    manual_seed(seed)
    X, y = data.make_moons(4, noise=0.1, seed=seed)
    model = nn.MLP(2, [3, 2])
    x = Tensor(X, requires_grad=True)  # so the input shows in the picture, with its gradient
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return viz.draw_dot(loss, module=model, names={"x": x, "loss": loss}, rankdir="TB")


def part(ctx: dict) -> dict:
    """micrograd's neuron (``neuron.png``), a small Tensor MLP (``mlp.png``), and the
    memoized backward animated on the neuron and on a ladder (``neuron_backward.gif``,
    ``ladder_backward.gif``); skipped with a one-line install hint when Graphviz's ``dot``
    is missing (the animations also when Pillow is)."""
    ctx["log"]("[5/5] Pictures of computation graphs (Graphviz): micrograd's neuron with its "
               "gradients, a small Tensor MLP, and the memoized backward animated")
    out: Path = ctx["out"]
    files = []
    jobs = [
        ("neuron.png", "micrograd's neuron o = tanh(x1 w1 + x2 w2 + b), with its gradients",
         lambda path: viz.save(viz.draw_example("neuron"), path)),
        ("mlp.png", "a small Tensor MLP(2, [3, 2]) and its cross-entropy loss, clustered by layer",
         lambda path: viz.save(_small_mlp(ctx["seed"]), path)),
        ("neuron_backward.gif", "the memoized backward on the neuron, one frame per node",
         lambda path: _animate("neuron", path)),
        ("ladder_backward.gif", "the memoized backward on a ladder (64 paths, 12 edges)",
         lambda path: _animate("ladder", path)),
    ]
    for name, description, make in progress(ctx, jobs, "graph pictures", total=len(jobs),
                                            unit="picture"):
        try:
            files.append(Path(make(out / name)))
        except viz.GraphvizNotFoundError:
            ctx["log"](f"      skipped the graph pictures: {DOT_HINT}")
            return {"graphs": None, "files": files}
        except ImportError as e:  # Pillow (the demo extra) is missing: no GIFs
            ctx["log"](f"      skipped {name}: {str(e).splitlines()[0]}")
            continue
        ctx["descriptions"][name] = description
    return {"graphs": [f.name for f in files], "files": files}


def _animate(example: str, path) -> str:
    root = viz.examples_graph(example, backward=False)
    return viz.animate_backward(root, path).path
