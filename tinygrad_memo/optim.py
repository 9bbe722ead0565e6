"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with PyTorch's update rules.

One implementation serves Tensor and Value parameters alike. Each update rule
works on a flat numpy "slot": for a Tensor parameter the slot is its ``.data``
array, updated in place (so models and state dicts keep seeing the same
array); all Value parameters of an optimizer are gathered into one float64
vector per step, updated by the same rule, and written back to their ``.data``.
State (momentum buffers, Adam moments) is kept per slot.

The rules are those of PyTorch's algorithm boxes (``torch.optim``): for the
same gradients the parameters follow the same trajectory. Parameters whose
``.grad`` is None are skipped (a Value's grad is never None: 0.0 is a gradient).
``opt.lr`` (and the other hyperparameters) are plain attributes, settable
between steps; the schedules here set ``opt.lr``.

>>> import numpy as np
>>> from tinygrad_memo import Tensor, Value
>>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> v = Value(3.0)
>>> _ = (w * w).sum().backward()   # w.grad = 2 w
>>> _ = (v * v).backward()         # v.grad = 2 v
>>> opt = SGD([w, v], lr=0.1)
>>> opt.step()
>>> w.numpy(), round(v.data, 6)
(array([ 0.8, -1.6]), 2.4)
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .grad_mode import STATE
from .inplace import bump_all
from .tensor import Tensor
from .value import Value

__all__ = ["Adam", "AdamW", "CosineAnnealingLR", "LambdaLR", "Optimizer", "SGD", "StepLR"]


def _number(x, where: str, name: str, low: float = 0.0, high: float | None = None,
            high_open: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {type(x).__name__} {x!r}")
    x = float(x)
    bad = not math.isfinite(x) or x < low
    if high is not None:
        bad = bad or (x >= high if high_open else x > high)
    if bad:
        rng = f"[{low}, {high})" if high is not None and high_open else (
            f"[{low}, {high}]" if high is not None else f">= {low}")
        raise ValueError(f"{where}: {name} must be {rng}, got {x}")
    return x


_GRAD, _DATA, _SHAPE = (operator.attrgetter(a) for a in ("_grad", "data", "shape"))
_ARRAYS = {np.ndarray}


class Optimizer:
    """Base class: holds the parameters and per-slot state; subclasses define ``_update``.

    ``params`` is an iterable of Tensors (floating point, ``requires_grad=True``)
    and/or Values, e.g. ``model.parameters()``.

    >>> from tinygrad_memo import Value
    >>> a = Value(1.0); a.grad = 2.0
    >>> opt = SGD([a], lr=0.5)
    >>> opt.step(); a.data
    0.0
    >>> opt.zero_grad(); a.grad
    0.0
    """

    def __init__(self, params):
        if isinstance(params, (Tensor, Value)):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of parameters, "
                "got a single one (wrap it in a list)"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if isinstance(p, Tensor):
                if not p.requires_grad:
                    raise ValueError(
                        f"{type(self).__name__}: parameter {i} (shape {p.shape}) does not "
                        "require grad"
                    )
                if not p.is_leaf:
                    raise ValueError(
                        f"{type(self).__name__}: parameter {i} (shape {p.shape}) is the result "
                        "of an op, not a leaf; optimize the tensors it was computed from"
                    )
            elif not isinstance(p, Value):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is a {type(p).__name__}; "
                    "expected a Tensor or a Value"
                )
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} appears more than once")
            seen.add(id(p))
        self.params = params
        # the Tensor parameters and their positions in params (state keys)
        self._tlist = [p for p in params if isinstance(p, Tensor)]
        self._tpos = [i for i, p in enumerate(params) if isinstance(p, Tensor)]
        self._values = [p for p in params if isinstance(p, Value)]
        self._index = {id(p): i for i, p in enumerate(params)}
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: Tensor grads to None (zeros with ``set_to_none=False``),
        Value grads to 0.0.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> w = Tensor(np.ones(2), requires_grad=True); w.grad = np.ones(2)
        >>> opt = Adam([w]); opt.zero_grad(); w.grad is None
        True
        """
        if STATE.recorder is not None:  # inside tm.jit: every replay resets them again
            return STATE.recorder.effect(self.zero_grad, set_to_none)
        for t in self._tlist:
            if set_to_none or t._grad is None:
                t._grad = None
            else:
                t._grad = np.zeros_like(t.data)
        for v in self._values:
            v.grad = 0.0

    def _grad_of(self, i, t) -> np.ndarray:
        """Parameter ``i``'s gradient as an array of its shape (else a ValueError)."""
        g = t._grad
        g = g.data if isinstance(g, Tensor) else np.asarray(g)
        if g.shape != t.data.shape:
            raise ValueError(
                f"{type(self).__name__}.step: parameter {i} has shape {t.shape} but its "
                f"grad has shape {g.shape}"
            )
        return g

    def step(self) -> None:
        """Update every parameter that has a gradient, in place.

        >>> from tinygrad_memo import Value
        >>> v = Value(1.0); v.grad = 1.0
        >>> SGD([v], lr=0.25).step(); v.data
        0.75
        """
        if STATE.recorder is not None:  # inside tm.jit: every replay updates them again
            return STATE.recorder.effect(self.step, changes_data=True)
        state = self.state
        ts, where = self._tlist, self._tpos
        gs = list(map(_GRAD, ts))
        ps = list(map(_DATA, ts))
        if set(map(type, gs)) == _ARRAYS and list(map(_SHAPE, gs)) == list(map(_SHAPE, ps)):
            written = ts  # (the common case, C-level maps: every gradient an array of its shape)
        else:  # some have none, or one to check
            picked = [k for k, g in enumerate(gs) if g is not None]
            ps = [ps[k] for k in picked]
            gs = [self._grad_of(where[k], ts[k]) for k in picked]
            where, written = [where[k] for k in picked], [ts[k] for k in picked]
        states = list(map(state.get, where))
        if None in states:
            states = [state.setdefault(i, {}) if s is None else s for i, s in zip(where, states)]
        try:
            if ps:
                self._update(states, ps, gs)
        finally:
            bump_all(written)
        if self._values:
            vals = self._values
            p = np.fromiter((v.data for v in vals), dtype=np.float64, count=len(vals))
            g = np.fromiter((float(v.grad) for v in vals), dtype=np.float64, count=len(vals))
            self._update([state.setdefault("values", {})], [p], [g])
            for v, x in zip(vals, p.tolist()):
                v.data = x

    def _update(self, states: list, ps: list, gs: list) -> None:  # pragma: no cover
        """The rule, over lists (as PyTorch's functional optimizers): each parameter
        array ``ps[k]`` updated in place from its gradient ``gs[k]`` and its state dict
        ``states[k]``."""
        raise NotImplementedError

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state as PyTorch lays it out: ``{"state": {index: {name: value}},
        "param_groups": [{hyperparameters..., "params": [0, 1, ...]}]}``, indices being
        positions in the parameter list (copies: later steps leave it alone). SGD keeps
        ``momentum_buffer``, Adam and AdamW ``step``, ``exp_avg``, ``exp_avg_sq`` (and
        ``max_exp_avg_sq``). ``tm.save`` stores it (under dotted names), and
        :meth:`load_state_dict` takes it back in either form.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> w = Tensor(np.ones(2), requires_grad=True); w.grad = np.ones(2)
        >>> opt = Adam([w], lr=0.1); opt.step()
        >>> sd = opt.state_dict()
        >>> sorted(sd["state"][0]), sd["state"][0]["step"], sd["param_groups"][0]["params"]
        (['exp_avg', 'exp_avg_sq', 'step'], 1, [0])
        """
        state: dict = {}
        for key, st in self.state.items():
            if key == "values":  # one vector for every Value parameter: one entry each
                for j, v in enumerate(self._values):
                    state[self._index[id(v)]] = {
                        k: (x[j].copy() if isinstance(x, np.ndarray) else x) for k, x in st.items()}
            else:
                state[key] = {k: (x.copy() if isinstance(x, np.ndarray) else x)
                              for k, x in st.items()}
        group = dict(self._hyper())
        group["params"] = list(range(len(self.params)))
        return {"state": dict(sorted(state.items())), "param_groups": [group]}

    def load_state_dict(self, state_dict) -> None:
        """Restore a :meth:`state_dict` (of an optimizer of the same kind over parameters of
        the same shapes, in the same order): the hyperparameters and the per-parameter
        state, so that training resumes exactly. Also takes the dotted form that
        ``tm.load`` returns for a saved state dict.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> w = Tensor(np.ones(2), requires_grad=True); w.grad = np.ones(2)
        >>> opt = SGD([w], lr=0.1, momentum=0.9); opt.step()
        >>> fresh = SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.5, momentum=0.9)
        >>> fresh.load_state_dict(opt.state_dict()); fresh.lr
        0.1
        """
        where = f"{type(self).__name__}.load_state_dict"
        sd = _nested(state_dict, where)
        groups = sd.get("param_groups")
        if not isinstance(groups, list | tuple) or len(groups) != 1:
            raise ValueError(f"{where}: expected one parameter group in 'param_groups', got "
                             f"{groups!r:.80}")
        group = dict(groups[0])
        params = [int(i) for i in np.asarray(group.pop("params", []), dtype=np.int64).ravel()]
        if params != list(range(len(self.params))):
            raise ValueError(f"{where}: the state dict's parameter group has {len(params)} "
                             f"parameters, this optimizer has {len(self.params)}")
        hyper = self._hyper()
        unknown = sorted(set(group) - set(hyper))
        if unknown:
            raise ValueError(f"{where}: unknown hyperparameters {unknown} (a state dict of "
                             f"another optimizer?); {type(self).__name__} has {sorted(hyper)}")
        new_state = self._loaded_state(sd.get("state") or {}, where)
        for k, v in group.items():
            old = hyper[k]
            if isinstance(old, bool):
                v = bool(np.asarray(v))
            elif isinstance(old, tuple):
                v = tuple(float(x) for x in np.asarray(v).ravel())
            else:
                v = float(np.asarray(v))
            setattr(self, k, v)
        self.state = new_state

    def _loaded_state(self, state, where: str) -> dict:
        out: dict = {}
        values: dict = {}
        for i, st in state.items():
            i = int(i)
            if not 0 <= i < len(self.params):
                raise ValueError(f"{where}: state for parameter {i}, but the optimizer has "
                                 f"{len(self.params)} parameters")
            p = self.params[i]
            if isinstance(p, Value):
                values[i] = st
                continue
            entry = {}
            for k, x in st.items():
                arr = np.asarray(x)
                if k == "step":
                    entry[k] = int(arr)
                    continue
                if arr.shape != p.shape:
                    raise ValueError(f"{where}: state {k!r} of parameter {i} has shape "
                                     f"{arr.shape}, the parameter has shape {p.shape}")
                entry[k] = np.array(arr, dtype=p.data.dtype, copy=True)
            out[i] = entry
        if values:
            idx = [self._index[id(v)] for v in self._values]
            if sorted(values) != sorted(idx):
                raise ValueError(f"{where}: the state dict has state for some Value parameters "
                                 "only; Value parameters are updated together")
            keys = set(values[idx[0]])
            entry = {}
            for k in keys:
                col = [np.asarray(values[i][k]) for i in idx]
                if k == "step":
                    steps = {int(c) for c in col}
                    if len(steps) != 1:
                        raise ValueError(f"{where}: Value parameters with different step counts "
                                         f"{sorted(steps)}")
                    entry[k] = steps.pop()
                else:
                    entry[k] = np.array([float(c) for c in col], dtype=np.float64)
            out["values"] = entry
        return out

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} params, {hyper})"

    def _hyper(self) -> dict:
        return {}


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and
    L2 weight decay::

        g = grad + weight_decay * p
        if momentum:  b = g at the first step, else momentum * b + (1 - dampening) * g
                      g = g + momentum * b if nesterov else b
        p = p - lr * g

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> w = Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = np.array([1.0]); opt.step()
    >>> w.numpy()   # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
    array([0.71])
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params)
        self.lr = _number(lr, "SGD", "lr")
        self.momentum = _number(momentum, "SGD", "momentum")
        self.dampening = _number(dampening, "SGD", "dampening")
        self.weight_decay = _number(weight_decay, "SGD", "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    def _hyper(self):
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _update(self, states, ps, gs):
        lr, wd, mu, damp, nesterov = (self.lr, self.weight_decay, self.momentum,
                                      self.dampening, self.nesterov)
        for state, p, g in zip(states, ps, gs):
            if wd != 0:
                g = g + wd * p
            if mu != 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    buf *= mu
                    buf += (1 - damp) * g
                g = g + mu * buf if nesterov else buf
            p -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) exactly as ``torch.optim.Adam``, with bias correction and
    optional L2 ``weight_decay`` (added to the gradient) and ``amsgrad``::

        g = grad + weight_decay * p;  t += 1
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> w = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = np.array([0.5, -3.0]); opt.step()
    >>> w.numpy().round(6)    # the first Adam step moves each weight by about lr
    array([ 0.9, -0.9])
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params)
        name = type(self).__name__
        self.lr = _number(lr, name, "lr")
        if len(tuple(betas)) != 2:
            raise ValueError(f"{name}: betas must be a pair, got {betas!r}")
        b1, b2 = betas
        self.betas = (_number(b1, name, "betas[0]", 0.0, 1.0, high_open=True),
                      _number(b2, name, "betas[1]", 0.0, 1.0, high_open=True))
        self.eps = _number(eps, name, "eps")
        self.weight_decay = _number(weight_decay, name, "weight_decay")
        self.amsgrad = bool(amsgrad)

    def _hyper(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad}

    def _update(self, states, ps, gs):
        lr, (b1, b2), wd, eps = self.lr, self.betas, self.weight_decay, self.eps
        for state, p, g in zip(states, ps, gs):
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p)
                state["exp_avg_sq"] = np.zeros_like(p)
                if self.amsgrad:
                    state["max_exp_avg_sq"] = np.zeros_like(p)
            state["step"] += 1
            t = state["step"]
            if wd != 0:
                if self._decoupled:
                    p *= 1 - lr * wd
                else:
                    g = g + wd * p
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m += (1 - b1) * (g - m)  # torch's exp_avg.lerp_(grad, 1 - beta1)
            v *= b2
            v += (1 - b2) * (g * g)
            bias_correction1 = 1 - b1 ** t
            bias_correction2_sqrt = math.sqrt(1 - b2 ** t)
            if self.amsgrad:
                vmax = state.setdefault("max_exp_avg_sq", np.zeros_like(p))
                np.maximum(vmax, v, out=vmax)
                v = vmax
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
            p += (-lr / bias_correction1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    ``p = p * (1 - lr * weight_decay)`` before the Adam step (the decay does not pass
    through the moments).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> w = Tensor(np.array([2.0]), requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = np.array([0.0]); opt.step()
    >>> w.numpy()    # zero gradient: only the decay 2 * (1 - 0.05)
    array([1.9])
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _nested(sd, where: str) -> dict:
    """An optimizer state dict, nested; the dotted form of ``tm.load`` (``state.0.step``,
    ``param_groups.0.lr``) is nested again."""
    if not hasattr(sd, "keys"):
        raise TypeError(f"{where}: expected a state dict (a mapping), got {type(sd).__name__}")
    if "param_groups" in sd:
        return sd
    state: dict = {}
    groups: dict = {}
    for key in sd.keys():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "state":
            state.setdefault(int(parts[1]), {})[parts[2]] = sd[key]
        elif len(parts) == 3 and parts[0] == "param_groups":
            groups.setdefault(int(parts[1]), {})[parts[2]] = sd[key]
        else:
            raise ValueError(f"{where}: unexpected key {key!r} (an optimizer state dict has "
                             "'state' and 'param_groups')")
    return {"state": state, "param_groups": [groups[g] for g in sorted(groups)]}


# -- learning-rate schedules ------------------------------------------------------------------------
class _Schedule:
    """Base of the schedules: ``step()`` advances ``last_epoch`` and sets ``optimizer.lr``.

    Like PyTorch's, a schedule reads the optimizer's lr when it is made (``base_lr``)
    and is stepped after ``optimizer.step()``, usually once per epoch.
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self._last_lr = self.base_lr

    def _start(self) -> None:
        """Set the lr of epoch 0 (PyTorch's schedules do this when made)."""
        self._last_lr = float(self._lr(0))
        self.optimizer.lr = self._last_lr

    def _lr(self, epoch: int) -> float:  # pragma: no cover
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the optimizer's lr."""
        if STATE.recorder is not None:  # inside tm.jit: every replay advances it again
            return STATE.recorder.effect(self.step)
        self.last_epoch += 1
        self._last_lr = float(self._lr(self.last_epoch))
        self.optimizer.lr = self._last_lr

    def get_last_lr(self) -> list:
        """The lr set last, as a one-item list (PyTorch returns one per parameter group)."""
        return [self._last_lr]


