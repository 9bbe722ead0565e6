"""PyTorch spellings the library does not use get errors naming the one to use."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_memo as tm


@pytest.mark.parametrize("call,meant", [
    (lambda x: x.sum(dim=0), "axis="),
    (lambda x: x.mean(axis=0, keepdim=True), "keepdims="),
    (lambda x: x.max(dim=1), "axis="),
    (lambda x: x.softmax(dim=-1), "axis="),
    (lambda x: x.clip(min=0.0), "lo="),
    (lambda x: x.clip(0.0, max=1.0), "hi="),
    (lambda x: tm.concatenate([x, x], dim=0), "axis="),
    (lambda x: tm.stack([x, x], dim=0), "axis="),
])
def test_pytorch_keywords_name_the_numpy_ones(call, meant):
    x = tm.Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=f"unexpected keyword argument .*: use {meant}"):
        call(x)


def test_other_wrong_keywords_keep_pythons_message():
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'$"):
        tm.Tensor([1.0]).sum(foo=1)


def test_type_errors_from_inside_are_not_rewritten():
    with pytest.raises(TypeError, match="axis must be one int"):
        tm.Tensor([1.0]).softmax(axis=(0,))


@pytest.mark.parametrize("name,meant", [("view", "reshape"), ("clamp", "clip"),
                                        ("numel", "size"), ("to", "astype")])
def test_pytorch_method_names_name_the_numpy_ones(name, meant):
    with pytest.raises(AttributeError, match=f"no attribute '{name}': use {meant}"):
        getattr(tm.Tensor([1.0]), name)


def test_pytorch_function_names_name_the_library_ones():
    with pytest.raises(AttributeError, match="no attribute 'cat': use tm.concatenate"):
        tm.cat  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'$"):
        tm.nonsense  # noqa: B018
    assert not hasattr(tm.Tensor([1.0]), "view")
