"""Fixtures for the model tests; the fakes themselves live in model_fakes.py."""

from __future__ import annotations

import pytest
from tests.models.model_fakes import SMALL_CONFIGS


@pytest.fixture(params=sorted(SMALL_CONFIGS))
def small_config(request) -> dict:
    """Each small built-in config in turn (a fresh copy per test)."""
    return dict(SMALL_CONFIGS[request.param])
