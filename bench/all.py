"""`make bench`: every benchmark, short, in one go, and ONE JSON document with each ratio against its bare
reference, the absolute figures and the machine's load during each phase (each script's full document
is kept under "details").

    .venv/bin/python bench/all.py                  # sign + tally + mail lag + memory, letters (30,000),
                                                   # staff screens (1,000,000), export (1,000,000, PostgreSQL)
    .venv/bin/python bench/all.py --only sign --output /tmp/bench.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit

HERE = Path(__file__).resolve().parent


def run(script: str, extra: list[str], timeout: float) -> dict:
    import json

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, str(HERE / script), *extra, "--output", out.name]
        print(f"[bench] {' '.join(command[1:])}", file=sys.stderr, flush=True)
        load = os.getloadavg()
        started = time.monotonic()
        try:
            done = subprocess.run(command, stdout=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        text = Path(out.name).read_text()
        try:
            document = json.loads(text) if text.strip() else {"error": f"exit {done.returncode}, no output"}
        except ValueError as error:  # a child that died while writing: say so, keep the other phases
            document = {"error": f"exit {done.returncode}, output is not JSON: {error}"}
        if not isinstance(document, dict):
            document = {"error": f"exit {done.returncode}, output is not a JSON object"}
        document["_run"] = {
            "exit": done.returncode,
            "seconds": round(time.monotonic() - started, 1),
            "loadavg_before": [round(x, 2) for x in load],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        }
        return document


def sign_summary(doc: dict) -> dict:
    runs = doc.get("runs") or [doc]
    r = runs[0]
    if "error" in r:
        return {"error": r["error"]}

    def phase(name: str, part: str, keys: tuple[str, ...]) -> dict:
        figures = r.get(name, {}).get(part, {})
        return {k: figures.get(k) for k in keys} | {"loadavg": figures.get("cpu", {}).get("loadavg_at_end")}

    sign_keys = ("accepted_per_s", "p50_ms", "p99_ms", "errors")
    tally_keys = ("reads_per_s", "p50_ms", "p99_ms", "errors")
    return {
        "ratios": r.get("ratios"),
        "targets_met": r.get("targets_met"),
        "sign": {name: phase(name, "sign", sign_keys) for name in ("reference", "chorus")},
        "tally": {name: phase(name, "tally", tally_keys) for name in ("reference", "chorus")},
        "tally_at_1m_signatures": {
            name: phase(name, "tally_at_1m_signatures", tally_keys) for name in ("reference", "chorus")
        },
        "rows_equal_accepted": r.get("db", {}).get("rows_equal_accepted"),
        "memory": {name: _memory(r.get(name, {}).get("memory")) for name in ("reference", "chorus")},
        "mail": _mail(r.get("mail")),
    }


def _memory(memory: dict | None) -> dict | None:
    """Peaks and each worker's RSS change over the run (the series stays in details)."""
    if not memory:
        return memory
    return {k: v for k, v in memory.items() if k != "rss_mb_series"}


def _mail(mail: dict | None) -> dict | None:
    """sign.py --mail-sink: the confirmation mails' lag and the RQ workers' memory."""
    if not mail:
        return None
    keep = ("mails_arrived", "mails_owed_at_end", "repeats", "lag_p50_s", "lag_p95_s", "lag_max_s")
    return {k: mail.get(k) for k in keep} | {"memory": _memory(mail.get("memory"))}


def letters_summary(doc: dict) -> dict:
    if "error" in doc:
        return {"error": doc["error"]}
    return {
        "ratio_letters_per_s_vs_bare": doc.get("ratio_letters_per_s_vs_bare"),
        "letters_per_s": doc.get("letters_per_s"),
        "bare_letters_per_s": doc.get("bare_smtplib", {}).get("letters_per_s"),
        "lost": doc.get("lost"),
        "duplicates": doc.get("duplicates"),
        "kills": doc.get("kills"),
        "targets_met": doc.get("targets_met"),
        "loadavg_before": doc.get("cpu", {}).get("load_average_before"),
        "bare_loadavg": doc.get("bare_smtplib", {}).get("load_average_before"),
    }


def export_summary(doc: dict) -> dict:
    if "error" in doc:
        return {"error": doc["error"]}
    results = doc.get("results") or []
    return {
        "rows": doc.get("rows"),
        "rss_target_mb": doc.get("rss_target_mb"),
        "backends": {
            r.get("backend"): {
                "export_seconds": r.get("export", {}).get("seconds"),
                "export_peak_rss_mb": r.get("export", {}).get("export_peak_rss_mb"),
                "peak_rss_mb": r.get("export", {}).get("peak_rss_mb"),
                "cli_peak_rss_mb": r.get("cli", {}).get("peak_rss_mb"),
                "targets_met": r.get("targets_met"),
            }
            for r in results
        },
    }


def staff_summary(doc: dict) -> dict:
    if "error" in doc:
        return {"error": doc["error"]}
    return {"ratios": doc.get("speedups"), "targets_met": doc.get("targets_met"), "screens": doc.get("screens")}


PHASES = {
    "sign": ("sign.py", sign_summary),
    "letters": ("deliver.py", letters_summary),
    "staff": ("staff.py", staff_summary),
    "export": ("export.py", export_summary),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", choices=sorted(PHASES), help="run only this phase (repeatable)")
    p.add_argument("--letters", type=int, default=30_000, help="letters for deliver.py (default 30000)")
    p.add_argument("--kills", type=int, default=0, help="SIGKILLs during delivery (default 0)")
    p.add_argument("--staff-rows", type=int, default=1_000_000, help="actions for staff.py (default 1000000)")
    p.add_argument("--export-rows", type=int, default=1_000_000, help="actions for export.py (default 1000000)")
    p.add_argument("--redis-url", help="Redis db for sign.py and deliver.py (default: each script's own)")
    p.add_argument("--quick", action="store_true", help="a few seconds per phase (the smoke test's setting)")
    p.add_argument("--output", help="also write the JSON document to this file")
    args = p.parse_args(argv)
    quick = ["--quiet-wait", "0"]
    quick_sign = ["-n", "200", "--duration", "3", "-m", "500", "--read-duration", "2", "--warmup", "20"]
    extras = {
        "sign": ["--million", "--mail-sink"]
        + (["--nginx"] if shutil.which("nginx") else [])
        + (quick_sign + ["--mail-wait", "20"] if args.quick else []),
        "letters": ["-n", str(args.letters), "--kills", str(args.kills), "--time-limit", "180"]
        + (["--bare-seconds", "2"] if args.quick else []),
        "staff": ["--rows", str(args.staff_rows)] + (["--repeat", "1"] if args.quick else []),
        "export": ["--rows", str(1000 if args.quick else args.export_rows), "--postgresql", "--no-sqlite"],
    }
    if args.redis_url:
        for name in ("sign", "letters"):
            extras[name] += ["--redis-url", args.redis_url]
    document: dict = {"benchmark": "chorus: every phase against its bare reference", "cpus": os.cpu_count()}
    details = {}
    for name in args.only or list(PHASES):
        script, summarize = PHASES[name]
        details[name] = run(script, extras[name] + (quick if args.quick else []), timeout=900)
        document[name] = {**summarize(details[name]), "run": details[name].get("_run")}
    document["details"] = details
    emit(document, args.output)
    return 0 if all("error" not in document[name] for name in details) else 1


if __name__ == "__main__":
    sys.exit(main())
