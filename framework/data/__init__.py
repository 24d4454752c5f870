"""Data: Parquet IO, schema contracts and their checks, contract inference, CSV/TSV import, synthetic data.

Example:
    >>> from framework.data import load_contract, check_dataset
    >>> report = check_dataset(load_contract("data/contract.yaml"), "data/")
    >>> report.ok
    True
"""

from framework.data.check import CheckReport, Problem, check_dataset, check_table
from framework.data.contract import ColumnSpec, Contract, load_contract, save_contract
from framework.data.csv_import import ImportRequest, ImportResult, RejectLimitError, import_csv
from framework.data.infer_contract import InferredContract, infer_contract, write_contract
from framework.data.parquet_io import list_parquet_files, read_table
from framework.data.pii import detect_pii

__all__ = [
    "CheckReport",
    "ColumnSpec",
    "Contract",
    "ImportRequest",
    "ImportResult",
    "InferredContract",
    "Problem",
    "RejectLimitError",
    "check_dataset",
    "check_table",
    "detect_pii",
    "import_csv",
    "infer_contract",
    "list_parquet_files",
    "load_contract",
    "read_table",
    "save_contract",
    "write_contract",
]
