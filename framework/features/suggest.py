"""`features suggest`: a starting feature pipeline chosen from the data's statistics, as commented YAML.

One streaming pass gathers the statistics (`_suggest_stats`); the rules below turn them into ops, and
every column's YAML comment names the statistics that chose them. Only columns with role `feature`
get ops; `id` and `label` (and role `passthrough`) are passthrough; `pii` and `ignore` are never read.

Rules (the thresholds are the module constants):
- float → numeric. integer → categorical when its name ends in an id word (ID_NAME_TOKENS, e.g.
  `store_id`, `userId`) or when fewer than ID_NEIGHBOUR_SHARE of the sampled rows hold a value v with
  v - 1 or v + 1 also sampled (codes and hashed ids are sparse in their range; counts are dense);
  otherwise numeric. string/binary → categorical. bool, dates, timestamps: no op reads them → skipped.
- numeric: normalize, then fill_missing(0) — 0 is the mean after normalize — with add_indicator when
  the column has missing values. Heavy-tailed (skewness > HEAVY_SKEW or p99/p50 > HEAVY_TAIL_RATIO)
  and never negative: clip(lower 0) + log1p first.
- categorical: hash_bucket when the distinct count exceeds HASH_DISTINCT or HASH_DISTINCT_SHARE of the
  present rows (a vocabulary would be too big to fit, or mostly single values); num_buckets is the
  next power of two ≥ 2 × the values seen twice or more, within HASH_BUCKETS. Otherwise categorify
  with freq_threshold = the largest of FREQ_THRESHOLDS whose rare values (seen fewer times) hold at
  most MAX_OOV_SHARE of the present rows (2 when none does), and NUM_OOV_BUCKETS.
- constant or all-missing columns carry no information → skipped.

Example:
    >>> yaml_scalar("I1"), yaml_scalar("prix (€)"), yaml_scalar("true"), yaml_scalar("a\\nb")
    ('I1', '"prix (€)"', '"true"', '"a\\\\x0ab"')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from framework.data.contract import Contract, load_contract
from framework.data.parquet_io import list_parquet_files
from framework.errors import ConfigError, DataError
from framework.features._suggest_stats import ColumnProfile, profile_columns, stat_kind

__all__ = ["ColumnChoice", "Suggestion", "suggest_features", "yaml_scalar"]

HEAVY_SKEW = 2.0
HEAVY_TAIL_RATIO = 20.0
ID_NAME_TOKENS = frozenset({"id", "ids", "key", "code", "hash", "uuid"})
ID_NEIGHBOUR_SHARE = 0.5
ID_MIN_SAMPLE = 200  # fewer sampled values cannot tell codes from counts: numeric (the safe side)
HASH_DISTINCT = 1_000_000
HASH_DISTINCT_SHARE = 0.5
FREQ_THRESHOLDS = (2, 3, 5, 10, 20, 50, 100)
MAX_OOV_SHARE = 0.05
NUM_OOV_BUCKETS = 4
HASH_BUCKETS = (1 << 10, 1 << 20)
DISTINCT_CAPACITY = 8192  # distinct counts are exact up to this many values, estimated beyond


@dataclass(frozen=True)
class ColumnChoice:
    """What was decided for one column; `comment` is its YAML comment (statistics → ops)."""

    name: str
    kind: str  # numeric | categorical | hashed | skipped
    comment: str
    tag: str = ""  # skipped: why, in a word (pii, ignore, bool, constant, ...)
    log: bool = False  # numeric: clip(lower 0) + log1p before normalize
    indicator: bool = False  # numeric: fill_missing adds <col>_missing
    freq_threshold: int | None = None  # categorical
    num_buckets: int | None = None  # hashed


@dataclass(frozen=True)
class Suggestion:
    """A suggested pipeline: `mapping` is the `features:` mapping, `yaml_text` the commented file.

    Example:
        >>> suggestion = suggest_features("data/train", "data/train/contract.yaml")  # doctest: +SKIP
        >>> FeaturePipeline.from_yaml_dict(suggestion.mapping).fit("data/train")  # doctest: +SKIP
    """

    mapping: dict
    yaml_text: str
    choices: tuple[ColumnChoice, ...]
    rows: int

    def choice(self, name: str) -> ColumnChoice:
        return next(c for c in self.choices if c.name == name)

    def summary(self) -> str:
        kinds = [c.kind for c in self.choices]
        logged = sum(c.log for c in self.choices)
        skipped = [f"{c.name} ({c.tag})" for c in self.choices if c.kind == "skipped"]
        listed = ", ".join(skipped[:8]) + (", ..." if len(skipped) > 8 else "")
        return (f"{kinds.count('numeric')} numeric ({logged} with log1p), {kinds.count('categorical')} categorical, "
                f"{kinds.count('hashed')} hashed; skipped {len(skipped)}{': ' + listed if skipped else ''}; "
                f"from {self.rows:,} rows")

    def write(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write `yaml_text` to `path` (atomically); an existing file is replaced only with `overwrite`."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise ConfigError(f"{path}: exists; refusing to replace it (use --force / overwrite=True)")
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(self.yaml_text, encoding="utf-8")
        os.replace(staging, path)
        return path


# -- YAML text ---------------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if char.isprintable():  # line/paragraph separators, BOM, controls and tabs are not: escaped
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar that reads back as exactly this string, in flow context too: plain when
    it is a simple name, else double-quoted with YAML escapes."""
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text and text.lower() not in ("y", "n"):  # YAML 1.1 booleans
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


