"""The import graph between the web application and the worker processes has no circle: ``workers/`` holds
process entry points that import the apps, and nothing in ``webapp/`` imports ``workers/`` (the launcher
starts worker processes by module name, it does not import them)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_nothing_in_webapp_imports_workers():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "webapp").rglob("*.py")
                       for name in _imported(path) if name == "workers" or name.startswith("workers."))
    assert not offenders, offenders

