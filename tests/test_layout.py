"""The contract's import rule: platform/ holds `chorus` and never shadows the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_folder_does_not_shadow_the_standard_library():
    assert not (ROOT / "platform" / "__init__.py").exists()
    out = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "Linux", out.stderr


def test_chorus_package_is_the_platform_folder_and_workers_the_workers_folder():
    import chorus.app
    import chorus.workers.jobs

    assert Path(chorus.app.__file__).resolve().parent == ROOT / "platform"
    assert Path(chorus.workers.jobs.__file__).resolve().parent == ROOT / "workers"


def test_services_and_models_never_import_the_worker_package():
    """Jobs are named by dotted string in chorus.queues; only the CLI starts a worker."""
    offenders = []
    for path in (ROOT / "platform").rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("chorus.workers")]
    assert offenders == []


def test_every_module_imports_first_without_an_import_circle():
    """A circle shows only when a process imports one of its modules first (a worker imports its jobs,
    a command its service): each module is imported first in a fresh interpreter's chorus namespace."""
    script = """
import importlib, pkgutil, sys
import chorus, chorus.workers
names = [m.name for m in pkgutil.walk_packages(chorus.__path__, "chorus.") if not m.name.endswith("__main__")]
names += [m.name for m in pkgutil.iter_modules(chorus.workers.__path__, "chorus.workers.")]
failed = []
for name in sorted(set(names)):
    for loaded in [k for k in sys.modules if k.startswith("chorus.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as error:
        failed.append(f"{name}: {error}")
print("\\n".join(failed))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
