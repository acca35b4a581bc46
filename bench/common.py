"""Pieces the benchmarks share (each script is run directly: `python bench/<name>.py`)."""

from __future__ import annotations

import json
from pathlib import Path


def rss_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM), in MB; 0 if it is gone.

    Not getrusage's ru_maxrss: for a child started by fork+exec it also counts the parent's RSS at the
    fork."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((line for line in status.splitlines() if line.startswith(field + ":")), None)
    return round(int(line.split()[1]) / 1024, 1) if line else 0.0


def emit(document: dict, output: str | None) -> None:
    """Print the result as JSON, and keep a copy in `output` when asked."""
    text = json.dumps(document, indent=2)
    print(text)
    if output:
        Path(output).write_text(text + "\n")
