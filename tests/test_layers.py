"""The package's layers, read from the import statements of every module (parsed, never imported).

Layers, lowest first; a module may import its own unit and the units of lower layers, nothing else:

0. ``anaplan_exporter.anaplan``: the Anaplan client;
   ``anaplan_exporter.calendar_rhythm``: weekly and monthly run patterns (pure values, read by the snapshot);
1. ``anaplan_exporter.snapshot`` (what a poll found) and ``anaplan_exporter.config`` (the configuration);
2. ``anaplan_exporter.polling``, ``anaplan_exporter.serving`` and ``anaplan_simulator``, which do not import
   one another; the simulator takes only the client's vocabulary, ``anaplan_exporter.anaplan.models``, and its
   bounded-nesting parser, ``anaplan_exporter.anaplan.nesting``;
3. the application: the rest of ``anaplan_exporter`` (``app``, ``cli``, ``demo``, ``reload``, ``logs``).

Every import counts, also those under ``TYPE_CHECKING`` and inside functions. Besides: no circle between
modules, and every name is imported from the module that defines it (no re-export shims), in the package and
in the tests, benchmarks and tools that use it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "exporter"
USERS = ("exporter", "tests", "bench", "grafana", "deploy")
"""Folders whose imports of the package must name the defining module."""
PACKAGES = ("anaplan_exporter", "anaplan_simulator")

LAYERS: tuple[tuple[str, ...], ...] = (
    ("anaplan_exporter.anaplan",),
    ("anaplan_exporter.calendar_rhythm",),
    ("anaplan_exporter.snapshot", "anaplan_exporter.config"),
    ("anaplan_exporter.polling", "anaplan_exporter.serving", "anaplan_simulator"),
    ("anaplan_exporter",),
)
SIMULATOR_MAY_IMPORT = {"anaplan_exporter.anaplan.models", "anaplan_exporter.anaplan.nesting"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    source: str
    """The module holding the import statement."""
    target: str
    """The module imported."""
    names: tuple[str, ...]
    """The names taken from it (``from target import a, b``); empty for ``import target``."""
    line: int


def _modules() -> dict[str, Module]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((SOURCES / package).rglob("*.py")):
            parts = path.relative_to(SOURCES).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
    return modules


MODULES = _modules()


def _imports(name: str, path: Path, tree: ast.Module, package: str) -> Iterator[Import]:
    """The package's modules imported by one file (``package``: where its relative imports start)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield Import(name, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                continue
            names = tuple(alias.name for alias in node.names)
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            for submodule in submodules:
                yield Import(name, f"{target}.{submodule}", (), node.lineno)
            rest = tuple(n for n in names if n not in submodules)
            if rest or not submodules:
                yield Import(name, target, rest, node.lineno)


def _package_imports() -> list[Import]:
    return [i for m in MODULES.values() for i in _imports(m.name, m.path, m.tree, m.package)]


def _unit(module: str) -> tuple[int, str]:
    """The layer and unit of a module: the longest unit that contains it."""
    found = [
        (index, unit)
        for index, units in enumerate(LAYERS)
        for unit in units
        if module == unit or module.startswith(unit + ".")
    ]
    assert found, f"{module} is in no layer"
    return max(found, key=lambda pair: len(pair[1]))


def _where(imp: Import) -> str:
    return f"{MODULES[imp.source].path.relative_to(REPO)}:{imp.line}"


def test_every_module_imports_only_its_own_unit_and_lower_layers() -> None:
    upward = []
    for imp in _package_imports():
        layer, unit = _unit(imp.source)
        target_layer, target_unit = _unit(imp.target)
        if target_unit != unit and target_layer >= layer:
            upward.append(
                f"{_where(imp)}: {imp.source} (layer {layer}) imports {imp.target} (layer {target_layer})"
            )
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_simulator_takes_only_the_client_models_from_the_exporter() -> None:
    assert "anaplan_simulator.server" in MODULES, "the simulator is a top-level package"
    wrong = [
        f"{_where(imp)}: {imp.source} imports {imp.target}"
        for imp in _package_imports()
        if imp.source.startswith("anaplan_simulator")
        and imp.target.startswith("anaplan_exporter")
        and imp.target not in SIMULATOR_MAY_IMPORT
    ]
    wrong += [
        f"{_where(imp)}: {imp.source}, which the simulator imports, imports {imp.target}"
        for imp in _package_imports()
        if imp.source in SIMULATOR_MAY_IMPORT
    ]
    assert not wrong, "\n".join(wrong)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or one that imports itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_between_modules() -> None:
    edges: dict[str, set[str]] = {}
    for imp in _package_imports():
        if imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    assert not _cycles(edges)


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _defined(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level other than by importing them."""
    names: set[str] = set()

    def bind(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                bind(element)

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                bind(node.target)
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
                for part in ("body", "orelse", "finalbody"):
                    walk(getattr(node, part, []))
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)

    walk(tree.body)
    return names


def _user_files() -> Iterator[tuple[str, Path, ast.Module, str]]:
    """Every Python file that may import the package, with its module name and import base package."""
    for folder in USERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(SOURCES if folder == "exporter" else REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            yield name, path, ast.parse(path.read_text(encoding="utf-8")), package


def test_every_name_is_imported_from_the_module_that_defines_it() -> None:
    defined = {name: _defined(module.tree) for name, module in MODULES.items()}
    wrong = []
    for name, path, tree, package in _user_files():
        for imp in _imports(name, path, tree, package):
            assert imp.target in MODULES, f"{path.relative_to(REPO)}:{imp.line}: no module {imp.target}"
            for imported in imp.names:
                if imported != "*" and imported not in defined[imp.target]:
                    wrong.append(
                        f"{path.relative_to(REPO)}:{imp.line}: {imported} is not defined in {imp.target}"
                    )
    assert not wrong, "imported through a module that does not define it:\n" + "\n".join(wrong)


def test_no_module_exists_to_re_export_names() -> None:
    """A module uses every name it imports (``__all__`` does not count as a use) and lists in ``__all__``
    only names it defines."""
    wrong = []
    for module in MODULES.values():
        used = {node.id for node in ast.walk(module.tree) if isinstance(node, ast.Name)}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound != "annotations" and bound not in used:
                        wrong.append(
                            f"{module.path.relative_to(REPO)}:{node.lineno}: {bound} is imported, never used"
                        )
        foreign = _all_names(module.tree) - _defined(module.tree)
        if foreign:
            wrong.append(
                f"{module.path.relative_to(REPO)}: __all__ lists names it imports: {sorted(foreign)}"
            )
    assert not wrong, "\n".join(wrong)


def _all_names(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            return {
                e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
    return set()
