"""One real bundle (and the rows it was fitted on) for every serving test, built once without Ray."""

from __future__ import annotations

import pytest

from tests.scoring_fakes import generate, make_bundle

TOKEN = "serve-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="session")
def serve_data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("serve") / "data", rows=3000, seed=11)


@pytest.fixture(scope="session")
def serve_bundle(serve_data, tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("serve") / "bundle", serve_data, seed=0, steps=60)


@pytest.fixture(scope="session")
def raw_rows(serve_data):
    """Held rows as a pyarrow table with every contract column (id, label, features, ...)."""
    from framework.data import read_table

    return read_table(serve_data)


def json_rows(table, columns) -> list[dict]:
    """Rows of `table` as JSON-ready dicts over `columns` (the shape a client sends)."""
    return table.select(list(columns)).to_pylist()
