"""The library's global random number generator.

Everything in tinygrad_memo that draws random numbers without being given a
seed (weight initialisation, dropout masks, toy data sets, minibatch shuffling)
draws from one :class:`numpy.random.Generator`, returned by :func:`rng`.
:func:`manual_seed` reseeds it, like ``torch.manual_seed``.

Reseeding happens in place: the generator object stays the same, so code that
kept a reference to ``rng()`` sees the new seed too.

>>> from tinygrad_memo.random import manual_seed, rng
>>> _ = manual_seed(0)
>>> a = rng().random(3)
>>> _ = manual_seed(0)
>>> bool((rng().random(3) == a).all())
True
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["manual_seed", "rng"]

# Seeded from fresh OS entropy until manual_seed is called, as numpy and PyTorch do.
_GENERATOR = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's global generator and return it.

    ``seed`` is a non-negative integer. After ``manual_seed(s)`` the generator
    produces exactly what ``numpy.random.default_rng(s)`` would.

    >>> import numpy as np
    >>> g = manual_seed(42)
    >>> g is rng()
    True
    >>> bool(rng().integers(1000) == np.random.default_rng(42).integers(1000))
    True
    """
    if isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got bool {seed!r}")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(
            f"manual_seed: seed must be an int, got {type(seed).__name__} {seed!r}"
        ) from None
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    # default_rng(seed) is Generator(PCG64(seed)): copy that state into the existing object.
    _GENERATOR.bit_generator.state = np.random.PCG64(seed).state
    return _GENERATOR


def rng() -> np.random.Generator:
    """Return the library's global :class:`numpy.random.Generator`.

    Call it each time you need random numbers (it is cheap); it is the same
    object for the whole process and :func:`manual_seed` reseeds it in place.

    >>> _ = manual_seed(0)
    >>> x = rng().normal(size=2)
    >>> x.shape
    (2,)
    """
    return _GENERATOR
