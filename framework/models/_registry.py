"""Model names → classes: the built-ins by short name, anything else by dotted import path.

Example:
    >>> resolve_model_class("dlrm").__name__
    'DLRM'
    >>> resolve_model_class("tests.models.user_model:TinyModel").__name__   # doctest: +SKIP
    'TinyModel'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from torch import nn

from framework.errors import ConfigError
from framework.models._dcn_v2 import DCNv2
from framework.models._dlrm import DLRM
from framework.models._mlp import MLP

__all__ = ["MODELS", "resolve_model_class", "known_model_names"]

MODELS: Mapping[str, type[nn.Module]] = MappingProxyType({"mlp": MLP, "dlrm": DLRM, "dcn_v2": DCNv2})


def known_model_names() -> str:
    """The built-in names, for error messages."""
    return ", ".join(sorted(MODELS))


def resolve_model_class(name: str) -> type[nn.Module]:
    """A built-in name, `package.module:Class` or `package.module.Class` → the model class."""
    if name in MODELS:
        return MODELS[name]
    if ":" in name or "." in name:
        return _import_model_class(name)
    raise ConfigError(
        f"model.name: unknown model {name!r}; known models: {known_model_names()} "
        "(or a dotted import path such as my_package.my_module:MyModel)"
    )


def _split_path(path: str) -> tuple[str, list[str]]:
    module, sep, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not attribute or ":" in attribute:
        raise ConfigError(
            f"model.name: {path!r} is not a valid import path; expected my_package.my_module:MyModel"
        )
    return module, attribute.split(".")


def _import_model_class(path: str) -> type[nn.Module]:
    module_name, attributes = _split_path(path)
    try:
        target = importlib.import_module(module_name)
    except Exception as error:  # any failure while importing user code is a config problem
        raise ConfigError(
            f"model.name: cannot import module {module_name!r} for {path!r} ({type(error).__name__}: {error}); "
            "check the path and that the package is installed or on PYTHONPATH"
        ) from error
    for attribute in attributes:
        if not hasattr(target, attribute):
            raise ConfigError(f"model.name: module {module_name!r} has no attribute {attribute!r} (from {path!r})")
        target = getattr(target, attribute)
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise ConfigError(f"model.name: {path!r} is {target!r}; expected a torch.nn.Module subclass")
    return target
