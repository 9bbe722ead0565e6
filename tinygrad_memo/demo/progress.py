"""The demo's progress bars: tqdm on stderr, nothing when quiet or without tqdm."""

from __future__ import annotations

import contextlib
import sys


def progress(ctx: dict, iterable, desc: str, total: int | None = None, unit: str = "step"):
    """A tqdm bar over ``iterable`` on stderr (plain iteration when quiet or without tqdm)."""
    if ctx["quiet"]:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the demo extra; the demo works without it
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr,
                dynamic_ncols=True, unit=unit)


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
