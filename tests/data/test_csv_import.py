"""`raylane data import`: CSV/TSV typed by a contract, checked against pandas' read_csv of the good rows;
bad rows rejected with their line numbers; the reject gate; atomic publishing; the Criteo contract."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.cli import data as data_cli
from framework.cli import features as features_cli
from framework.cli import main as raylane_main
from framework.data import check_dataset, load_contract, read_table
from framework.data.csv_import import ImportRequest, import_csv
from framework.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = """name: shop
columns:
  - {name: label, type: int8, nullable: false, role: label}
  - {name: I1, type: int64}
  - {name: price, type: float64}
  - {name: C1, type: string}
  - {name: day, type: date32}
  - {name: id, type: int64, nullable: false, role: id}
"""
FIELDS = ["label", "I1", "price", "C1", "day"]  # the files' columns; the import makes `id`
# (how to spoil a good row, the reason the import must give)
BAD = [
    (lambda f: f[:-1], "expected 5 fields, found 4"),
    (lambda f: f + ["x"], "expected 5 fields, found 6"),
    (lambda f: [f[0], "abc", *f[2:]], "column 'I1': not a valid int64"),
    (lambda f: ["", *f[1:]], "column 'label' is empty, but the contract says nullable: false"),
    (lambda f: [*f[:4], "2026-13-45"], "column 'day': not a valid date32"),
    (lambda f: [f[0], f[1], "1.2.3", *f[3:]], "column 'price': not a valid float64"),
]


def _run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raylane")
    module.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _fields(rng: random.Random) -> list[str]:
    def maybe(value: str) -> str:
        return "" if rng.random() < 0.1 else value

    return [str(rng.randrange(2)), maybe(str(rng.randrange(-3, 10_000))), maybe(f"{rng.uniform(0, 100):.4f}"),
            maybe(f"{rng.getrandbits(32):08x}"), maybe(f"2026-01-0{rng.randrange(1, 4)}")]


def _source(rows: int, seed: int, delimiter: str, header: bool, bad_every: int = 0, order=FIELDS):
    """(text, good lines [(line, fields)], expected rejects {line: reason}), with a blank line too."""
    rng = random.Random(seed)
    lines, good, rejects = ([delimiter.join(order)] if header else []), [], {}
    for number in range(rows):
        fields = _fields(rng)
        if number == rows // 2:
            lines.append("")  # a blank line: skipped, but counted in line numbers
        if bad_every and number % bad_every == bad_every - 1:
            spoil, reason = BAD[(number // bad_every) % len(BAD)]
            lines.append(delimiter.join(_ordered(spoil(fields), order)))
            rejects[len(lines)] = reason
        else:
            lines.append(delimiter.join(_ordered(fields, order)))
            good.append((len(lines), fields))
    return "\n".join(lines) + "\n", good, rejects


def _ordered(fields: list[str], order) -> list[str]:
    if len(fields) != len(FIELDS) or order == FIELDS:
        return fields
    by_name = dict(zip(FIELDS, fields))
    return [by_name[name] for name in order]


def _pandas_reference(good: list, tmp_path: Path) -> pd.DataFrame:
    """pandas' read_csv of the good rows, with the contract's types (only an empty field is missing)."""
    path = tmp_path / "reference.csv"
    path.write_text("\n".join(",".join(fields) for _, fields in good) + "\n")
    frame = pd.read_csv(path, header=None, names=FIELDS, keep_default_na=False, na_values=[""],
                        dtype={"label": "int8", "I1": "Int64", "price": "float64", "C1": "string", "day": "string"})
    frame["day"] = pd.to_datetime(frame["day"], format="%Y-%m-%d").dt.date
    frame["id"] = [line for line, _ in good]
    return frame


def _assert_matches(table: pa.Table, reference: pd.DataFrame) -> None:
    table = table.sort_by("id")
    assert table.num_rows == len(reference)
    for name in ["label", "I1", "C1", "day", "id"]:
        expected = [None if pd.isna(v) else v for v in reference[name].tolist()]
        assert table[name].to_pylist() == expected, name
    np.testing.assert_allclose(table["price"].to_numpy(zero_copy_only=False), reference["price"].to_numpy(), rtol=1e-15)


def _rejects(out: Path) -> dict:
    found = {}
    for path in sorted((out / "_rejected").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            found[record["line"]] = record
    return found


@pytest.fixture
def contract(tmp_path) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT)
    return path


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_tsv_without_header_matches_pandas_and_rejects_bad_rows_by_line(tmp_path, contract, compressed, capsys):
    text, good, expected = _source(600, seed=1, delimiter="\t", header=False, bad_every=50)
    source = tmp_path / ("day.tsv.gz" if compressed else "day.tsv")
    source.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    out = tmp_path / "out"
    argv = ["data", "import", "--format", "tsv", "--no-header", "--contract", str(contract), str(source),
            "--out", str(out), "--max-reject-fraction", "0.05"]
    assert _run(data_cli, argv) == 0
    assert f"imported {len(good)} rows ({len(expected)} rejected" in capsys.readouterr().out
    _assert_matches(read_table(out), _pandas_reference(good, tmp_path))
    rejects = _rejects(out)
    assert {line: r["reason"] for line, r in rejects.items()} == expected
    lines = text.split("\n")
    assert all(r["source"] == str(source) and r["text"] == lines[line - 1] for line, r in rejects.items())
    assert check_dataset(load_contract(out / "contract.yaml"), out).ok
    assert (out / "_SUCCESS").is_file() and not (tmp_path / ".out.import-staging").exists()


def test_csv_with_a_header_maps_columns_by_name(tmp_path, contract):
    order = ["C1", "day", "label", "price", "I1"]
    text, good, expected = _source(300, seed=2, delimiter=",", header=True, bad_every=40, order=order)
    source = tmp_path / "shop.csv"
    source.write_text(text)
    result = import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out"),
                                      max_reject_fraction=0.05))
    assert (result.rows, result.rejected, result.blank) == (len(good), len(expected), 1)
    _assert_matches(read_table(tmp_path / "out"), _pandas_reference(good, tmp_path))
    assert {line: r["reason"] for line, r in _rejects(tmp_path / "out").items()} == expected


def test_quoted_csv_fields_and_an_id_column_of_the_source_read_as_pandas_reads_them(tmp_path, contract):
    source = tmp_path / "quoted.csv"
    source.write_text('id,label,I1,price,C1,day\n'
                      '70,1,5,1.5,"a,b",2026-01-01\n'
                      '71,0,,2.25,"say ""hi""",\n'
                      '72,1,-3,,"",2026-01-03\n'
                      '73,0,8,0.5,plain,2026-01-02\n')
    import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out")))
    reference = pd.read_csv(source, keep_default_na=False, na_values=[""],
                            dtype={"id": "int64", "label": "int8", "I1": "Int64", "price": "float64", "C1": "string",
                                   "day": "string"})
    reference["day"] = pd.to_datetime(reference["day"], format="%Y-%m-%d").dt.date
    _assert_matches(read_table(tmp_path / "out"), reference)
    assert read_table(tmp_path / "out")["C1"].to_pylist() == ["a,b", 'say "hi"', None, "plain"]