class StepLR(_Schedule):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``.

    >>> from tinygrad_memo import Value
    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for _ in range(5):
    ...     opt.step(); sched.step(); lrs.append(opt.lr)
    >>> lrs
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _number(gamma, "StepLR", "gamma")
        self._start()

    def _lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_Schedule):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``
    (PyTorch's closed form; past ``T_max`` it rises again along the same cosine).

    >>> from tinygrad_memo import Value
    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=4)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step(); sched.step(); lrs.append(round(opt.lr, 4))
    >>> lrs
    [0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        if isinstance(T_max, bool) or not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = _number(eta_min, "CosineAnnealingLR", "eta_min")
        self._start()

    def _lr(self, epoch):
        cos = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cos


class LambdaLR(_Schedule):
    """``lr = base_lr * lr_lambda(epoch)``, e.g. micrograd's linear decay; as in PyTorch
    the lr is set to ``base_lr * lr_lambda(0)`` when the schedule is made.

    >>> from tinygrad_memo import Value
    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = LambdaLR(opt, lambda k: 1.0 - 0.9 * k / 10)
    >>> for _ in range(10):
    ...     opt.step(); sched.step()
    >>> round(opt.lr, 6)
    0.1
    """

    def __init__(self, optimizer, lr_lambda):
        super().__init__(optimizer)
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda must be callable, got {type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        self._start()

    def _lr(self, epoch):
        return self.base_lr * self.lr_lambda(epoch)
