"""Whether operations record the graph: ``no_grad`` turns recording off.

The switch is per thread, as in PyTorch: an evaluation thread inside ``no_grad``
does not stop another thread from recording.
"""

from __future__ import annotations

import functools
import inspect
import threading

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]


class _State(threading.local):
    enabled = True
    graph_backward = 0  # > 0 while a derivative rule runs under create_graph
    recorder = None  # tm.jit's recorder while it records this thread's calls (see jit/record.py)
    forward = None  # tm.jvp's forward-mode level while it runs in this thread (forward/mode.py)


STATE = _State()
#: how many forward-mode evaluations (tm.jvp) are running, in all threads: a plain global that
#: the Value operators' no-graph path reads before the per-thread ``STATE.forward``
FORWARD = [0]


def is_grad_enabled() -> bool:
    """True unless inside :class:`no_grad` (in this thread).

    >>> import tinygrad_memo as tm
    >>> with tm.no_grad():
    ...     tm.is_grad_enabled()
    False
    """
    return STATE.enabled


class _GradMode:
    """A context manager and decorator that sets the grad mode of this thread."""

    _mode = True

    def __init__(self):
        self._prev: list[bool] = []  # a stack, so a decorated function may recurse

    def __enter__(self):
        self._prev.append(STATE.enabled)
        STATE.enabled = self._mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        mode = self._mode
        if inspect.isgeneratorfunction(fn):
            mode_cls = type(self)

            @functools.wraps(fn)
            def generator(*args, **kwargs):
                gen = fn(*args, **kwargs)
                try:  # every resumption of the generator runs in this mode
                    with mode_cls():
                        item = next(gen)
                    while True:
                        try:
                            sent = yield item
                        except GeneratorExit:
                            with mode_cls():
                                gen.close()
                            raise
                        except BaseException as e:
                            with mode_cls():
                                item = gen.throw(e)
                        else:
                            with mode_cls():
                                item = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = STATE.enabled
            STATE.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.enabled = prev
        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: operations inside record no graph.

    As a decorator it also covers generator functions (every step of the
    generator runs without recording).

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

    _mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block (``create_graph`` uses it).

    >>> import tinygrad_memo as tm
    >>> with tm.no_grad():
    ...     with enable_grad():
    ...         tm.is_grad_enabled()
    True
    """

    _mode = True
