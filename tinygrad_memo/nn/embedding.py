"""Embedding: a lookup table of learned rows, indexed by integers (PyTorch's ``nn.Embedding``).

>>> import numpy as np
>>> from tinygrad_memo import nn
>>> emb = nn.Embedding(10, 3)
>>> emb(np.array([[1, 2], [3, 1]])).shape
(2, 2, 3)
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import init
from .layers import _positive_int
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table ``weight`` of shape ``(num_embeddings, embedding_dim)``, initialised from
    N(0, 1) as PyTorch does; calling it on integer indices of any shape returns their
    rows, shape ``indices.shape + (embedding_dim,)``. Only the rows looked up get a
    gradient (a dense one: the other rows' gradient is zero).

    >>> import numpy as np
    >>> from tinygrad_memo import nn
    >>> emb = nn.Embedding(4, 2)
    >>> emb.weight.shape
    (4, 2)
    >>> bool((emb(np.array([3])).numpy() == emb.weight.numpy()[3]).all())
    True
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = _positive_int(embedding_dim, "Embedding", "embedding_dim")
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        init.normal_(self.weight)

    def forward(self, indices):
        """The rows of ``weight`` at ``indices`` (a Tensor or array of integers).

        >>> import numpy as np
        >>> from tinygrad_memo import nn
        >>> nn.Embedding(5, 3).forward(np.array([0, 4])).shape
        (2, 3)
        """
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"{self.num_embeddings}, {self.embedding_dim}"