def test_header_columns_missing_or_extra_are_named(tmp_path, contract):
    source = tmp_path / "a.csv"
    source.write_text("label,I1,C1,day\n1,2,ab,2026-01-01\n")
    with pytest.raises(DataError, match=r"a\.csv: the header lacks the contract's column\(s\) \['price'\]"):
        import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out")))
    source.write_text("label,I1,price,C1,day,note\n1,2,3.5,ab,2026-01-01,hello\n")
    with pytest.raises(DataError, match=r"column\(s\) \['note'\] are not in the contract"):
        import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out")))
    contract.write_text(CONTRACT.replace("name: shop", "name: shop\nextra_columns: ignore"))
    import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out")))
    assert read_table(tmp_path / "out").to_pylist() == [
        {"label": 1, "I1": 2, "price": 3.5, "C1": "ab", "day": pd.Timestamp("2026-01-01").date(), "id": 2}]
    assert not (tmp_path / "out" / "_rejected").exists()


def test_without_a_header_the_field_count_must_fit_the_contract(tmp_path, contract):
    source = tmp_path / "a.tsv"
    source.write_text("1\t2\t3\n")
    with pytest.raises(DataError, match=r"rows have 3 fields, but the contract names 6 columns \(5 without the id column 'id'"):
        import_csv(ImportRequest(source=str(source), contract=str(contract), out=str(tmp_path / "out"), format="tsv", header=False))


