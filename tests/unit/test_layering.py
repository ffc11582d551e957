"""The package's layers, read from its imports: each layer imports only layers below it, and no module imports
itself back through others. docs/architecture.md draws the same layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lti_tool"

# Bottom to top. A unit is a top-level module or package of lti_tool.
LAYERS: list[set[str]] = [
    {"paths", "config", "http", "inputs", "masking", "outbound", "db", "migrate", "translatable"},  # foundations
    {"models"},
    {"keys", "providers", "migrations", "telemetry"},
    {"lti"},  # the LTI protocol, and the claim and scope vocabulary everything above uses
    {"grading", "activity_configs", "privacy", "attempt_state"},
    {"activities", "services", "maintenance", "locales"},
    {"learner", "teacher", "callbacks", "admin", "launch", "operations"},  # the surfaces people and systems meet
    {"app", "serving"},
    {"cli", "wsgi"},
]
# Within the surfaces, only the launch routes a user onwards: to the learner's or the teacher's pages.
SIDEWAYS = {("launch", "learner"), ("launch", "teacher")}
# The emulators are test doubles: they may use the tool's lower layers, and only the CLI's demo loads them.
SANDBOX = "sandbox"
SANDBOX_MAY_IMPORT = set().union(*LAYERS[:6])  # up to activities, services and maintenance


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the lti_tool modules it imports (anywhere in it, function-level imports included)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py") if "versions" not in path.parts}
    found: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lti_tool"):
                for alias in node.names:  # `from lti_tool import db` names a module; `from lti_tool.db import x` not
                    target = f"{node.module}.{alias.name}"
                    found[name].add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                found[name].update(alias.name for alias in node.names if alias.name.startswith("lti_tool"))
    return found


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer_of(unit: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if unit in layer)


def test_every_unit_of_the_package_has_a_layer():
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")} - {"", SANDBOX}
    assert units <= set().union(*LAYERS), f"give these a layer here and in docs/architecture.md: " \
                                          f"{sorted(units - set().union(*LAYERS))}"


def test_imports_run_down_the_layers():
    wrong = []
    for module, targets in _imports().items():
        source = _unit(module)
        for target in targets:
            destination = _unit(target)
            if not source or not destination or source == destination:
                continue
            if source == SANDBOX:
                if destination not in SANDBOX_MAY_IMPORT:
                    wrong.append(f"{module} -> {target}")
                continue
            if destination == SANDBOX:
                if source != "cli":
                    wrong.append(f"{module} -> {target}")
                continue
            upward = _layer_of(destination) > _layer_of(source)
            sideways = _layer_of(destination) == _layer_of(source) and (source, destination) not in SIDEWAYS
            if upward or sideways:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_no_module_imports_itself_back_through_others():
    graph = {module: set(targets)
             for module, targets in _imports().items()}
    circles: list[list[str]] = []
    finished: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                circles.append([*path[path.index(target):], target])
            elif target not in finished:
                visit(target, [*path, target])
        finished.add(module)

    for module in sorted(graph):
        if module not in finished:
            visit(module, [module])
    assert circles == []


@pytest.mark.parametrize("module", ["lti_tool.db", "lti_tool.models"])
def test_the_database_layer_loads_no_view_or_service(module):
    loaded = subprocess.run([sys.executable, "-c", f"import sys, {module}; "
                             "print('\\n'.join(m for m in sys.modules if m.startswith('lti_tool')))"],
                            capture_output=True, text=True, check=True).stdout.split()
    above = [name for name in loaded if _unit(name) and _layer_of(_unit(name)) > 1]
    assert above == []
