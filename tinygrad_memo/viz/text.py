"""The text inside a picture: user text escaped, numbers, arrays and op calls written compactly.

User text (labels, names, module names, op names) is escaped for HTML-like labels
(``& < > " '`` as entities, backslashes doubled so Graphviz's ``\\N``-style
substitutions cannot fire, control characters made visible), so no label can
break or inject into the DOT source.
"""

from __future__ import annotations

import html
import inspect
import math
import re

import numpy as np

LABEL_LIMIT = 60  # characters of a user label shown (then "…")

# Characters XML 1.0 cannot carry (Graphviz would write them into the SVG raw), and
# other invisible control characters: shown as visible escapes instead.
_BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def esc(text, limit: int = LABEL_LIMIT) -> str:
    """Any text as the content of an HTML-like label: escaped, newlines as <BR/>.

    >>> esc('a<b>\\n"c"')
    'a&lt;b&gt;<BR/>&quot;c&quot;'
    """
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _BAD_CHARS.sub(_visible, s)
    # Graphviz expands \N, \G, ... in HTML-like text too; a doubled backslash is one.
    return "<BR/>".join(html.escape(line, quote=True).replace("\\", "\\\\")
                        for line in s.split("\n"))


def number(x) -> str:
    """A number the way micrograd's pictures show it (4 decimals), or in e-notation.

    >>> number(0.70710678), number(123456.0)
    ('0.7071', '1.235e+05')
    """
    try:
        x = float(x)
    except (TypeError, ValueError, OverflowError):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


def count(n: int) -> str:
    """An exact count with thousands separators, or ≈ m × 10^e when it is huge
    (path counts grow exponentially; no str() of a 30,000-digit integer).

    >>> count(1024), count(2 ** 100)
    ('1,024', '≈ 1.27 × 10^30')
    """
    if n < 10**15:
        return f"{n:,}"
    shift = max(n.bit_length() - 60, 0)
    log10 = math.log10(n >> shift) + shift * math.log10(2)
    e = math.floor(log10)
    return f"≈ {10 ** (log10 - e):.2f} × 10^{e}"


def summary(arr) -> str:
    """Summary of an array for a tensor node: the value itself when it has one element.

    >>> summary(np.array([1.0, 3.0]))
    'mean 2.0000 std 1.0000<BR/>min 1.0000 max 3.0000'
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        return f"{a.size} elements"
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return number(a.reshape(-1)[0])
    with np.errstate(all="ignore"):
        f = a.astype(np.float64, copy=False)
        return (f"mean {number(f.mean())} std {number(f.std())}<BR/>"
                f"min {number(f.min())} max {number(f.max())}")


def op_text(node) -> str:
    """The op of ``node`` readably, from its record: ``* 3``, ``3 -``, ``tanh``,
    ``sum axis=1`` (arguments that differ from the op's defaults).

    >>> from tinygrad_memo import Tensor, Value
    >>> t = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> op_text(3 - Value(2.0)), op_text(t.sum(axis=1))
    ('3 -', 'sum axis=1')
    """
    rec = node.grad_fn
    if rec is None:
        return "?"
    fn, args = rec.fn, rec.args
    symbol = getattr(fn, "symbol", None) or rec.name
    if getattr(fn, "arity", 0) == 2:  # an elementwise binary op: infix, with its constant
        if "b" in args and args["b"] is not None:
            return f"{symbol} {_arg(args['b'])}"
        if "a" in args and args["a"] is not None:
            return f"{_arg(args['a'])} {symbol}"
        return symbol
    shown = [f"{k}={_arg(v)}" for k, v in _explicit(fn, args).items()]
    return " ".join([rec.name, *shown])


def _explicit(fn, args: dict) -> dict:
    """The arguments of a call that differ from the defaults of ``fn.forward``."""
    try:
        params = inspect.signature(fn.forward).parameters
    except (TypeError, ValueError):
        return args
    out = {}
    for k, v in args.items():
        p = params.get(k)
        if p is not None and p.default is not p.empty:
            try:
                if v is p.default or (type(v) is type(p.default) and v == p.default):
                    continue
            except Exception:  # an array argument: not comparable to a default
                pass
        out[k] = v
    return out


def _const(c) -> str:
    """A constant operand compactly: 3 for 3.0, else up to 4 significant digits."""
    if isinstance(c, float):
        if c.is_integer() and abs(c) < 1e15:
            return str(int(c))
        return f"{c:.4g}"
    return str(c)


def _arg(v, depth: int = 0) -> str:
    """An argument compactly: numbers as constants, arrays by shape, tuples inline."""
    if isinstance(v, (bool, int, float)):
        return _const(v)
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        if getattr(v, "size", 2) == 1:
            return _const(v.reshape(-1)[0].item())
        return f"array{tuple(v.shape)}"
    if isinstance(v, slice):
        parts = ["" if x is None else str(x) for x in (v.start, v.stop, v.step)]
        return ":".join(parts[:2] if v.step is None else parts)
    if isinstance(v, (tuple, list)) and depth < 2:
        inner = ",".join(_arg(x, depth + 1) for x in v[:6])
        return f"({inner}{',…' if len(v) > 6 else ''})"
    if v is Ellipsis:
        return "..."
    return str(v)[:20]
