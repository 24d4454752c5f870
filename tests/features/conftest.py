"""Fixtures for the feature tests; the tables themselves are built in tests/features/tables.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.features.tables import assert_tables_match, make_table


@pytest.fixture
def table() -> pa.Table:
    return make_table()


@pytest.fixture
def tables_match():
    return assert_tables_match
