"""`raylane data contract`: types, nullability, partition columns, roles and personal-data guesses
inferred from Parquet, written as commented YAML that reads back equal and passes `data check`."""

from __future__ import annotations

import argparse
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.cli import data as data_cli
from framework.data import Contract, check_dataset, load_contract, read_table
from framework.data.contract_yaml import contract_to_yaml
from framework.data.infer_contract import infer_contract
from framework.data.pii import detect_pii
from framework.errors import DataError

DAYS = ("2026-01-01", "2026-01-02")
ROWS_PER_FILE = 150


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raylane")
    data_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _file_table(day: int, part: int) -> pa.Table:
    rng = random.Random(day * 10 + part)
    rows = range(ROWS_PER_FILE)
    first = (day * 2 + part) * ROWS_PER_FILE
    return pa.table({
        "row-id": pa.array([first + i for i in rows], pa.int64()),
        "page views": pa.array([None if rng.random() < 0.2 else rng.randrange(100) for _ in rows], pa.int32()),
        "größe €": pa.array([rng.random() for _ in rows], pa.float64()),
        "C1": pa.array([f"{rng.getrandbits(32):08x}" for _ in rows]),  # Criteo-like hex hashes: not PII
        "C2": pa.array([rng.randrange(20) for _ in rows], pa.int64()),  # an integer categorical
        "city": pa.array([None if i == 7 and day == 1 else rng.choice(["New York", "San Jose", "Los Angeles"]) for i in rows]),
        "contact": pa.array([f"user{first + i}@example.com" if i % 30 else "unknown" for i in rows]),
        "tel": pa.array([f"+1 415-555-{rng.randrange(10_000):04d}" for _ in rows]),
        "clicked": pa.array([rng.randrange(2) for _ in rows], pa.int8()),
    })


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two event_date partitions of two files each; one file written without footer statistics."""
    root = tmp_path_factory.mktemp("infer") / "events"
    for day, date in enumerate(DAYS):
        for part in range(2):
            directory = root / f"event_date={date}"
            directory.mkdir(parents=True, exist_ok=True)
            pq.write_table(_file_table(day, part), directory / f"part-{part}.parquet", write_statistics=(part == 0))
    return root


def test_types_nullability_partition_column_and_roles(dataset):
    inferred = infer_contract(dataset, label="clicked", id_column="row-id")
    contract = inferred.contract
    whole = read_table(dataset, partition_types={"event_date": pa.date32()})
    assert contract.names() == [f.name for f in whole.schema]
    types = {c.name: c.type for c in contract.columns}
    assert types == {"row-id": "int64", "page views": "int32", "größe €": "double", "C1": "string", "C2": "int64",
                     "city": "string", "contact": "string", "tel": "string", "clicked": "int8", "event_date": "date32"}
    assert {c.name: c.nullable for c in contract.columns} == {name: whole[name].null_count > 0 for name in whole.column_names}
    assert contract.column("page views").nullable and contract.column("city").nullable  # no stats in some files
    roles = {c.name: c.role for c in contract.columns}
    assert roles == {"row-id": "id", "clicked": "label", "contact": "pii", "tel": "pii", "page views": "feature",
                     "größe €": "feature", "C1": "feature", "C2": "feature", "city": "feature", "event_date": "feature"}
    assert (inferred.files, inferred.rows, contract.name) == (4, 4 * ROWS_PER_FILE, "events")


def test_cli_writes_commented_yaml_that_reads_back_equal_and_passes_check(dataset, tmp_path, capsys):
    out = tmp_path / "contract.yaml"
    assert _run(["data", "contract", "--data", str(dataset), "--out", str(out), "--label", "clicked", "--id", "row-id"]) == 0
    printed = capsys.readouterr().out
    assert "inferred 10 columns from 4 file(s), 600 rows" in printed and str(out) in printed
    assert "pii 'contact': 97% of 600 sampled values look like email addresses" in printed
    text = out.read_text(encoding="utf-8")
    contact_line = next(line for line in text.splitlines() if "name: contact" in line)
    assert contact_line.endswith("# pii: 97% of 600 sampled values look like email addresses")
    assert '{name: "page views", type: int32, nullable: true, role: feature}' in text
    assert load_contract(out) == infer_contract(dataset, label="clicked", id_column="row-id").contract
    assert _run(["data", "check", "--contract", str(out), "--data", str(dataset)]) == 0
    assert "600 rows match contract 'events'" in capsys.readouterr().out


def test_an_existing_file_is_kept_unless_force(dataset, tmp_path, capsys):
    out = tmp_path / "contract.yaml"
    out.write_text("mine\n")
    with pytest.raises(DataError, match=f"{out}: already exists; pass --force"):
        _run(["data", "contract", "--data", str(dataset), "--out", str(out)])
    assert out.read_text() == "mine\n"
    assert _run(["data", "contract", "--data", str(dataset), "--out", str(out), "--force", "--name", "mine"]) == 0
    assert load_contract(out).name == "mine" and load_contract(out).role_of("label") is None


def test_a_label_or_id_that_is_not_a_column_is_named(dataset):
    with pytest.raises(DataError, match="--label 'click': no such column"):
        infer_contract(dataset, label="click")
    with pytest.raises(DataError, match="--id 'rowid': no such column"):
        infer_contract(dataset, id_column="rowid")


def test_files_that_disagree_on_a_type_are_named(tmp_path):
    pq.write_table(pa.table({"x": pa.array([1, 2], pa.int32())}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": pa.array([1, 2], pa.int64())}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"column 'x' has different types.*int32 in .*a\.parquet; int64 in .*b\.parquet"):
        infer_contract(tmp_path)


def test_a_column_missing_from_some_files_is_named(tmp_path):
    pq.write_table(pa.table({"x": [1], "y": [2]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"column 'y' is in 1 of 2 files; missing from .*b\.parquet"):
        infer_contract(tmp_path)


def test_a_type_no_contract_can_name_is_refused(tmp_path):
    pq.write_table(pa.table({"x": pa.array(["a", "b"]).dictionary_encode()}), tmp_path / "a.parquet")
    table = pq.read_table(tmp_path / "a.parquet")
    if not pa.types.is_dictionary(table.schema.field("x").type):
        pytest.skip("this pyarrow reads dictionary columns back as plain strings")
    with pytest.raises(DataError, match="column 'x' is dictionary"):
        infer_contract(tmp_path)


@pytest.mark.parametrize("values, expected", [
    (["2026-01-01", "2026-01-02"], "date32"),
    (["3", "03", "-1"], "int64"),
    (["eu", "us"], "string"),
    (["2026-01-01", "7"], "string"),
])
def test_partition_column_types_and_null_partitions(tmp_path, values, expected):
    for number, value in enumerate([*values, "__HIVE_DEFAULT_PARTITION__"]):
        directory = tmp_path / f"key={value}"
        directory.mkdir()
        pq.write_table(pa.table({"x": [number]}), directory / "part.parquet")
    contract = infer_contract(tmp_path).contract
    assert (contract.column("key").type, contract.column("key").nullable) == (expected, True)
    assert check_dataset(contract, tmp_path).ok


@pytest.mark.parametrize("name, values, kind", [
    ("customer_email", None, "email"),
    ("phoneNumber", None, "phone"),
    ("client_ip", None, "ip"),
    ("last_name", None, "person_name"),
    ("ssn", None, "ssn"),
    ("home address", None, "address"),
    ("x", ["192.168.0.1", "10.0.0.254", "::1", "2001:db8::ff00:42:8329", "8.8.8.8"], "ip"),
    ("x", ["+1 415-555-0100", "(415) 555-0199", "+44 20 7946 0958", "+14155550123", "415.555.0100"], "phone"),
    ("x", ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Jean-Luc Picard", "Conan O'Brien", "Marie Curie"], "person_name"),
])
def test_personal_data_is_recognised(name, values, kind):
    finding = detect_pii(name, None if values is None else pa.array(values))
    assert finding is not None and finding.kind == kind


@pytest.mark.parametrize("name, values", [
    ("C14", [f"{v:08x}" for v in range(0, 2**32, 2**26)]),  # hex hashes
    ("zip", ["94103", "10001"] * 5),
    ("is_mobile", ["1", "0"] * 5),
    ("mac_address", None),
    ("product_name", ["Apple Watch", "Galaxy Buds", "Kindle"] * 5),  # repeats: not a column of people
    ("user_key", ["4155550100", "4155550101", "4155550102", "4155550103", "4155550104"]),  # bare digits: ids too
    ("day", ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]),
    ("ratio", ["3.14159265", "2.71828182", "1.41421356", "1.73205080", "0.57721566"]),
])
def test_lookalikes_are_not_flagged(name, values):
    assert detect_pii(name, None if values is None else pa.array(values)) is None


def test_yaml_round_trips_awkward_names(tmp_path):
    names = ["yes", "null", "a-b", "page views", "größe", "😀", "tab\there", 'quote"d', "#x", ": y", "1abc", "", "on",
             "line\nbreak", "\u2028", "\x85", "\x7f", "back\\slash", "[list]", "{map}", "- dash", "~"]
    contract = Contract(name="we: ird", columns=[{"name": n, "type": "string"} for n in names])
    path = tmp_path / "c.yaml"
    path.write_text(contract_to_yaml(contract, {"a-b": "pii: a\nnote"}, ["header"]), encoding="utf-8")
    assert load_contract(path) == contract
