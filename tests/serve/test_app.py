"""The HTTP app without Ray (FastAPI TestClient over `local_app`): parity, auth, every bad request."""

from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest
from fastapi.testclient import TestClient

from framework.score import BundleScorer
from framework.serve import ServiceSettings, local_app, token_digest
from tests.serve.conftest import AUTH, TOKEN, json_rows

SECRET_TEXT = "SENTINEL-zq81"
SECRET_NUMBER = 98765432123456789012345  # beyond int64: refused, and must not be echoed


@pytest.fixture(scope="module")
def scorer(serve_bundle):
    return BundleScorer(serve_bundle)


@pytest.fixture(scope="module")
def client(serve_bundle):
    settings = ServiceSettings(
        model_place=str(serve_bundle), reload_check_s=0, max_rows=50, max_body_bytes=64_000, token_digest=token_digest(TOKEN)
    )
    with TestClient(local_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _post(client, body, headers=AUTH):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/predict", content=content, headers={"Content-Type": "application/json", **headers})


def test_scores_equal_batch_scoring_of_the_same_rows(client, scorer, raw_rows):
    table = raw_rows.slice(100, 40)
    reply = _post(client, {"rows": json_rows(table, scorer.input_columns)})
    assert reply.status_code == 200
    body = reply.json()
    np.testing.assert_allclose(body["scores"], scorer.score(table), rtol=0, atol=1e-6)
    assert body["model"] == {"name": scorer.identity.name, "version": scorer.identity.version}


def test_rows_may_carry_other_contract_columns_and_omit_nullable_ones(client, scorer, raw_rows):
    table = raw_rows.slice(0, 3)
    rows = json_rows(table, ["id", "label", *scorer.input_columns])
    del rows[0]["I1"]  # nullable: absent means null
    expected = scorer.score(table.set_column(table.schema.get_field_index("I1"), "I1", _with_null(table["I1"])))
    reply = _post(client, {"rows": rows})
    assert reply.status_code == 200
    np.testing.assert_allclose(reply.json()["scores"], expected, atol=1e-6)


def _with_null(column):
    import pyarrow as pa

    values = column.to_pylist()
    values[0] = None
    return pa.array(values, type=column.type)


def test_healthz_is_open_and_names_the_model(client, scorer):
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "model": {"name": scorer.identity.name, "version": scorer.identity.version}}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0000000000"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}])
def test_predict_and_metrics_need_the_token(client, scorer, raw_rows, headers):
    rows = json_rows(raw_rows.slice(0, 1), scorer.input_columns)
    for reply in (_post(client, {"rows": rows}, headers), client.get("/metrics", headers=headers)):
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"rows": [', b"\xff\xfe\x00", b"[" * 20_000 + b"]" * 20_000, b"rows=1", b'{"rows": [{"I1": 1}]} trailing'],
    ids=["empty", "open-brace", "unclosed", "not-utf8", "nested-too-deep", "form", "trailing"],
)
def test_malformed_json_is_400(client, body):
    reply = _post(client, body)
    assert reply.status_code == 400, reply.text
    assert "malformed JSON" in reply.json()["detail"]


def test_body_over_the_byte_limit_is_413_with_or_without_content_length(client):
    big = json.dumps({"rows": [{"C2": "x" * 70_000}]}).encode()
    assert _post(client, big).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    reply = client.post("/v1/predict", content=chunks(), headers=AUTH)
    assert reply.status_code == 413


def test_more_rows_than_the_limit_is_413(client, scorer, raw_rows):
    rows = json_rows(raw_rows.slice(0, 1), scorer.input_columns) * 51
    reply = _post(client, {"rows": rows})
    assert reply.status_code == 413
    assert "at most 50 rows" in reply.json()["detail"]


def _bad_row(scorer, raw_rows, column, raw_value: str) -> bytes:
    good, bad = json_rows(raw_rows.slice(0, 2), scorer.input_columns)
    bad[column] = "__BAD__"
    return json.dumps({"rows": [bad, good]}).replace('"__BAD__"', raw_value).encode()


@pytest.mark.parametrize(
    "column, raw_value, kind",
    [
        ("I1", "NaN", "int_type"),
        ("I1", "Infinity", "int_type"),
        ("I1", "-Infinity", "int_type"),
        ("I1", f'"{SECRET_TEXT}"', "int_type"),
        ("I1", "2.5", "int_type"),
        ("I1", "true", "int_type"),
        ("I1", str(SECRET_NUMBER), "less_than_equal"),
        ("C2", "12", "string_type"),
        ("C2", '["a"]', "string_type"),
        ("C1", '{"x": 1}', "int_type"),
    ],
)
def test_wrong_values_are_422_with_the_field_path_and_no_value(client, scorer, raw_rows, column, raw_value, kind):
    reply = _post(client, _bad_row(scorer, raw_rows, column, raw_value))
    assert reply.status_code == 422, reply.text
    problems = reply.json()["detail"]
    assert problems == [{"loc": ["rows", 0, column], "msg": problems[0]["msg"], "type": kind}]
    assert column in json.dumps(problems) and "expected" in problems[0]["msg"]
    for echoed in (SECRET_TEXT, str(SECRET_NUMBER), "2.5", "NaN", "Infinity"):
        assert echoed not in reply.text


