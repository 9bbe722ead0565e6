r"""Graphviz pictures of Value and Tensor graphs that show where memoization pays.

One implementation for both engines: it reads only the engine's node protocol
(``_inputs``, ``grad_fn``, ``.data``, ``.grad``, and ``.label`` when a node has
one), and tells a tensor from a scalar by its data having a ``shape``.
:func:`draw_dot` is the graph walk (:mod:`~tinygrad_memo.viz.graph`: what is
drawn, what is left out, the statistics) followed by the styling
(:mod:`~tinygrad_memo.viz.style`, with the text of labels in
:mod:`~tinygrad_memo.viz.text`); the example graphs live in
:mod:`~tinygrad_memo.viz.examples`, and a missing ``dot`` program is reported by
:mod:`~tinygrad_memo.viz.dot`.

Picture conventions (micrograd style, left to right):

* each value node is a small table: its name, its data (a tensor: shape, dtype
  and mean / std / min / max), and its gradient when one is there;
* each operation is its own small oval between its inputs and its output,
  labelled from the node's record (``* 3``, ``3 -``, ``tanh``, ``sum axis=1``);
* the output is green with a bold border, leaves are blue, module parameters
  are purple;
* ``Σ×k`` on a node: ``k`` consumers each added a contribution into this node's
  memo slot (its fan-out); backward evaluates the node's own derivative rule
  once, after all ``k`` have been summed;
* the caption gives the backward statistics: nodes, edges, local derivatives
  evaluated by the memoized pass (one per edge) and the output-to-leaf paths
  the naive chain rule would walk. They are computed from the graph with the
  engine's :func:`~tinygrad_memo.engine.topological_order` and
  :func:`~tinygrad_memo.engine.count_paths`, without running backward;
* which nodes are drawn: all, or a window of ``depth`` edges ``around`` a node, or
  the nodes at most ``max_depth`` edges from the output; beyond ``max_nodes`` only
  the nearest of those (breadth-first) are drawn; dashed boxes stand for what was
  left out and the caption says how many nodes;
* ``groups`` (a callable or a mapping node -> name) clusters nodes, e.g. per time
  step of an RNN; what Graphviz prints while rendering comes as a
  :class:`GraphvizWarning`.

User text (labels, names, module names, op names) only ever appears inside
HTML-like labels, escaped (``& < > " '`` as entities, backslashes doubled so
Graphviz's ``\N``-style substitutions cannot fire, control characters made
visible), so no label can break or inject into the DOT source.

:func:`animate_backward` (:mod:`~tinygrad_memo.viz.animate`) shows the memoized pass
itself, one frame per node as the memo slots complete (a GIF, an HTML page or SVGs).
"""

from .animate import Animation, Frame, animate_backward
from .dot import INSTALL_HINT, GraphvizNotFoundError, GraphvizWarning
from .draw import FORMATS, draw_dot, save
from .examples import EXAMPLES, draw_example, examples_graph

__all__ = ["EXAMPLES", "FORMATS", "INSTALL_HINT", "Animation", "Frame", "GraphvizNotFoundError",
           "GraphvizWarning", "animate_backward", "draw_dot", "draw_example", "examples_graph",
           "save"]