def test_partition_by_writes_hive_directories_read_back_equal(tmp_path, contract, capsys):
    text, good, _ = _source(400, seed=3, delimiter=",", header=False)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(text)
    out = tmp_path / "out"
    argv = ["data", "import", "--format", "csv", "--no-header", "--contract", str(contract), str(tmp_path / "in"),
            "--out", str(out), "--partition-by", "day"]
    assert _run(data_cli, argv) == 0
    days = {f"2026-01-0{d}" for d in (1, 2, 3)}
    assert {p.name for p in out.glob("day=*")} == {f"day={d}" for d in days} | {"day=__HIVE_DEFAULT_PARTITION__"}
    assert all("day" not in pq.read_schema(p).names for p in out.rglob("*.parquet"))
    loaded = load_contract(out / "contract.yaml")
    _assert_matches(read_table(out, partition_types=loaded.arrow_schema()), _pandas_reference(good, tmp_path))
    assert _run(data_cli, ["data", "check", "--contract", str(out / "contract.yaml"), "--data", str(out)]) == 0
    assert "4 file(s)" in capsys.readouterr().out


def test_each_source_file_gets_its_own_ids(tmp_path, contract):
    for name, seed in (("a.tsv", 4), ("b.tsv", 5)):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text(_source(50, seed=seed, delimiter="\t", header=False)[0])
    import_csv(ImportRequest(source=str(tmp_path / "in" / "*.tsv"), contract=str(contract), out=str(tmp_path / "out"),
                             format="tsv", header=False))
    ids = read_table(tmp_path / "out")["id"].to_pylist()
    lines = [n for n in range(1, 52) if n != 26]  # line 26 is the blank one
    assert ids == lines + [(1 << 40) | n for n in lines]


