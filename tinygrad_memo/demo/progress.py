"""The demo's progress bars: tqdm on stderr when it is a terminal; otherwise (a log file,
a pipe, CI) one line per stage through the demo's log; nothing when quiet."""

from __future__ import annotations

import contextlib
import sys
import time


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress(ctx: dict, iterable, desc: str, total: int | None = None, unit: str = "step"):
    """A tqdm bar over ``iterable`` on stderr when stderr is a terminal; else a
    :class:`Stage` (one line in the log when it ends); plain iteration when quiet
    (or without tqdm on a terminal)."""
    if ctx["quiet"]:
        return iterable
    if not _is_terminal(sys.stderr):  # a bar would be one endless line of \r updates
        return Stage(ctx["log"], iterable, desc, total, unit)
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the demo extra; the demo works without it
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit=unit)


class Stage:
    """A bar's stand-in for logs: counts like tqdm (iteration, ``update``,
    ``set_postfix_str``) and writes one line when closed: what ran, how many steps, how
    long, and the last postfix.

    >>> lines = []
    >>> for _ in Stage(lines.append, range(3), "demo stage", 3, "step"):
    ...     pass
    >>> lines[0].split(" in ")[0]
    '      demo stage: 3 steps'
    """

    def __init__(self, log, iterable, desc: str, total: int | None, unit: str):
        self.log, self.iterable, self.desc, self.total, self.unit = log, iterable, desc, total, unit
        self.n, self.text, self.closed = 0, "", False
        self.t0 = time.perf_counter()

    def __iter__(self):
        try:
            for x in self.iterable:
                yield x
                self.n += 1
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.text = str(text)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        count = f"{self.n}" if self.total in (None, self.n) else f"{self.n} of {self.total}"
        unit = self.unit if self.n == 1 else f"{self.unit}s"
        text = f" ({self.text})" if self.text else ""
        self.log(f"      {self.desc}: {count} {unit} in {time.perf_counter() - self.t0:.1f} s"
                 f"{text}")


def postfix(bar, text: str) -> None:
    """Show ``text`` after the bar (no-op without a bar)."""
    if hasattr(bar, "set_postfix_str"):
        bar.set_postfix_str(text, refresh=False)


@contextlib.contextmanager
def ticking(ctx: dict, desc: str, total: int, unit: str = "step"):
    """A bar of ``total`` steps for a loop the demo does not own (a training function's
    callback): yields ``tick(text)``, which advances it by one and shows ``text``."""
    bar = progress(ctx, None, desc, total=total, unit=unit)

    def tick(text: str) -> None:
        if hasattr(bar, "update"):
            bar.update(1)
            postfix(bar, text)

    try:
        yield tick
    finally:
        if hasattr(bar, "close"):
            bar.close()
