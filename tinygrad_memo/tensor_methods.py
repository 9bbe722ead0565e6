"""More Tensor methods (issue 12): reductions and scans, shape and data movement,
conversions. :class:`~tinygrad_memo.tensor.Tensor` inherits them; each is a thin
call of a registry op (``ops/``), where its forward and derivative live.

The API speaks numpy where numpy and PyTorch disagree (``repeat`` and ``split``
are numpy's, ``tile`` tiles as PyTorch's ``repeat`` does), and follows PyTorch
where numpy has no such function (``chunk``, ``gather``). A PyTorch spelling
the library does not use (``dim=``, ``keepdim=``, ``.view``) raises an error that
names the one to use.
"""

from __future__ import annotations

from .spelling import METHODS, add_torch_hints, missing_attribute

__all__ = ["TensorMethods"]


class TensorMethods:
    """The methods of this module, as a base class of ``Tensor`` (no state of its own).

    >>> import tinygrad_memo as tm
    >>> isinstance(tm.Tensor([1.0]), TensorMethods)
    True
    """

    __slots__ = ()

    def __getattr__(self, name):
        # only reached when normal lookup fails: a clear error, with PyTorch's spellings named
        raise missing_attribute(f"{type(self).__name__!r} object", name, METHODS)


add_torch_hints(TensorMethods)
