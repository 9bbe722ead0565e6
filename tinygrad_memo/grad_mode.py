"""Whether operations record the graph: ``no_grad`` turns recording off."""

from __future__ import annotations

import contextlib

__all__ = ["is_grad_enabled", "no_grad"]


class _State:
    enabled = True


STATE = _State()


def is_grad_enabled() -> bool:
    """True unless inside :class:`no_grad`.

    >>> import tinygrad_memo as tm
    >>> with tm.no_grad():
    ...     tm.is_grad_enabled()
    False
    """
    return STATE.enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside record no graph.

    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tm.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @tm.no_grad()
    ... def predict(t):
    ...     return t * 2
    >>> predict(x).requires_grad
    False
    """

    def __init__(self):
        self._prev: list[bool] = []  # a stack, so a decorated function may recurse

    def __enter__(self):
        self._prev.append(STATE.enabled)
        STATE.enabled = False
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev.pop()
        return False


@contextlib.contextmanager
def enable_grad():
    """Turn recording back on inside a ``no_grad`` block (used by ``create_graph``)."""
    prev = STATE.enabled
    STATE.enabled = True
    try:
        yield
    finally:
        STATE.enabled = prev


