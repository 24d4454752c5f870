"""Torch models for tabular data, chosen by name, and the bundle a training run produces.

The model contract (built-in and user models alike):

    Model(num_continuous: int, cardinalities: list[int], **hyperparameters)
    model.forward(continuous: FloatTensor[B, num_continuous],
                  categorical: LongTensor[B, len(cardinalities)]) -> FloatTensor[B]   # logits

`categorical[:, j]` holds indices in [0, cardinalities[j]); index 0 means missing. `forward`
returns logits (the loss is BCEWithLogits); either input may have zero columns, not both.
A model is named in the `model:` section of a training config, by a built-in name (`mlp`,
`dlrm`, `dcn_v2`) or by an import path (`my_package.my_module:MyModel` or
`my_package.my_module.MyModel`) to a torch.nn.Module subclass with the signature above. A user
model may set a class attribute `Hyperparameters` (a pydantic model) to have its keys validated;
otherwise its keys are passed through unchecked (they must be JSON values).

Embedding tables: a model that embeds its categorical inputs through `TabularInputs` (or the
`EmbeddingTables` inside it) only declares its tables; training places them (`scaling.embeddings`:
replicated, or sharded by TorchRec), and the bundle holds them whole for plain-torch scoring.

Example:
    >>> from framework.models import build_model, validate_model_config
    >>> config = validate_model_config({"name": "dcn_v2", "cross_layers": 2, "deep": [64]})
    >>> model = build_model(config, num_continuous=13, cardinalities=[1000, 50], seed=0)
    >>> model(torch.zeros(4, 13), torch.zeros(4, 2, dtype=torch.long)).shape
    torch.Size([4])
"""

from framework.models._config import ModelConfig, build_model, validate_model_config
from framework.models._dcn_v2 import DCNv2, DCNv2Hyperparameters
from framework.models._dlrm import DLRM, DLRMHyperparameters
from framework.models._embeddings import EmbeddingTables, TableSpec, embedding_tables_of, tables_on_meta
from framework.models._layers import TabularInputs, mlp_stack
from framework.models._mlp import MLP, MLPHyperparameters
from framework.models._registry import MODELS, resolve_model_class
from framework.models.bundle import Bundle, load_bundle, save_bundle

__all__ = [
    "MODELS", "ModelConfig", "validate_model_config", "build_model", "resolve_model_class",
    "MLP", "MLPHyperparameters", "DLRM", "DLRMHyperparameters", "DCNv2", "DCNv2Hyperparameters",
    "TabularInputs", "EmbeddingTables", "TableSpec", "embedding_tables_of", "tables_on_meta", "mlp_stack", "Bundle", "save_bundle", "load_bundle",
]
