"""Graphs re-executed from their records.

Random graphs of both engines (``tinygrad_memo.testing.strategies``: shared
subexpressions, diamonds, ladders, every op of the registry) are built, their
backward run (which releases what the pass saved; the records stay), and then
re-executed by :func:`tinygrad_memo.record.rerun` from their ``grad_fn`` records on
new leaf data. The result is exactly (bit for bit) what a fresh eager run of the
same recipe on the new data gives: the output, every leaf's gradient, and the
graph's structure; the original graph is left as it was.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_memo as tm
from tinygrad_memo.record import rerun
from tinygrad_memo.testing import strategies as S

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
EXAMPLES = settings(max_examples=150 if CI else 20)
NUDGE = st.floats(-0.05, 0.05, allow_subnormal=False)


def same(a, b, what):
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64),
                                  np.asarray(b, dtype=np.float64), err_msg=what)


def check(expr, new_data, leaf, build):
    old_leaves = [leaf(x) for x in expr.inputs]
    old = build(old_leaves)
    old_data = np.copy(old.data)
    old.backward()  # releases the saved values: the records must be enough
    old_grads = [np.copy(x.grad) for x in old_leaves]

    fresh_leaves = [leaf(x) for x in new_data]
    try:
        fresh = build(fresh_leaves)
        fresh_stats = fresh.backward()
    except (ValueError, ZeroDivisionError) as e:  # new data outside a Value op's domain
        with pytest.raises(type(e)):
            rerun(old, {o: leaf(x) for o, x in zip(old_leaves, new_data)})
        return
    new_leaves = [leaf(x) for x in new_data]
    again = rerun(old, dict(zip(old_leaves, new_leaves)))
    assert again is not old and again.grad_fn is not None
    stats = again.backward()
    same(again.data, fresh.data, "output")
    for i, (x, f) in enumerate(zip(new_leaves, fresh_leaves)):
        same(x.grad, f.grad, f"gradient of input {i}")
    assert stats == fresh_stats
    # the original graph is untouched
    same(old.data, old_data, "old output")
    for x, g in zip(old_leaves, old_grads):
        same(x.grad, g, "old gradient")


def value_case(expr, data):
    new = [x + data.draw(NUDGE) for x in expr.inputs]
    check(expr, new, lambda x: tm.Value(float(x)), expr.build_value)


def tensor_case(expr, data):
    new = [x + data.draw(hnp.arrays(np.float64, np.shape(x), elements=NUDGE))
           for x in expr.inputs]
    check(expr, new, lambda x: tm.Tensor(np.array(x, dtype=np.float64), requires_grad=True),
          expr.build_tensor)


test_value_graphs_rerun_from_their_records = EXAMPLES(
    given(S.value_expressions(), st.data())(value_case))
test_value_expressions_on_tensors_rerun_from_their_records = EXAMPLES(
    given(S.value_expressions(), st.data())(tensor_case))
test_tensor_graphs_rerun_from_their_records = EXAMPLES(
    given(S.tensor_expressions(), st.data())(tensor_case))


FAILURES = (AssertionError, ValueError, TypeError, IndexError, ZeroDivisionError)


def planted(strategy, case):
    """The property on its own, for a planted bug: stops at the first failure, no shrinking."""
    return settings(max_examples=300, database=None, phases=(Phase.generate,),
                    report_multiple_bugs=False)(given(strategy, st.data())(case))


def test_a_record_that_forgets_its_arguments_is_caught(monkeypatch):
    """A Tensor record that drops its keyword arguments (axis, keepdims, ...) on rerun."""
    from tinygrad_memo.function import Context

    def forgetful(self, inputs):
        inputs = iter(inputs)
        args = [next(inputs) if isinstance(a, tm.Tensor) else a for a in self.call_args]
        return self.fn.apply(*args)

    monkeypatch.setattr(Context, "rerun", forgetful)
    with pytest.raises(FAILURES):  # wrong results, or calls that fail without their arguments
        planted(S.tensor_expressions(), tensor_case)()


def test_a_record_that_mixes_up_a_constants_side_is_caught(monkeypatch):
    """A Value record that puts the constant of ``c - x`` on the wrong side on rerun."""
    from tinygrad_memo.function import Call

    right = Call.rerun

    def wrong_side(self, inputs):
        args = {"b": self.args["a"]} if "a" in self.args else self.args
        return right(self._replace(args=args), inputs)

    monkeypatch.setattr(Call, "rerun", wrong_side)
    with pytest.raises(FAILURES):  # wrong results, or domain errors from the wrong side
        planted(S.value_expressions(), value_case)()
