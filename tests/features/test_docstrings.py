"""The examples in the docstrings of framework.features and the CPU kernels run and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import framework.features
import kernels.cpu

MODULES = sorted(
    [f"framework.features.{m.name}" for m in pkgutil.iter_modules(framework.features.__path__)]
    + [f"kernels.cpu.{m.name}" for m in pkgutil.iter_modules(kernels.cpu.__path__)]
    + ["framework.features", "kernels", "kernels.backend", "kernels.cpu"]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} docstring example(s) failed"
