"""Request rows → a typed Arrow table, checked against the bundle's contract before any scoring.

A request body is `{"rows": [{column: value, ...}, ...]}`. Each row is validated by a pydantic model
built once per bundle from its contract: the pipeline's input columns with their Arrow types and
nullability. NaN and ±Infinity are refused, integers must fit their type, a string column takes only
strings, and keys the contract does not name are refused. Other contract columns (the id, the label,
passthrough columns) may be sent and are ignored.

Errors list field paths and what was expected, never the submitted values, so neither a response
nor a log line repeats a client's feature values.

Example:
    >>> schema = RowSchema({"I1": ColumnRule(pa.int64(), True), "C1": ColumnRule(pa.string(), True)})
    >>> schema.to_table(schema.validate({"rows": [{"I1": 3, "C1": "a"}]})).num_rows
    1
    >>> schema.validate({"rows": [{"I1": "3"}]})          # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    framework.serve._rows.RowsInvalid: rows.0.I1: expected an integer (int64) or null
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pyarrow as pa
from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError
from typing_extensions import NotRequired, Required, TypedDict  # pydantic needs these on Python < 3.12

from framework.errors import ArtifactError

__all__ = ["ColumnRule", "RowSchema", "RowsInvalid", "row_schema_for_bundle", "MAX_LISTED_ERRORS"]

MAX_LISTED_ERRORS = 50
# Any JSON scalar: what the contract's other columns (id, label, passthrough) may carry; they are dropped.
_Scalar = (
    Annotated[int, Strict()]
    | Annotated[float, Strict(), Field(allow_inf_nan=False)]
    | Annotated[str, Strict()]
    | Annotated[bool, Strict()]
    | None
)


@dataclass(frozen=True)
class ColumnRule:
    """What one column accepts: an Arrow type (integer, floating, string or bool) and nullability."""

    arrow_type: pa.DataType
    nullable: bool = True

    def describe(self) -> str:
        kind = (
            "an integer" if pa.types.is_integer(self.arrow_type)
            else "a finite number" if pa.types.is_floating(self.arrow_type)
            else "a boolean" if pa.types.is_boolean(self.arrow_type)
            else "a string"
        )
        return f"expected {kind} ({self.arrow_type})" + (" or null" if self.nullable else ", not null")

    def annotation(self, where: str) -> Any:
        base = _value_annotation(self.arrow_type, where)
        return base | None if self.nullable else base


def _value_annotation(arrow_type: pa.DataType, where: str) -> Any:
    if pa.types.is_boolean(arrow_type):
        return Annotated[bool, Strict()]
    if pa.types.is_integer(arrow_type):
        bits, signed = arrow_type.bit_width, pa.types.is_signed_integer(arrow_type)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        return Annotated[int, Strict(), Field(ge=low, le=high)]
    if pa.types.is_floating(arrow_type):
        return Annotated[float, Strict(), Field(allow_inf_nan=False)]
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return Annotated[str, Strict()]
    raise ArtifactError(f"{where}: type {arrow_type} cannot be sent as JSON; serving takes int, float, bool and string columns")


class RowsInvalid(ValueError):
    """A request whose rows do not match the contract. `problems` = [{"loc": [...], "msg": ...}]."""

    def __init__(self, problems: list[dict], total: int | None = None):
        self.problems = problems
        self.total = len(problems) if total is None else total
        super().__init__("; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:5]))


class RowSchema:
    """Validates request bodies for one bundle and turns valid rows into an Arrow table."""

    def __init__(self, columns: dict[str, ColumnRule], ignored: tuple[str, ...] = ()):
        self.columns = dict(columns)
        self.ignored = tuple(c for c in ignored if c not in self.columns)
        fields = {
            name: (NotRequired if rule.nullable else Required)[rule.annotation(f"column {name!r}")]
            for name, rule in self.columns.items()
        }
        fields.update({name: NotRequired[_Scalar] for name in self.ignored})
        row = TypedDict("Row", fields)  # type: ignore[misc]
        row.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        body = TypedDict("PredictBody", {"rows": Required[Annotated[list[row], Field(min_length=1)]]})  # type: ignore[misc,valid-type]
        body.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        self._adapter = TypeAdapter(body)

    def validate(self, document: Any) -> list[dict]:
        """The rows of a parsed JSON body, or RowsInvalid listing each bad field by path."""
        try:
            return self._adapter.validate_python(document)["rows"]
        except ValidationError as error:
            problems = self._problems(error.errors(include_url=False, include_input=False))
            raise RowsInvalid(problems[:MAX_LISTED_ERRORS], total=len(problems)) from None

    def _problems(self, errors: list[dict]) -> list[dict]:
        problems: dict[tuple, dict] = {}
        for error in errors:
            # A union (the columns that are ignored) reports one error per member: keep one per field.
            loc = list(error["loc"][:3])
            problems.setdefault(tuple(loc), {"loc": loc, "msg": self._message(loc, error["type"]), "type": error["type"]})
        return list(problems.values())

    def _message(self, loc: list, kind: str) -> str:
        # Built from the contract, never from pydantic's text, which may quote the input.
        column = loc[-1] if len(loc) == 3 else None
        if kind == "extra_forbidden":
            return "unknown column; expected a column of the model's contract" if column is not None else "unknown field; the body is {\"rows\": [...]}"
        if kind == "missing":
            return "required (the contract does not allow null)" if column is not None else "required"
        if column in self.columns:
            return self.columns[column].describe()
        if column in self.ignored:
            return "expected a JSON scalar or null"
        if loc == ["rows"]:
            return "expected a non-empty list of rows"
        if len(loc) == 2:
            return "expected an object mapping column names to values"
        return "expected an object {\"rows\": [...]}"

    def to_table(self, rows: list[dict]) -> pa.Table:
        """Columns in contract order, typed as the contract says; absent keys become null."""
        return pa.table(
            {name: pa.array([row.get(name) for row in rows], type=rule.arrow_type) for name, rule in self.columns.items()}
        )


def row_schema_for_bundle(scorer) -> RowSchema:
    """The request schema of a loaded BundleScorer: its input columns typed by the bundle's contract
    (or, for a bundle without one, by the types its pipeline was fitted on, all nullable)."""
    bundle = scorer.bundle
    contract = None
    if bundle.contract_path is not None:
        from framework.data import load_contract

        contract = load_contract(bundle.contract_path)
    rules: dict[str, ColumnRule] = {}
    for name in scorer.input_columns:
        if contract is not None and name in contract.names():
            spec = contract.column(name)
            rules[name] = ColumnRule(spec.arrow_type, spec.nullable)
        else:
            fitted = bundle.pipeline.input_schema_[name]["type"]
            from framework.data.contract import parse_arrow_type

            rules[name] = ColumnRule(parse_arrow_type(fitted), True)
    ignored = tuple(contract.names()) if contract is not None else ()
    return RowSchema(rules, ignored)
