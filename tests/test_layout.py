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
