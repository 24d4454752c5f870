"""The modules of `framework` import each other without loops, lazy (function-level) imports included,
so data flows one way: Parquet -> contract -> features -> train -> bundle -> score/serve -> monitor.

The graph is read from the source with `ast`, not by importing: an import inside a function counts as
much as one at the top. `from framework.x import y` counts as importing `framework.x` (and
`framework.x.y` when that is a module)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "framework"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> nx.DiGraph:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("framework"):
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph.add_edges_from((name, target) for target in targets if target in modules and target != name)
    return graph


def test_the_graph_sees_lazy_imports():
    graph = _import_graph()
    assert graph.has_edge("framework.train.trainer", "framework.train._driver")  # imported inside run_training
    assert graph.number_of_edges() > 200


def test_no_module_imports_itself_through_others():
    cycles = list(nx.simple_cycles(_import_graph()))
    assert not cycles, "import loops:\n" + "\n".join(" -> ".join([*cycle, cycle[0]]) for cycle in cycles[:10])


@pytest.mark.parametrize(("upstream", "downstream"), [
    ("framework.monitor.check", "framework.score"),       # monitoring reads bundles, not the batch scorer
    ("framework.registry.versions", "framework.score"),   # the registry knows bundles, not scoring
    ("framework.train._driver", "framework.train.trainer"),
])
def test_the_loops_that_were_untied_stay_untied(upstream, downstream):
    graph = _import_graph()
    assert not [t for t in graph.successors(upstream) if t == downstream or t.startswith(downstream + ".")]
