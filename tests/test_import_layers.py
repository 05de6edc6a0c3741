"""The package's imports go one way: no import cycle between modules, and every import
between layers is one docs/architecture.md allows.

Every ``import`` statement counts, also those inside functions and under
``TYPE_CHECKING``: an import deferred to call time is still an arrow between modules.
The one exception: an import only under ``TYPE_CHECKING`` (never run) may also reach the
layers of ``TYPING_ALLOWED``, for annotations.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "timecontrast"

# Layer -> the other layers it may import (docs/architecture.md, "Layers"). A layer is the
# first name below ``timecontrast`` (a subpackage or a top-level module). Any module may
# import the package root (``timecontrast.__version__``).
# ``progress`` (bars and progress lines of long loops) is a leaf like ``errors``: every layer above io uses it.
_BASE = {"errors", "io", "progress"}
ALLOWED: dict[str, set[str]] = {
    "io": set(),
    "errors": {"io"},
    "progress": {"errors", "io"},
    "config": _BASE,
    "devices": _BASE,
    "losses": _BASE,
    "data": _BASE,
    "capture": _BASE,
    "sim": _BASE | {"data"},
    "models": _BASE | {"config"},
    "training": _BASE | {"config", "devices", "data", "models", "losses"},
    "export": _BASE | {"data"},
    "inference": _BASE | {"config", "devices", "data", "models", "export"},
    "evaluation": _BASE | {"config", "devices", "data", "models", "export", "inference"},
    "viz": _BASE | {"config", "devices", "data", "models", "export", "inference"},
    "rl": _BASE | {"config", "devices", "data", "models", "export", "inference", "sim", "training"},
    "__main__": {"cli"},
}
ALLOWED["cli"] = set(ALLOWED) - {"cli", "__main__"}  # everything

# Layer -> the layers it may also import under ``if TYPE_CHECKING:`` only, for annotations:
# data's factories (build_batches, build_sampler, ...) take the config tree, typed TCNConfig.
TYPING_ALLOWED: dict[str, set[str]] = {"data": {"config"}}

# Import cycles that exist today and are being removed elsewhere; empty when there are none.
KNOWN_CYCLES: list[set[str]] = []


def module_files(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _typing_only_imports(tree: ast.AST) -> set[int]:
    """``id()`` of the import statements in the body of an ``if TYPE_CHECKING:``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                found.update(id(n) for n in ast.walk(statement) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return found


def import_graph(package_dir: Path, *, runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports (``from a import b`` counts as
    importing module ``a.b`` when that is a module, else ``a``). ``runtime_only``: leave
    out the imports under ``if TYPE_CHECKING:``."""
    modules = module_files(package_dir)
    root = package_dir.name
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skipped = _typing_only_imports(tree) if runtime_only else set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from . import x, from ..a import b
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in modules else module)
        graph[name] = {t for t in targets if t.split(".")[0] == root and t in modules and t != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(component)
    return cycles


def layer(module: str) -> str | None:
    """``timecontrast.viz.plots`` -> ``viz``; the package root -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_violations(graph: dict[str, set[str]], runtime_graph: dict[str, set[str]] | None = None) -> list[str]:
    """The imports of ``graph`` the layers forbid; an import missing from ``runtime_graph``
    (under ``TYPE_CHECKING`` only) may also reach the layers of ``TYPING_ALLOWED``."""
    runtime_graph = graph if runtime_graph is None else runtime_graph
    out = []
    for module, targets in sorted(graph.items()):
        source = layer(module)
        if source is None:
            continue
        for target in sorted(targets):
            dest = layer(target)
            if dest is None or dest == source:
                continue
            typing_only = target not in runtime_graph.get(module, set())
            if source not in ALLOWED:
                out.append(f"{module}: layer '{source}' is not in the rules (add it to ALLOWED and the docs)")
            elif dest not in ALLOWED[source] and not (typing_only and dest in TYPING_ALLOWED.get(source, set())):
                how = " (under TYPE_CHECKING)" if typing_only else ""
                out.append(f"{module} imports {target}{how}: {source} -> {dest} is not allowed")
    return out


GRAPH = import_graph(PACKAGE_DIR)
RUNTIME_GRAPH = import_graph(PACKAGE_DIR, runtime_only=True)


def test_no_import_cycles():
    cycles = [c for c in import_cycles(GRAPH) if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles (move the shared code into one module both import):\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in cycles
    )


def test_imports_follow_the_layers_of_the_architecture():
    violations = layer_violations(GRAPH, RUNTIME_GRAPH)
    assert not violations, "\n".join(violations)


def test_every_layer_is_in_the_rules():
    layers = {layer(m) for m in GRAPH} - {None}
    assert layers <= set(ALLOWED), f"layers without rules: {sorted(layers - set(ALLOWED))}"


def test_the_graph_sees_every_kind_of_import():
    assert "timecontrast.viz.matching" in GRAPH["timecontrast.viz.panels"]
    assert "timecontrast.viz.panels" in GRAPH["timecontrast.viz.imitation"]  # imported inside a function
    assert "timecontrast.viz.projector" in GRAPH["timecontrast.viz.plots"]  # under TYPE_CHECKING
    assert "timecontrast.models" in GRAPH["timecontrast.inference"]  # from a package's __init__
    assert "timecontrast.viz.projector" not in RUNTIME_GRAPH["timecontrast.viz.plots"]  # only under TYPE_CHECKING
    assert "timecontrast.viz.matching" in RUNTIME_GRAPH["timecontrast.viz.panels"]


@pytest.fixture
def planted(tmp_path):
    """A tiny package ``timecontrast`` with a cycle a -> b -> c -> a and a layer breach."""
    pkg = tmp_path / "timecontrast"
    (pkg / "viz").mkdir(parents=True)
    (pkg / "models").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "viz" / "__init__.py").write_text("")
    (pkg / "viz" / "a.py").write_text("from timecontrast.viz import b\n")
    (pkg / "viz" / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "viz" / "c.py").write_text("import timecontrast.viz.a\n")
    (pkg / "models" / "__init__.py").write_text("from timecontrast.data import x\nfrom ..viz import a\n")
    return pkg


def test_the_checks_find_a_planted_cycle_and_breach(planted):
    graph = import_graph(planted)
    assert import_cycles(graph) == [{"timecontrast.viz.a", "timecontrast.viz.b", "timecontrast.viz.c"}]
    # timecontrast.data does not exist in the planted package: only real modules count.
    assert layer_violations(graph) == ["timecontrast.models imports timecontrast.viz.a: models -> viz is not allowed"]


def test_a_typing_only_import_may_reach_only_the_layers_allowed_for_typing(tmp_path):
    pkg = tmp_path / "timecontrast"
    for layer_name in ("config", "data", "viz"):
        (pkg / layer_name).mkdir(parents=True)
        (pkg / layer_name / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "config" / "schema.py").write_text("class TCNConfig: ...\n")
    (pkg / "viz" / "plots.py").write_text("")
    typed = (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from timecontrast.config.schema import TCNConfig\n"
    )
    (pkg / "data" / "typed.py").write_text(typed)
    (pkg / "data" / "typed_viz.py").write_text(
        "import typing\n\nif typing.TYPE_CHECKING:\n    import timecontrast.viz.plots\n"
    )
    (pkg / "data" / "runtime.py").write_text("from timecontrast.config.schema import TCNConfig\n")
    graph, runtime = import_graph(pkg), import_graph(pkg, runtime_only=True)
    assert "timecontrast.config.schema" in graph["timecontrast.data.typed"]  # still an arrow (cycles)
    assert "timecontrast.config.schema" not in runtime["timecontrast.data.typed"]
    assert layer_violations(graph, runtime) == [
        "timecontrast.data.runtime imports timecontrast.config.schema: data -> config is not allowed",
        "timecontrast.data.typed_viz imports timecontrast.viz.plots (under TYPE_CHECKING): data -> viz is not allowed",
    ]
