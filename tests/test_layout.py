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



# What workers/ may take from webapp/: the Celery app it starts, and the Django-free contracts its processes
# speak (the serving queues, the presence beat's key, the log format). Anything else would be the apps'
# logic running in an entry point.
WORKERS_MAY_IMPORT = {"webapp.config.celery", "webapp.registry.serving_queues", "webapp.core.worker_beats",
                      "webapp.config.logs"}


def test_workers_import_from_webapp_only_what_starts_their_processes():
    taken = {name for path in (ROOT / "workers").rglob("*.py") for name in _imported(path)
             if name == "webapp" or name.startswith("webapp.")}
    assert taken <= WORKERS_MAY_IMPORT, taken - WORKERS_MAY_IMPORT


def test_the_serving_worker_needs_no_django():
    """It needs only Redis and the media files: the contracts it imports must not pull Django in."""
    contracts = WORKERS_MAY_IMPORT - {"webapp.config.celery"}
    for module in contracts:
        path = ROOT / (module.replace(".", "/") + ".py")
        imported = _imported(path)
        assert not any(name == "django" or name.startswith(("django.", "rest_framework", "channels")) for name in imported), module
        for package in module.split(".")[:-1]:
            init = ROOT / "/".join(module.split(".")[: module.split(".").index(package) + 1]) / "__init__.py"
            assert not any(n.startswith("django") for n in _imported(init)), init


def _layout_rows() -> dict[str, str]:
    """README's layout table: folder -> the rest of its row."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`") and cells[0].endswith("/`"):
            rows[cells[0].strip("`")] = " ".join(cells[1:])
    return rows


PASSED_OVER = {"__init__.py", "__main__.py", "apps.py", "admin.py"}  # what Python and Django name for us


def test_readme_layout_names_every_module_and_only_modules_that_exist():
    import re
    rows = _layout_rows()
    assert {"classifier/", "webapp/", "workers/", "tests/", "benchmarks/"} <= set(rows), sorted(rows)
    problems = []
    for folder, row in rows.items():
        base = ROOT / folder
        named = set(re.findall(r"`([\w/]+\.py)`", row))
        for name in named:
            if not (base / name).is_file():
                problems.append(f"{folder}{name} is in README's layout but not in the tree")
        if folder in ("tests/", "benchmarks/") or not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(base)
            if path.name in PASSED_OVER or "migrations" in relative.parts:
                continue
            inner = relative.parts[0] + "/" if len(relative.parts) > 1 else None
            if inner and (f"{folder}{inner}" in rows or re.search(rf"`{re.escape(inner)}`", row)) \
                    and str(relative) not in named:
                continue  # a subfolder with a row of its own, or named as a whole
            if str(relative) not in named:
                problems.append(f"{folder}{relative} is in the tree but not in README's layout")
    assert not problems, "\n".join(problems)
