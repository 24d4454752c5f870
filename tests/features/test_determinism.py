"""Outputs do not depend on the process: two interpreters with different PYTHONHASHSEED agree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import pyarrow as pa
    sys.path.insert(0, {root!r})
    from framework.features import FeaturePipeline
    from tests.features.tables import make_table
    from tests.features.test_conformance import CASES

    table = make_table()
    ops = [op for name in sorted(CASES) for op in CASES[name][0]
           if op["op"] not in ("fill_missing", "clip", "log1p", "normalize", "min_max", "bucketize", "fill_median")]
    ops = [{{"op": "fill_median", "columns": ["x"]}}, {{"op": "bucketize", "columns": ["x"], "quantiles": 5}}] + ops
    pipeline = FeaturePipeline.from_yaml_dict({{"passthrough": ["id"], "id_column": "id", "ops": ops}})
    result = pipeline.fit_transform(table)
    pipeline.save(sys.argv[1])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.schema) as writer:
        writer.write_table(result)
    print(hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest())
    """
)


def _run(seed: str, out: Path) -> str:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONHASHSEED": seed}
    code = _SCRIPT.format(root=root)
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_same_output_and_artifact_under_different_hash_seeds(tmp_path):
    first, second = _run("1", tmp_path / "a"), _run("12345", tmp_path / "b")
    assert first == second
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
