"""No import cycle inside mne_m2s, counting imports inside functions too."""

import ast
from pathlib import Path

import mne_m2s

ROOT = Path(mne_m2s.__file__).resolve().parent


def _module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(name, modules):
    """The longest prefix of a dotted name that is a module of the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imports(module, path, modules):
    """Modules of the package that ``module`` imports (anywhere in its body)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                out.add(target)
    return out


def _graph():
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "active"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "active":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_walker_sees_imports_and_finds_cycles():
    graph = _graph()
    assert "mne_m2s.inputs" in graph["mne_m2s.classifier"]
    assert "mne_m2s.modalities" in graph["mne_m2s.inputs"]
    assert "mne_m2s.features" in graph["mne_m2s.inputs"]  # a function-level import
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_features_is_a_leaf():
    """features/ imports only the vocabulary and the utilities of the package."""
    graph = _graph()
    allowed = ("mne_m2s.features", "mne_m2s.utils", "mne_m2s.modalities")
    for module, targets in graph.items():
        if module.startswith("mne_m2s.features"):
            bad = [t for t in targets if not t.startswith(allowed)]
            assert not bad, f"{module} imports {bad}"
    # the vocabulary is a leaf itself
    assert {t for t in graph["mne_m2s.modalities"]} <= {"mne_m2s.utils", "mne_m2s.utils._checks"}