def test_infinity_in_a_float_column_is_422():
    from framework.serve._rows import ColumnRule, RowSchema, RowsInvalid
    import pyarrow as pa

    schema = RowSchema({"x": ColumnRule(pa.float64(), True), "n": ColumnRule(pa.int64(), False)})
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(RowsInvalid) as caught:
            schema.validate({"rows": [{"x": value, "n": 1}]})
        assert caught.value.problems[0]["loc"] == ["rows", 0, "x"] and caught.value.problems[0]["type"] == "finite_number"
    with pytest.raises(RowsInvalid) as caught:
        schema.validate({"rows": [{"x": 1.0}, {"x": 2, "n": None}]})
    assert [p["loc"] for p in caught.value.problems] == [["rows", 0, "n"], ["rows", 1, "n"]]
    assert schema.to_table(schema.validate({"rows": [{"x": 1, "n": 2}]})).schema == pa.schema([("x", pa.float64()), ("n", pa.int64())])


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"rows": []}, ["rows"]),
        ({"rows": {"I1": 1}}, ["rows"]),
        ({"rows": [5]}, ["rows", 0]),
        ([{"I1": 1}], []),
        ({"rows": [{"I1": 1}], "extra": 1}, ["extra"]),
        ({"rows": [{"not_a_column": 1}]}, ["rows", 0, "not_a_column"]),
        ({}, ["rows"]),
    ],
)
def test_wrong_shapes_are_422(client, body, loc):
    reply = _post(client, body)
    assert reply.status_code == 422, reply.text
    assert loc in [p["loc"] for p in reply.json()["detail"]]


def test_the_list_of_problems_is_capped_but_counted(client, scorer, raw_rows):
    rows = [{column: "x" for column in scorer.input_columns if column.startswith("I")}] * 10
    reply = _post(client, {"rows": rows})
    assert reply.status_code == 422
    assert len(reply.json()["detail"]) == 50 and reply.json()["errors"] == 130


def test_random_garbage_never_gets_a_500(client, scorer, raw_rows):
    rng = random.Random(3)
    valid = json.dumps({"rows": json_rows(raw_rows.slice(0, 2), scorer.input_columns)}).encode()
    statuses = set()
    for _ in range(150):
        body = bytearray(valid)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(body))
            body[position : position + rng.randint(0, 3)] = bytes(rng.choice(b'{}[]":,0123456789.eE-+ntrufalsNaI\\x') for _ in range(rng.randint(0, 3)))
        statuses.add(_post(client, bytes(body)).status_code)
    assert statuses <= {200, 400, 413, 422}, statuses
    assert {400, 422} <= statuses


def test_bad_requests_leave_no_values_and_no_tracebacks_in_the_logs(client, scorer, raw_rows, caplog):
    caplog.set_level(logging.DEBUG)
    _post(client, _bad_row(scorer, raw_rows, "C2", f'"{SECRET_TEXT}"'))
    _post(client, _bad_row(scorer, raw_rows, "I1", str(SECRET_NUMBER)))
    _post(client, b"{" + SECRET_TEXT.encode())
    assert SECRET_TEXT not in caplog.text and str(SECRET_NUMBER) not in caplog.text
    assert "Traceback" not in caplog.text


def test_a_model_failure_is_a_logged_500_without_values(serve_bundle, scorer, raw_rows, caplog, monkeypatch):
    app = local_app(ServiceSettings(model_place=str(serve_bundle), reload_check_s=0, token_digest=None))

    def explode(self, table):
        raise RuntimeError(f"value {SECRET_TEXT} broke it")

    monkeypatch.setattr(BundleScorer, "score", explode)
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        reply = _post(test_client, {"rows": json_rows(raw_rows.slice(0, 1), scorer.input_columns)}, headers={})
    assert reply.status_code == 500
    assert SECRET_TEXT not in reply.text and SECRET_TEXT not in caplog.text and "Traceback" not in caplog.text
    assert "RuntimeError at" in caplog.text


def test_metrics_count_requests_by_status(serve_bundle, scorer, raw_rows):
    from prometheus_client.parser import text_string_to_metric_families

    app = local_app(ServiceSettings(model_place=str(serve_bundle), reload_check_s=0, token_digest=token_digest(TOKEN)))
    rows = json_rows(raw_rows.slice(0, 3), scorer.input_columns)
    with TestClient(app) as test_client:
        for _ in range(4):
            _post(test_client, {"rows": rows})
        _post(test_client, b"{")
        _post(test_client, {"rows": rows}, headers={})
        text = test_client.get("/metrics", headers=AUTH).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = {s.labels["status"]: s.value for s in families["raylane_serve_requests"].samples if s.labels["route"] == "/v1/predict"}
    assert counts == {"200": 4, "400": 1, "401": 1}
    batch_rows = {s.name: s.value for s in families["raylane_serve_batch_rows"].samples if s.name.endswith(("_sum", "_count"))}
    assert batch_rows == {"raylane_serve_batch_rows_sum": 12, "raylane_serve_batch_rows_count": 4}
    latency_count = [s.value for s in families["raylane_serve_request_latency_seconds"].samples
                     if s.name.endswith("_count") and s.labels["route"] == "/v1/predict"]
    assert latency_count == [6]
    info = [s for s in families["raylane_serve_model_info"].samples]
    assert [(s.labels["version"], s.value) for s in info] == [(scorer.identity.version, 1)]


@pytest.mark.parametrize("value_of", [lambda rule: 2**63 - 1, lambda rule: -(2**63), lambda rule: 0, lambda rule: None],
                         ids=["int64-max", "int64-min", "zero", "null"])
def test_extreme_valid_values_score(client, scorer, raw_rows, value_of):
    import pyarrow as pa

    from framework.serve._rows import row_schema_for_bundle

    rules = row_schema_for_bundle(scorer).columns
    row = {}
    for name, rule in rules.items():
        value = value_of(rule)
        row[name] = ("é✓" * 300 if value == 0 else "") if pa.types.is_string(rule.arrow_type) and value is not None else value
    reply = _post(client, {"rows": [row]})
    assert reply.status_code == 200, reply.text
    assert 0.0 <= reply.json()["scores"][0] <= 1.0
