"""Smoke tests that keep the benchmarks runnable (they measure nothing: benchmarks are not tests)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chorus.extensions import embedded_redis_url
from tests.conftest import PG_ADMIN_URL

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))


@pytest.mark.parametrize("script", ["all.py", "sign.py", "deliver.py", "export.py", "api_list.py", "staff.py"])
def test_every_bench_script_parses_its_options(script):
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_letters_bench_gives_chorus_settings_it_accepts(bench_path, tmp_path):
    from chorus import config

    deliver = importlib.import_module("deliver")
    rate = deliver.parse_args(["-n", "10"]).domain_rate  # a 10,000,000 once stopped `make bench`'s letters
    settings = config.from_environment({"CHORUS_INSTANCE": str(tmp_path), "CHORUS_DOMAIN_RATE": str(rate)})
    assert settings["CHORUS_DOMAIN_RATE"] == rate


def test_reference_app_signs_once_per_address_and_counts_in_redis(bench_path, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'reference.db'}")
    monkeypatch.setenv("REDIS_URL", embedded_redis_url(str(tmp_path)))
    sys.modules.pop("reference_app", None)
    reference = importlib.import_module("reference_app")
    with reference.app.app_context():
        reference.db.create_all()
    client = reference.app.test_client()
    fields = {"first_name": "Ana", "last_name": "Ruiz", "email": "Ana@example.org", "postal_code": "1", "country": "US"}

    first = client.post("/puentes/petition", data=fields)
    again = client.post("/open-table/petition", data={**fields, "email": "ana@example.org"})
    bad = client.post("/puentes/petition", data={**fields, "email": "not an address"})
    tally = client.get("/puentes/petition/tally.json").get_json()

    assert (first.status_code, first.location) == (303, "/puentes/petition/thanks?status=signed")
    assert (again.status_code, again.location) == (303, "/open-table/petition/thanks?status=counted")
    assert bad.status_code == 422
    assert tally["total"] == 1 and tally["by_org"] == {"puentes": 1}
    reference.app.extensions["reference.redis"].close()


def test_bare_smtplib_loop_delivers_every_message_to_the_sink(bench_path):
    deliver = importlib.import_module("deliver")
    sink = deliver.Sink()
    try:
        result = deliver.bare_smtplib_loop(sink, size=2000, count=25, seconds=30)
    finally:
        sink.stop()
    assert result["messages"] == result["received_by_sink"] == 25
    assert 1900 <= result["message_bytes"] <= 2000


def test_make_bench_summary_carries_ratios_and_load(bench_path):
    summary = importlib.import_module("all").sign_summary(
        {
            "runs": [
                {
                    "ratios": {"sign_accepted_per_s": 0.5},
                    "targets_met": {"sign_ratio>=1.0": False},
                    "reference": {"sign": {"accepted_per_s": 200.0, "cpu": {"loadavg_at_end": [1.0, 1.0, 1.0]}}},
                    "chorus": {"sign": {"accepted_per_s": 100.0, "cpu": {"loadavg_at_end": [2.0, 1.0, 1.0]}}},
                    "db": {"rows_equal_accepted": True},
                }
            ]
        }
    )
    assert summary["ratios"] == {"sign_accepted_per_s": 0.5}
    assert summary["sign"]["chorus"]["accepted_per_s"] == 100.0
    assert summary["sign"]["chorus"]["loadavg"] == [2.0, 1.0, 1.0]


def test_sink_keeps_each_messages_recipient_and_arrival_time_for_the_mail_lag(bench_path):
    deliver = importlib.import_module("deliver")
    sink = deliver.Sink()
    try:
        deliver.bare_smtplib_loop(sink, size=500, count=3, seconds=30)
        arrivals = sink.ask("arrivals")["arrivals"]
    finally:
        sink.stop()
    assert [recipient for recipient, _at in arrivals] == ["target@example.org"] * 3
    assert all(isinstance(at, float) for _recipient, at in arrivals)


def test_make_bench_reports_a_child_whose_output_is_not_json_as_that_phases_error(bench_path, monkeypatch, tmp_path):
    everything = importlib.import_module("all")
    (tmp_path / "broken.py").write_text(
        "import sys\nopen(sys.argv[sys.argv.index('--output') + 1], 'w').write('{\"half\": ')\nsys.exit(1)\n"
    )
    monkeypatch.setattr(everything, "HERE", tmp_path)

    document = everything.run("broken.py", [], timeout=60)

    assert document["error"].startswith("exit 1, output is not JSON")
    assert document["_run"]["exit"] == 1


def test_staff_bench_times_each_screen_and_finds_what_the_code_before_it_found(backend, tmp_path):
    if backend.name != "postgresql":
        pytest.skip("the staff screens are measured on PostgreSQL")
    out = tmp_path / "staff.json"
    command = [sys.executable, str(BENCH / "staff.py"), "--rows", "400", "--repeat", "1", "--output", str(out)]
    command += ["--admin-url", PG_ADMIN_URL, "--database", f"chorus_bench_staff_{os.getpid()}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    document = json.loads(out.read_text())
    assert done.returncode == 0 and "error" not in document, done.stderr[-2000:]
    screens = document["screens"]
    pages = [screens[name] for name in ("supporters_first_page", "supporters_page_2000")]
    searches = [screens[name] for name in ("search_by_name", "search_by_email")]
    assert all(s["same_rows_as_before"] and s["total_after"] == s["total_before"] for s in pages + searches)
    assert pages[0]["rows"] == 50 and screens["campaign_dashboard"]["same_figures_as_before"]
