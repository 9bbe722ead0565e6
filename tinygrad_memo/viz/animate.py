"""``animate_backward``: the memoized backward pass as an animation, one frame per node.

The frames follow the engine's own pass (:class:`~tinygrad_memo.engine.Walk`, in the
order the memoized backward visits the nodes): on frame ``k`` the ``k``-th node's memo
slot is complete (it lights up, with its gradient), and the edges into its inputs show
its contributions being added into their slots (``Σ 1/2``: one of two contributions
summed so far). A counter shows the local derivatives evaluated so far against the paths
the naive chain rule would walk. The first frame shows the graph before the pass, the
last one after it: ``len(frames) == nodes + 2``.
"""

from __future__ import annotations

import html
import io
import json
import os
from dataclasses import dataclass, field

from ..engine import GRAPH_FREED, BackwardStats, walk
from .dot import run_dot
from .graph import layout
from .style import RANKDIRS, grad_summary, picture
from .text import count

__all__ = ["Animation", "Frame", "animate_backward"]

#: The most nodes :func:`animate_backward` animates (one Graphviz run per frame).
MAX_NODES = 300

_PENDING, _DONE, _CURRENT = "#f4f4f4", "#c7e9c0", "#ffd54f"
_SENDING, _CURRENT_BORDER = "#d62728", "#b8860b"
PILLOW_HINT = ("animate_backward: writing a .gif needs Pillow, which is in the 'demo' extra "
               "(pip install 'tinygrad_memo[demo]', or pip install pillow); .html output and "
               "a folder of .svg frames need nothing more")


@dataclass(frozen=True)
class Frame:
    """What one frame of :func:`animate_backward` shows.

    ``kind``: ``"start"`` (before the pass), ``"node"`` (``node``'s memo slot is now
    complete and its derivative rule sends contributions to its inputs) or ``"end"``;
    ``complete``: nodes whose slot is complete; ``local_grads``: local derivatives
    evaluated so far (this node's included: one per input edge that carries a
    gradient); ``paths``: the output-to-leaf paths the naive chain rule walks (the
    whole graph's); ``through``: paths from the output to ``node`` (0 on the first and
    last frame).

    >>> Frame(0, "start", None, 0, 0, 4, 0).local_grads
    0
    """

    index: int
    kind: str
    node: object
    complete: int
    local_grads: int
    paths: int
    through: int


@dataclass
class Animation:
    """The result of :func:`animate_backward`: its ``frames`` (metadata, one per frame),
    the pass's :class:`~tinygrad_memo.engine.BackwardStats`, the ``path`` written (or
    ``None``), and :meth:`digraph` to draw any frame again.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0, label="a"); b = a * a
    >>> anim = animate_backward(b, None)
    >>> len(anim.frames), anim.frames[-1].local_grads == anim.stats.local_grads
    (4, True)
    """

    frames: list
    stats: BackwardStats
    path: str | None = None
    _looks: list = field(default_factory=list, repr=False)
    _draw: object = field(default=None, repr=False)

    def digraph(self, index: int):
        """The ``graphviz.Digraph`` of frame ``index``."""
        return self._draw(self._looks[index])


