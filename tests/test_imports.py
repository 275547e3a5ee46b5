"""The package's modules import each other without cycles (a cycle works only while every import of it
stays inside a function, and breaks the day one moves to the top)."""
import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from . import x`` names modules; ``from .m import f`` names the module m
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known} or {base}
    return {m for m in found if m in known}


def import_graph() -> nx.DiGraph:
    paths = sorted(SRC.rglob("*.py"))
    known = {module_name(p) for p in paths}
    graph = nx.DiGraph()
    for p in paths:
        # a package's __init__ re-exports its modules: an edge into the package is no edge out of it
        graph.add_edges_from((module_name(p), m) for m in imported_modules(p, known)
                             if not module_name(p).startswith(m + ".") and p.name != "__init__.py")
    return graph


def test_the_import_graph_is_read():
    graph = import_graph()
    assert ("growthpace.train.launch", "growthpace.train.rendezvous") in graph.edges
    assert ("growthpace.train.sft", "growthpace.train.rendezvous") in graph.edges


def test_no_module_imports_one_that_imports_it_back():
    cycles = [c for c in nx.simple_cycles(import_graph()) if len(c) > 1]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles)