def test_above_the_reject_fraction_nothing_is_published(tmp_path, contract, capsys):
    out = tmp_path / "out"
    good_text, good, _ = _source(100, seed=6, delimiter=",", header=True)
    (tmp_path / "good.csv").write_text(good_text)
    assert raylane_main(["data", "import", "--format", "csv", "--contract", str(contract), str(tmp_path / "good.csv"),
                         "--out", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad_text, _, expected = _source(100, seed=7, delimiter=",", header=True, bad_every=10)
    (tmp_path / "bad.csv").write_text(bad_text)
    capsys.readouterr()
    status = raylane_main(["data", "import", "--format", "csv", "--contract", str(contract), str(tmp_path / "bad.csv"),
                           "--out", str(out), "--max-reject-fraction", "0.05"])
    error = capsys.readouterr().err
    assert status != 0 and "10 of 100 rows rejected (10.0000%), above --max-reject-fraction 0.05" in error
    assert "nothing was published" in error
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    staged = tmp_path / ".out.import-staging"
    assert str(staged / "_rejected") in error and set(_rejects(staged)) == set(expected)
    assert raylane_main(["data", "import", "--format", "csv", "--contract", str(contract), str(tmp_path / "bad.csv"),
                         "--out", str(out), "--max-reject-fraction", "0.2"]) == 0
    assert read_table(out).num_rows == 90 and not staged.exists()  # replaced, and the staging is gone


def test_an_output_no_import_wrote_is_refused_unless_force(tmp_path, contract):
    (tmp_path / "good.csv").write_text(_source(10, seed=8, delimiter=",", header=True)[0])
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    request = dict(source=str(tmp_path / "good.csv"), contract=str(contract), out=str(out))
    with pytest.raises(DataError, match="exists and was not written by `raylane data import`.*--force"):
        import_csv(ImportRequest(**request))
    assert (out / "precious.txt").read_text() == "keep me"
    import_csv(ImportRequest(**request, force=True))
    assert not (out / "precious.txt").exists() and read_table(out).num_rows == 10


@pytest.mark.parametrize("change, message", [
    ({"format": "json"}, "format: got 'json'"),
    ({"delimiter": ";;"}, "delimiter: got ';;'"),
    ({"max_reject_fraction": 1.5}, "max_reject_fraction: got 1.5"),
])
def test_requests_are_validated(change, message):
    with pytest.raises(ConfigError, match=message):
        ImportRequest(source="x", contract="c", out="o", **change)


def test_progress_prints_plain_lines_when_not_a_terminal():
    from framework.progress import ProgressDisplay

    stream = io.StringIO()
    display = ProgressDisplay("import", total=1, unit="B", unit_scale=True, every_s=0.0, stream=stream)
    data_cli._import_progress(display)(type("P", (), {"bytes_read": 5_000_000, "bytes_total": 10_000_000,
                                                      "rows": 1234, "rejected": 2})())
    line = stream.getvalue()
    assert line.startswith("import: 5.0/10.0 MB (") and "MB/s, 1,234 rows, 2 rejected)" in line


def _criteo_line(rng: random.Random) -> str:
    counts = ["" if rng.random() < 0.1 else str(rng.randrange(-2, 500)) for _ in range(13)]
    categories = ["" if rng.random() < 0.05 else f"{rng.randrange(30 + 10 * j):08x}" for j in range(26)]
    return "\t".join([str(rng.randrange(2)), *counts, *categories])


def test_the_shipped_criteo_contract_imports_criteo_tsv_for_train_small_features(tmp_path):
    rng = random.Random(9)
    (tmp_path / "day_0.gz").write_bytes(gzip.compress(("\n".join(_criteo_line(rng) for _ in range(1500)) + "\n").encode()))
    contract = ROOT / "jobs" / "configs" / "criteo_tsv_contract.yaml"
    out = tmp_path / "criteo"
    assert _run(data_cli, ["data", "import", "--format", "tsv", "--no-header", "--contract", str(contract),
                           str(tmp_path / "day_0.gz"), "--out", str(out)]) == 0
    table = read_table(out)
    assert table.num_rows == 1500 and table["id"].to_pylist() == list(range(1, 1501))
    assert check_dataset(load_contract(contract), out).ok
    argv = ["features", "fit", "--pipeline", str(ROOT / "jobs" / "configs" / "train_small.yaml"), "--data", str(out),
            "--contract", str(out / "contract.yaml"), "--out", str(tmp_path / "features")]
    assert _run(features_cli, argv) == 0


def test_an_import_that_fails_midway_leaves_the_published_output_as_it_was(tmp_path, contract):
    out = tmp_path / "out"
    (tmp_path / "first.csv").write_text(_source(20, seed=10, delimiter=",", header=True)[0])
    import_csv(ImportRequest(source=str(tmp_path / "first.csv"), contract=str(contract), out=str(out)))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (tmp_path / "second.csv").write_text(_source(20, seed=11, delimiter=",", header=True)[0])

    def interrupt(progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_csv(ImportRequest(source=str(tmp_path / "second.csv"), contract=str(contract), out=str(out)), interrupt)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (tmp_path / ".out.import-staging").exists()
