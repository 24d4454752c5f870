"""Typed errors. Every bad-input path raises one of these, so the CLI can print a
clear message and exit non-zero without a traceback.

Example:
    >>> raise ContractError("data/part-0.parquet: column 'I1': expected int64, found string")
"""

__all__ = ["RaylaneError", "ConfigError", "ContractError", "DataError", "ArtifactError"]


class RaylaneError(Exception):
    """Base class: an error caused by the user's input, with a message that says what to change."""

    exit_code = 2


class ConfigError(RaylaneError):
    """A job config, pipeline YAML or command-line override is invalid."""


class ContractError(RaylaneError):
    """Data does not match its schema contract. `problems` holds every finding."""

    exit_code = 1

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class DataError(RaylaneError):
    """Input data cannot be used as given (missing column, wrong type, non-finite values...)."""


class ArtifactError(RaylaneError):
    """A saved artifact is missing, tampered with, or of an unsupported format version."""
