"""Forward mode: the other order of the chain rule.

Reverse mode (``backward``) pushes one output's gradient back to all inputs in one sweep;
forward mode pushes one input direction's tangent forward to all outputs in one sweep, beside
the values, with each op's forward-mode rule (``jvp``) written next to its derivative.

* :func:`jvp`: outputs and their tangents in one pass, no graph kept (:mod:`.jvp`);
* :func:`jacfwd`, :func:`jacrev`: Jacobians one column per forward sweep or one row per
  reverse sweep, with the sweeps counted; :func:`hessian`, :func:`hvp`: forward over reverse
  (:mod:`.jacobians`);
* :func:`adjoint_check`: ``<u, J v> == <J^T u, v>`` for random ``u``, ``v``, the one gradient
  check that needs no finite differences (:mod:`.adjoint`);
* the machinery, and how it leaves the eager path untouched: :mod:`.mode`.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> _, t = tm.jvp(lambda x: x.exp(), (np.array([0.0]),), (np.array([2.0]),))
>>> t.numpy()
array([2.])
"""

from .adjoint import adjoint_check
from .jacobians import JacobianFunction, hessian, hvp, jacfwd, jacrev
from .jvp import jvp

__all__ = ["JacobianFunction", "adjoint_check", "hessian", "hvp", "jacfwd", "jacrev", "jvp"]