def animate_backward(root, path, *, names=None, module=None, rankdir: str = "LR",
                     show_data: bool = True, duration: int = 800, dpi: int = 96,
                     max_nodes: int = MAX_NODES) -> Animation:
    """Animate the memoized backward pass of ``root`` into ``path``, one frame per node.

    ``path`` picks the output by its extension: ``.gif`` (frames rendered by Graphviz to
    PNG, assembled with Pillow, from the ``demo`` extra), ``.html`` (one self-contained
    page: the frames as inline SVG with play, step and a slider, for docs), no
    extension (a folder of ``frame_000.svg``, ...), or ``None`` (nothing written: the
    frames' metadata only). The pass is the engine's own (:func:`~tinygrad_memo.engine.walk`
    with ``retain_graph=True``); it neither writes ``.grad`` nor frees the graph, so
    ``backward()`` still works afterwards. ``names``, ``module``, ``rankdir`` and
    ``show_data`` are :func:`~tinygrad_memo.viz.draw_dot`'s; ``duration``: milliseconds
    per frame (the first and last frames stay three times as long); ``dpi``: the GIF's
    resolution (Graphviz's default, 96, is about 100 pixels per inch). Graphs of more than
    ``max_nodes`` nodes are refused (one Graphviz run per frame).

    >>> from tinygrad_memo import Value
    >>> x = Value(3.0, label="x"); y = x * x + x; y.label = "y"
    >>> anim = animate_backward(y, None)
    >>> [f.kind for f in anim.frames]
    ['start', 'node', 'node', 'node', 'end']
    >>> [f.local_grads for f in anim.frames], anim.stats.local_grads
    ([0, 2, 4, 4, 4], 4)
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"animate_backward: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    out = None if path is None else os.fspath(path)
    ext = "" if out is None else os.path.splitext(out)[1].lower()
    if ext not in ("", ".gif", ".html"):
        raise ValueError(f"animate_backward: cannot tell the output from {out!r}: use a .gif "
                         "or .html file, a folder name without extension, or None")
    if ext == ".gif":
        try:
            import PIL.Image  # noqa: F401
        except ImportError as e:
            raise ImportError(PILLOW_HINT) from e
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 10 <= dpi <= 600:
        raise ValueError(f"animate_backward: dpi must be an int from 10 to 600, got {dpi!r}")
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 10:
        raise ValueError(f"animate_backward: duration must be an int of milliseconds >= 10, "
                         f"got {duration!r}")

    lay = layout(root, max_nodes=None, names=names, module=module)
    if lay.total > max_nodes:
        raise ValueError(f"animate_backward: the graph has {lay.total:,} nodes, one frame "
                         f"each; animate a smaller graph (or raise max_nodes={max_nodes})")
    # The pass itself: the nodes in the order the memoized backward completes their
    # slots, with each slot's gradient and path count at that moment.
    w = walk(root, retain_graph=True)
    visits = []
    try:
        for node, slot in w:
            visits.append((node, slot.grad, slot.paths))
    except RuntimeError as e:
        if GRAPH_FREED not in str(e):
            raise
        raise RuntimeError("animate_backward: the graph was freed by an earlier backward(); "
                           "animate before calling backward(), or call "
                           "backward(retain_graph=True)") from e
    stats = w.stats
    total = len(visits)
    frames = [Frame(0, "start", None, 0, 0, stats.paths, 0)]
    done = 0
    for k, (node, g, through) in enumerate(visits, start=1):
        done += len(node._inputs) if g is not None else 0
        frames.append(Frame(k, "node", node, k, done, stats.paths, through))
    frames.append(Frame(total + 1, "end", None, total, stats.local_grads, stats.paths, 0))

    looks = [_Look(lay, frames, visits, f.index, stats) for f in frames]

    def draw(look, fmt="svg"):
        return picture(lay, format=fmt, rankdir=rankdir, show_data=show_data,
                       show_grad=True, max_nodes=None, frame=look)

    anim = Animation(frames, stats, out, looks, draw)
    if out is None:
        return anim
    folder = os.path.dirname(out) if ext else out
    if folder:
        os.makedirs(folder, exist_ok=True)
    if ext == ".gif":
        _write_gif(out, [run_dot(_with_dpi(draw(lk), dpi), "png") for lk in looks], duration)
    else:
        svgs = [run_dot(draw(lk).source, "svg").decode("utf-8") for lk in looks]
        if ext == ".html":
            _write_html(out, svgs, [lk.title() for lk in looks], duration)
        else:
            for i, svg in enumerate(svgs):
                with open(os.path.join(out, f"frame_{i:03d}.svg"), "w", encoding="utf-8") as f:
                    f.write(svg)
    return anim


class _Look:
    """How one frame restyles the picture (the ``frame`` hook of ``style.picture``)."""

    def __init__(self, lay, frames, visits, index, stats):
        self.lay, self.frames, self.index, self.stats = lay, frames, index, stats
        self.n = len(visits)
        self.visit = {id(node): k for k, (node, _, _) in enumerate(visits, start=1)}
        self.grads = {id(node): g for node, g, _ in visits}
        self.received: dict[int, int] = {}
        for node, _, _ in visits[:index]:
            for p in node._inputs:
                self.received[id(p)] = self.received.get(id(p), 0) + 1
        cur = frames[index].node
        self.current = None if cur is None else id(cur)

    def _state(self, node) -> str:
        k = self.visit.get(id(node), self.n + 1)
        if k == self.index:
            return "current"
        return "done" if k < self.index else "pending"

    def fill(self, node) -> str:
        return {"current": _CURRENT, "done": _DONE, "pending": _PENDING}[self._state(node)]

    def border(self, node) -> str:
        return _CURRENT_BORDER if self._state(node) == "current" else "#ffffff"

    def grad_text(self, node) -> str:
        g = self.grads.get(id(node))
        text = "none" if g is None else grad_summary(node, g)
        if self._state(node) == "pending":  # the same text, invisible: the layout stays put
            return f'<FONT COLOR="{_PENDING}">grad {text}</FONT>'
        return f"grad {text}"

    def fan_text(self, node) -> str:
        fan = self.lay.fan_in(node)
        return f"Σ {self.received.get(id(node), 0)}/{fan}"

    def op_fill(self, node) -> str:
        return _CURRENT if id(node) == self.current else "#f2f2f2"

    def edge(self, node) -> dict:
        if id(node) == self.current and self.grads.get(id(node)) is not None:
            return {"color": _SENDING, "penwidth": "2.5"}
        return {}

    def title(self) -> str:
        f = self.frames[self.index]
        if f.kind == "start":
            return "before the pass: every memo slot is empty"
        if f.kind == "end":
            return "after the pass: every memo slot was complete once"
        name = self.lay.name(f.node) or "a node"
        return f"{name}: memo slot complete"

    def caption(self) -> str:
        f, s = self.frames[self.index], self.stats
        w = len(f"{s.local_grads:,}")
        pad = "\u2007"  # a figure space: as wide as a digit, so the caption keeps its width

        def num(x: int) -> str:
            return f"{x:,}".rjust(w, pad)

        n = self.n
        rows = [f"memoized backward · frame {str(f.index + 1).rjust(len(str(n + 2)), pad)} of "
                f"{n + 2} · memo slots complete: {str(f.complete).rjust(len(str(n)), pad)} "
                f"of {n}",
                f"local derivatives evaluated: {num(f.local_grads)} of {s.local_grads:,} "
                f"(one per edge) · naive chain rule: {count(f.paths)} paths"]
        legend = (f'<FONT COLOR="{_CURRENT}">■</FONT> slot just completed   '
                  f'<FONT COLOR="{_DONE}">■</FONT> complete   '
                  f'<FONT COLOR="{_SENDING}">→</FONT> contributions being added   '
                  "Σ i/k: i of k contributions summed")
        cells = "".join(f"<TR><TD>{html.escape(r)}</TD></TR>" for r in rows)
        return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{cells}'
                f"<TR><TD>{legend}</TD></TR></TABLE>>")


def _with_dpi(g, dpi: int) -> str:
    g.attr(dpi=str(dpi))
    return g.source


def _write_gif(path: str, pngs: list, duration: int) -> None:
    """Frames (PNG bytes) into an animated GIF, each padded to the largest frame's size."""
    from PIL import Image

    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    canvases = []
    for im in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(im, (0, 0))
        canvases.append(canvas)
    # one palette for all frames (from the first and last: every colour occurs in them or
    # in the current node's, added here), so colours do not shift from frame to frame
    sample = Image.new("RGB", (width, 2 * height + 24), "white")
    sample.paste(canvases[0], (0, 0))
    sample.paste(canvases[-1], (0, height))
    for k, colour in enumerate((_SENDING, _CURRENT, _CURRENT_BORDER)):
        sample.paste(Image.new("RGB", (width, 8), colour), (0, 2 * height + 8 * k))
    palette = sample.quantize(colors=64)
    frames = [c.quantize(palette=palette, dither=Image.Dither.NONE) for c in canvases]
    times = [duration] * len(frames)
    times[0] = times[-1] = 3 * duration
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=times, loop=0,
                   optimize=False, disposal=1)


