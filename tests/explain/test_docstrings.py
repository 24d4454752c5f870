"""The examples in the docstrings of framework.explain run and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import framework.explain

MODULES = ["framework.explain", *(f"framework.explain.{m.name}" for m in pkgutil.iter_modules(framework.explain.__path__))]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} docstring example(s) failed"
