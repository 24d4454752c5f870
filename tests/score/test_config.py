"""The typed scoring config: the shipped YAML loads, and every bad value names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.config import load_config, validate_mapping
from framework.errors import ConfigError
from framework.score import ScoreConfig, run_scoring

ROOT = Path(__file__).resolve().parents[2]
BASE = {"model": "runs/x/bundle", "input": "data/day", "output": "scores", "run_date": "2026-01-04"}


def test_the_shipped_config_loads_with_overrides():
    kind, cfg = load_config(ROOT / "jobs" / "configs" / "score.yaml", ["run_date=2026-01-05", "pool.actors=3"])
    assert kind == "score" and isinstance(cfg, ScoreConfig)
    assert cfg.run_date.isoformat() == "2026-01-05" and cfg.pool.actors == 3 and cfg.batch.predict_rows == 4096


def test_the_kind_is_recognised_by_its_keys():
    kind, cfg = validate_mapping(dict(BASE))
    assert kind == "score" and cfg.max_reject_fraction == 0.001 and cfg.id_column == "id"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"run_date": "yesterday"}, "run_date"),
        ({"max_reject_fraction": 1.5}, "max_reject_fraction"),
        ({"batch": {"rows": 1000, "predict_rows": 4096}}, "predict_rows .4096. must not exceed rows .1000."),
        ({"pool": {"actors": 0}}, "pool.actors"),
        ({"pool": {"actors": [3, 2]}}, "pool.actors"),
        ({"pool": {"cpus_per_actor": 0}}, "pool.cpus_per_actor"),
        ({"passthrough": ["label", "label"]}, "named more than once"),
        ({"passthrough": ["id"]}, "is the id column"),
        ({"batchh": {}}, "batchh: unknown field"),
    ],
)
def test_bad_values_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        validate_mapping({**BASE, **changes}, kind="score", source="test")


def test_object_store_output_is_refused_before_any_work(tmp_path):
    cfg = validate_mapping({**BASE, "output": "s3://bucket/scores"}, kind="score")[1]
    with pytest.raises(ConfigError, match="atomic directory rename"):
        run_scoring(cfg)