def _flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return yaml_scalar(value) if isinstance(value, str) else repr(value)


def _commented(text: str, comment: str, width: int = 44) -> str:
    return f"{text.ljust(width)}  # {comment}" if comment else text


def _printable(text: str) -> str:
    """Text safe inside a one-line comment."""
    return "".join(c if c.isprintable() else _escape(c) for c in text)


# -- the rules -------------------------------------------------------------------------------------
def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _id_token(name: str) -> str | None:
    """The last word of a name (snake, kebab, camel case), when it says the column is an identifier."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return words[-1].lower() if words and words[-1].lower() in ID_NAME_TOKENS else None


def _integer_is_code(profile: ColumnProfile) -> tuple[bool, str]:
    token = _id_token(profile.name)
    if token:
        return True, f"name ends in {token!r}"
    if len(profile.sample) < ID_MIN_SAMPLE:
        return False, f"only {len(profile.sample)} sampled values: too few to tell codes from counts"
    share = profile.neighbour_share()
    if share < ID_NEIGHBOUR_SHARE:
        return True, f"neighbour share {share:.2f} < {ID_NEIGHBOUR_SHARE}: codes"
    return False, f"neighbour share {share:.2f} >= {ID_NEIGHBOUR_SHARE}: a quantity"


def _numeric_stats(profile: ColumnProfile, why: str, skew: float, ratio: float | None) -> str:
    parts = [str(profile.arrow_type), why, f"{profile.missing_share:.1%} missing",
             f"{profile.infinite:,} ±inf" if profile.infinite else "", f"min {_number(profile.minimum)}",
             f"skew {skew:.2f}", f"p99/p50 {'n/a' if ratio is None else f'{ratio:.3g}'}"]
    return ", ".join(p for p in parts if p)


def _numeric_choice(profile: ColumnProfile, why: str, indicator_free: bool) -> ColumnChoice:
    name = profile.name
    skew, p50, p99 = profile.skewness(), profile.quantile(0.5), profile.quantile(0.99)
    ratio = p99 / p50 if p50 > 0 else None
    tailed = skew > HEAVY_SKEW or (ratio is not None and ratio > HEAVY_TAIL_RATIO)
    heavy = tailed and profile.minimum >= 0
    unusable = profile.missing + profile.infinite  # ±inf becomes missing (nonfinite: missing)
    indicator = unusable > 0 and indicator_free
    ops = (["clip", "log1p"] if heavy else []) + ["normalize", "fill_missing" + (" (indicator)" if indicator else "")]
    stats = _numeric_stats(profile, why, skew, ratio)
    if tailed and not heavy:
        stats += " (heavy-tailed but negative values: no log1p)"
    if unusable and not indicator_free:
        stats += f" ({name}_missing is taken: no indicator)"
    return ColumnChoice(name, "numeric", f"{yaml_scalar(name)}: {stats} → {' + '.join(ops)}", log=heavy, indicator=indicator)


def _freq_threshold(profile: ColumnProfile) -> tuple[int, str]:
    """The threshold and the statistic behind it: what it sends out of vocabulary, and what the next
    larger threshold would have."""
    shares = {t: profile.sketch.rare_share(t, profile.present) for t in FREQ_THRESHOLDS}
    fitting = [t for t in FREQ_THRESHOLDS if shares[t] <= MAX_OOV_SHARE]
    threshold = fitting[-1] if fitting else FREQ_THRESHOLDS[0]
    why = f"values seen < {threshold} times hold {shares[threshold]:.1%} of rows"
    if not fitting:
        return threshold, why + f" (over {MAX_OOV_SHARE:.0%} even at {threshold}: the floor)"
    larger = FREQ_THRESHOLDS.index(threshold) + 1
    if larger < len(FREQ_THRESHOLDS):
        why += f" (< {FREQ_THRESHOLDS[larger]}: {shares[FREQ_THRESHOLDS[larger]]:.1%}, over {MAX_OOV_SHARE:.0%})"
    return threshold, why


def _categorical_choice(profile: ColumnProfile, why: str) -> ColumnChoice:
    name, sketch = profile.name, profile.sketch
    distinct = sketch.distinct()
    share = distinct / profile.present
    stats = (f"{profile.arrow_type}{', ' + why if why else ''}, {profile.missing_share:.1%} missing, "
             f"{'' if sketch.exact else '~'}{distinct:,.0f} distinct ({share:.1%} of present rows)")
    if distinct > HASH_DISTINCT or share > HASH_DISTINCT_SHARE:
        repeated = sketch.values_at_least(2)
        wanted = 1 << max(0, int(2 * repeated) - 1).bit_length()
        buckets = min(max(wanted, HASH_BUCKETS[0]), HASH_BUCKETS[1])
        rule = f"> {HASH_DISTINCT:,}" if distinct > HASH_DISTINCT else f"> {HASH_DISTINCT_SHARE:.0%} of rows"
        comment = (f"{stats} {rule}; {repeated:,.0f} values seen twice or more → hash_bucket "
                   f"(num_buckets {buckets}: power of two >= 2 x those, {HASH_BUCKETS[0]} to {HASH_BUCKETS[1]})")
        return ColumnChoice(name, "hashed", f"{yaml_scalar(name)}: {comment}", num_buckets=buckets)
    threshold, why = _freq_threshold(profile)
    comment = f"{stats}; {why} → categorify (freq_threshold {threshold})"
    return ColumnChoice(name, "categorical", f"{yaml_scalar(name)}: {comment}", freq_threshold=threshold)


def _skipped(name: str, tag: str, why: str) -> ColumnChoice:
    return ColumnChoice(name, "skipped", f"{yaml_scalar(name)}: {why} → no op", tag=tag)


def _type_skip(name: str, data_type: pa.DataType) -> ColumnChoice:
    if pa.types.is_boolean(data_type):
        return _skipped(name, "bool", "bool: no feature op reads bool (cast it to int8 upstream to use it)")
    if pa.types.is_temporal(data_type):
        return _skipped(name, str(data_type), f"{data_type}: no feature op reads dates or times "
                                              "(derive e.g. day of week or age in days upstream)")
    return _skipped(name, str(data_type), f"{data_type}: no feature op reads this type")


def _feature_choice(name: str, data_type: pa.DataType, profile: ColumnProfile, taken: set[str]) -> ColumnChoice:
    kind = stat_kind(data_type)
    if kind is None:
        return _type_skip(name, data_type)
    if profile.present == 0 or (kind != "string" and profile.minimum is None):
        return _skipped(name, "all missing", f"{data_type}, no present finite value")
    constant = profile.sketch.distinct() <= 1 if kind == "string" else profile.minimum == profile.maximum
    if constant:
        return _skipped(name, "constant", f"{data_type}, a single value")
    if kind == "string":
        return _categorical_choice(profile, "")
    if kind == "float":
        return _numeric_choice(profile, "", f"{name}_missing" not in taken)
    is_code, why = _integer_is_code(profile)
    return _categorical_choice(profile, why) if is_code else _numeric_choice(profile, why, f"{name}_missing" not in taken)


# -- the pipeline ----------------------------------------------------------------------------------
def _numeric_ops(numeric: list[ColumnChoice]) -> list[tuple[dict, str]]:
    logged = [c.name for c in numeric if c.log]
    ops = []
    if logged:
        ops.append(({"op": "clip", "columns": logged, "lower": 0}, "keeps log1p defined if new data goes negative"))
        ops.append(({"op": "log1p", "columns": logged},
                    f"heavy-tailed (skew > {HEAVY_SKEW:g} or p99/p50 > {HEAVY_TAIL_RATIO:g}) and min >= 0"))
    if numeric:
        ops.append(({"op": "normalize", "columns": [c.name for c in numeric]}, "every numeric feature: mean 0, std 1"))
    for indicator, why in ((True, "missing seen: missing → 0 (the mean) plus <col>_missing"),
                           (False, "no missing seen: new data's missing → 0 (the mean)")):
        columns = [c.name for c in numeric if c.indicator == indicator]
        if columns:
            extra = {"add_indicator": True} if indicator else {}
            ops.append(({"op": "fill_missing", "columns": columns, "value": 0, **extra}, why))
    return ops


def _categorical_ops(categorical: list[ColumnChoice], hashed: list[ColumnChoice]) -> list[tuple[dict, str]]:
    why = (f"largest of {', '.join(map(str, FREQ_THRESHOLDS))} leaving <= {MAX_OOV_SHARE:.0%} of rows out of "
           f"vocabulary; those share {NUM_OOV_BUCKETS} OOV buckets")
    ops = [({"op": "categorify", "columns": [c.name for c in categorical if c.freq_threshold == threshold],
             "freq_threshold": threshold, "num_oov_buckets": NUM_OOV_BUCKETS}, why)
           for threshold in sorted({c.freq_threshold for c in categorical})]
    return ops + [({"op": "hash_bucket", "columns": [c.name for c in hashed if c.num_buckets == buckets],
                    "num_buckets": buckets}, "too many distinct values for a vocabulary")
                  for buckets in sorted({c.num_buckets for c in hashed})]


def _sections(choices: list[ColumnChoice]) -> list[tuple[list[ColumnChoice], list[tuple[dict, str]]]]:
    """(the columns, their ops each with its comment): numeric, then categorical and hashed columns."""
    numeric, categorical, hashed = ([c for c in choices if c.kind == kind] for kind in ("numeric", "categorical", "hashed"))
    return [(numeric, _numeric_ops(numeric)), (categorical + hashed, _categorical_ops(categorical, hashed))]


def _roles(contract: Contract, label: str | None, id_column: str | None) -> tuple[dict[str, str], str | None]:
    """(passthrough column → why, the id column): id and label (the given ones and the contract's),
    then the columns of role passthrough."""
    for option, name in (("label", label), ("id_column", id_column)):
        if name is not None and name not in contract.names():
            raise ConfigError(f"{option}: {name!r} is not a column of contract {contract.name!r}")
    id_column = id_column or contract.role_of("id")
    passthrough = {}
    for name, why in ((id_column, "the row id"), (contract.role_of("id"), "role id"), (label, "the training label"),
                      (contract.role_of("label"), "role label"), *((n, "role passthrough") for n in contract.names("passthrough"))):
        if name is not None and name not in passthrough:
            passthrough[name] = why
    return passthrough, id_column


def _render(mapping: dict, choices: list[ColumnChoice], passthrough: dict[str, str], header: list[str]) -> str:
    lines = [f"# {_printable(line)}" for line in header] + ["features:"]
    infinite = mapping["nonfinite"] == "missing"
    lines.append(_commented(f"  nonfinite: {mapping['nonfinite']}", "±inf seen in a float feature: treated as missing"
                            if infinite else "no ±inf seen in the float features: new ones stop the job"))
    why = "; ".join(f"{yaml_scalar(n)}: {w}" for n, w in passthrough.items())
    lines.append(_commented(f"  passthrough: {_flow(mapping['passthrough'])}", why or "no id or label in the contract"))
    if "id_column" in mapping:
        lines.append(_commented(f"  id_column: {yaml_scalar(mapping['id_column'])}", "row id: decides target-encoding folds"))
    lines.append("  ops:")
    for columns, ops in _sections(choices):
        lines += [f"    # {c.comment}" for c in columns]
        lines += [_commented(f"    - {_flow(op)}", comment) for op, comment in ops]
    lines += [f"    # {c.comment}" for c in choices if c.kind == "skipped"]
    return "\n".join(lines) + "\n"


def _choices(contract: Contract, features: list, profiles: dict[str, ColumnProfile],
             passthrough: dict[str, str]) -> list[ColumnChoice]:
    """A choice per feature column, then the pii and ignore columns (never read)."""
    taken = set(contract.names())
    choices = [_feature_choice(c.name, c.arrow_type, profiles.get(c.name), taken) for c in features]
    salted = " (only a hash_bucket with salt_env may read a pii column)"
    choices += [_skipped(c.name, c.role, f"role {c.role}: never read" + (salted if c.role == "pii" else ""))
                for c in contract.columns if c.role in ("pii", "ignore") and c.name not in passthrough]
    if not any(c.kind != "skipped" for c in choices):
        found = "; ".join(c.comment for c in choices) or "none has role feature"
        raise DataError(f"contract {contract.name!r}: no column of role feature can be a feature ({found})")
    return choices


def suggest_features(data, contract: Contract | str | Path, *, label: str | None = None, id_column: str | None = None,
                     where=None, sample_rows: int = 100_000, seed: int = 0) -> Suggestion:
    """Suggest the `features:` section for `data` (a Parquet file, directory, glob, list or ParquetFiles)
    described by `contract` (a Contract or its YAML path), from one streaming pass over the data.

    `label` and `id_column` name the training config's label and row id when they differ from the
    contract's roles; `where` keeps one partition ({"event_date": "2026-01-03"}). Statistics that need
    a sample use a uniform sample of `sample_rows` rows drawn with `seed`, so the result is repeatable.
    Raises DataError when no column can be a feature.

    Example:
        >>> suggestion = suggest_features("data/train", load_contract("data/train/contract.yaml"), label="label")  # doctest: +SKIP
        >>> Path("runs/x/features.yaml").write_text(suggestion.yaml_text)  # doctest: +SKIP
    """
    if sample_rows < 1:
        raise ConfigError(f"sample_rows: got {sample_rows}; expected a positive number of rows")
    contract = contract if isinstance(contract, Contract) else load_contract(contract)
    files = list_parquet_files(data, where, contract.arrow_schema())
    passthrough, id_column = _roles(contract, label, id_column)
    features = [c for c in contract.columns if c.role == "feature" and c.name not in passthrough]
    readable = {c.name: c.arrow_type for c in features if stat_kind(c.arrow_type)}
    rows, profiles = profile_columns(files, readable, sample_rows, seed, DISTINCT_CAPACITY)
    if rows == 0:
        raise DataError(f"{files.root or data}: no rows to suggest features from")
    choices = _choices(contract, features, profiles, passthrough)
    nonfinite = "missing" if any(profiles[c.name].infinite for c in choices if c.kind == "numeric") else "error"
    mapping = {"nonfinite": nonfinite, "passthrough": list(passthrough)}
    if id_column is not None:
        mapping["id_column"] = id_column
    mapping["ops"] = [op for _, ops in _sections(choices) for op, _ in ops]
    header = [f"Feature pipeline suggested by raylane (features suggest) from {len(files.paths)} file(s) under "
              f"{files.root or data} ({rows:,} rows), contract {contract.name!r}.",
              f"Skew, quantiles and neighbour shares from a uniform sample of {min(rows, sample_rows):,} rows "
              f"(seed {seed}); distinct counts exact up to {DISTINCT_CAPACITY:,} values, estimated (~) beyond.",
              "Each comment names the statistics behind a choice; the rules are in framework/features/suggest.py."]
    return Suggestion(mapping, _render(mapping, choices, passthrough, header), tuple(choices), rows)
