"""The contract's import rule: platform/ holds `chorus` and never shadows the standard library."""

from __future__ import annotations

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
