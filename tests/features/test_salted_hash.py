"""hash_bucket with a secret salt from the environment: h(v, seed) with seed = h(salt bytes, 0)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sklearn.utils import murmurhash3_32

from framework.errors import ConfigError
from framework.features import FeaturePipeline


def _pipeline():
    return FeaturePipeline.from_yaml_dict(
        {"ops": [{"op": "hash_bucket", "columns": ["user_email"], "num_buckets": 1000, "salt_env": "TEST_PII_SALT"}]}
    )


def test_salted_buckets_follow_the_reference(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_PII_SALT", "a long random secret")
    emails = ["a@example.com", None, "b@example.com", ""]
    table = pa.table({"user_email": emails})
    pipeline = _pipeline().fit(table)
    seed = murmurhash3_32(b"a long random secret", seed=0, positive=True)
    expected = [0 if e is None else 1 + murmurhash3_32(e.encode(), seed=seed, positive=True) % 1000 for e in emails]
    assert pipeline.transform(table)["user_email"].to_pylist() == expected
    pipeline.save(tmp_path / "artifact")
    assert "a long random secret" not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "artifact").iterdir())
    monkeypatch.setenv("TEST_PII_SALT", "another secret")
    assert FeaturePipeline.load(tmp_path / "artifact").transform(table)["user_email"].to_pylist() != expected


def test_missing_salt_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TEST_PII_SALT", raising=False)
    with pytest.raises(ConfigError, match="TEST_PII_SALT"):
        _pipeline().fit(pa.table({"user_email": ["x"]})).transform(pa.table({"user_email": ["x"]}))