def _write_html(path: str, svgs: list, titles: list, duration: int) -> None:
    """One page: the frames as inline SVG, one visible at a time, with a few controls."""
    slides = "\n".join(
        f'<div class="frame" data-title="{html.escape(t, quote=True)}"'
        f'{"" if i == 0 else " hidden"}>{_strip_xml_header(svg)}</div>'
        for i, (svg, t) in enumerate(zip(svgs, titles)))
    page = _PAGE.replace("@FRAMES@", slides).replace("@N@", str(len(svgs) - 1))
    page = page.replace("@DURATION@", json.dumps(duration))
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)


def _strip_xml_header(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tinygrad_memo: the memoized backward pass, frame by frame</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1em; }
.controls { margin: 0.5em 0; display: flex; gap: 0.5em; align-items: center; }
.frame svg { max-width: 100%; height: auto; }
</style></head><body>
<div class="controls">
<button id="prev" title="previous frame">&#9664;</button>
<button id="play" title="play or pause">play</button>
<button id="next" title="next frame">&#9654;</button>
<input id="slider" type="range" min="0" max="@N@" value="0">
<span id="title"></span>
</div>
@FRAMES@
<script>
(function () {
  var frames = document.querySelectorAll(".frame");
  var slider = document.getElementById("slider");
  var title = document.getElementById("title");
  var play = document.getElementById("play");
  var at = 0, timer = null;
  function show(i) {
    at = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) { frames[k].hidden = (k !== at); }
    slider.value = at;
    title.textContent = "frame " + at + ": " + frames[at].dataset.title;
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "play"; }
  play.onclick = function () {
    if (timer) { stop(); return; }
    if (at === frames.length - 1) { show(0); }
    play.textContent = "pause";
    timer = setInterval(function () {
      if (at === frames.length - 1) { stop(); } else { show(at + 1); }
    }, @DURATION@);
  };
  document.getElementById("prev").onclick = function () { stop(); show(at - 1); };
  document.getElementById("next").onclick = function () { stop(); show(at + 1); };
  slider.oninput = function () { stop(); show(parseInt(slider.value, 10)); };
  show(0);
})();
</script>
</body></html>
"""
