"""The `chorus` command: the contract's names, and one clear line for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from chorus.cli import cli
from tests.factories import make_campaign, make_org


def chorus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the installed console script as an operator would."""
    script = os.path.join(os.path.dirname(sys.executable), "chorus")
    return subprocess.run([script, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_demo_is_idempotent_and_campaigns_list_shows_it(app_env):
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"], env=app_env).exit_code == 0
    assert runner.invoke(cli, ["demo"], env=app_env).exit_code == 0
    listed = runner.invoke(cli, ["campaigns", "list", "--json"], env=app_env)
    rows = {row["slug"]: row for row in json.loads(listed.output)}
    shared = rows["keep-families-together"]
    assert shared["owner"] == "puentes" and len(shared["hosts"]) >= 4 and shared["total"] == 0
    assert rows["fair-shifts"]["hosts"] == ["harbor-workers"]
    assert rows["write-to-the-governor"]["kind"] == "letter"


@pytest.mark.parametrize(
    "args, message",
    [
        (["tally", "reconcile", "no-such-campaign"], "no campaign 'no-such-campaign'"),
        (["up", "--port", "0"], "Invalid value for '--port'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_nonzero_exit(app, app_env, args, message):
    make_campaign(make_org())
    result = chorus(*args, env=app_env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_configuration_is_one_line(app_env):
    result = chorus("campaigns", "list", env={**app_env, "CHORUS_ENV": "production", "SECRET_KEY": ""})
    assert result.returncode == 2
    assert result.stderr.strip() == "chorus: error: SECRET_KEY must be set when CHORUS_ENV=production"
    result = chorus("worker", "--burst", env={**app_env, "CHORUS_WORKER_NICE": "20"})
    assert result.returncode == 2
    assert result.stderr.strip() == "chorus: error: CHORUS_WORKER_NICE must be a whole number from 0 to 19, not '20'"


def test_every_command_has_help(app_env):
    for args in (
        ["up"],
        ["worker"],
        ["db", "upgrade"],
        ["demo"],
        ["tenants", "sync"],
        ["campaigns", "list"],
        ["tally", "reconcile"],
        ["admin", "create"],
        ["targets", "import"],
        ["export", "signatures"],
    ):
        result = CliRunner().invoke(cli, [*args, "--help"], env=app_env)
        assert result.exit_code == 0 and "Usage: " in result.output


def test_make_run_passes_the_port_and_says_how_to_start():
    from chorus.cli import _start_message

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed-stamp", "run", "PORT=5601"], cwd=root, capture_output=True, text=True
    )
    assert "chorus up --host 127.0.0.1 --port 5601" in dry.stdout
    message = _start_message("0.0.0.0", 5601, 2, "/srv/chorus/.venv/bin/chorus")
    assert "open http://127.0.0.1:5601/" in message and "make admin EMAIL=" in message
    assert "/srv/chorus/.venv/bin/chorus admin create EMAIL --role platform-admin" in message
