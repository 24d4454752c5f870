"""Data: Parquet IO, schema contracts and their checks, synthetic data.

Example:
    >>> from framework.data import load_contract, check_dataset
    >>> report = check_dataset(load_contract("data/contract.yaml"), "data/")
    >>> report.ok
    True
"""

from framework.data.check import CheckReport, Problem, check_dataset, check_table
from framework.data.contract import ColumnSpec, Contract, load_contract, save_contract
from framework.data.parquet_io import list_parquet_files, read_table

__all__ = [
    "CheckReport",
    "ColumnSpec",
    "Contract",
    "Problem",
    "check_dataset",
    "check_table",
    "list_parquet_files",
    "load_contract",
    "read_table",
    "save_contract",
]
