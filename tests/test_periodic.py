"""The ticker: every worker ticks, but each periodic task runs once per period across all of them."""

from __future__ import annotations

import threading

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from chorus import config
from chorus.extensions import db
from chorus.models import PeriodicTask
from chorus.services import periodic


@pytest.fixture
def registry(monkeypatch):
    """Only this test's tasks are registered while it runs."""
    tasks: dict[str, periodic.Task] = {}
    monkeypatch.setattr(periodic, "_TASKS", tasks)
    monkeypatch.setattr(periodic, "tasks", lambda: [tasks[name] for name in sorted(tasks)])
    return tasks


def test_a_task_runs_once_per_period_however_many_workers_tick(app, registry):
    runs = []
    periodic.periodic("count", every_seconds=3600)(lambda: runs.append(1))
    start = threading.Barrier(6)

    def worker_ticks():
        with app.app_context():
            start.wait()
            for _ in range(5):
                periodic.run_due()
            db.session.remove()

    threads = [threading.Thread(target=worker_ticks) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == [1]


def test_a_due_period_runs_again_and_its_setting_shortens_it(app, registry):
    runs = []
    periodic.periodic("short-one", every_seconds=3600)(lambda: runs.append(1))
    app.config["CHORUS_EVERY"] = {"CHORUS_EVERY_SHORT_ONE": 1}
    assert periodic.run_due() == ["short-one"]
    assert periodic.run_due() == []  # not due yet
    db.session.execute(db.update(PeriodicTask).values(next_run_at=db.func.now()))  # its period passed
    db.session.commit()
    assert periodic.run_due() == ["short-one"] and len(runs) == 2


def test_a_failing_task_is_recorded_and_the_others_still_run(app, registry, caplog):
    runs = []

    def broken():
        raise ValueError("cannot reach the moon")

    def redis_away():
        raise RedisConnectionError("Error 111 connecting to redis.sock. Connection refused.")

    periodic.periodic("a-broken", every_seconds=60)(broken)
    periodic.periodic("b-fine", every_seconds=60)(lambda: runs.append(1))
    periodic.periodic("c-redis-away", every_seconds=60)(redis_away)
    assert periodic.run_due() == ["a-broken", "b-fine", "c-redis-away"] and runs == [1]
    row = db.session.get(PeriodicTask, "a-broken")
    assert row.last_error == "ValueError: cannot reach the moon" and row.running_until is None
    assert db.session.get(PeriodicTask, "c-redis-away").last_error.startswith("ConnectionError: Error 111")
    # A bug is logged with its traceback; Redis or the database away for a moment, in one line.
    logged = {r.getMessage().split(":")[0]: r.exc_info is not None for r in caplog.records if r.name == "chorus.ticker"}
    waits = "periodic task c-redis-away waits for Redis or the database"
    assert logged == {"periodic task a-broken failed": True, waits: False}


def test_a_run_whose_worker_died_blocks_the_task_only_until_its_lease_ends(app, registry):
    runs = []
    periodic.periodic("leased", every_seconds=1)(lambda: runs.append(1))
    task = registry["leased"]
    periodic.run_due()
    db.session.execute(db.update(PeriodicTask).values(next_run_at=db.func.now()))
    db.session.commit()
    app.config["CHORUS_TASK_LEASE"] = 3600
    assert periodic.claim(task)  # a worker takes the run and dies: running_until stays set
    db.session.execute(db.update(PeriodicTask).values(next_run_at=db.func.now()))
    db.session.commit()
    assert periodic.run_due() == []  # held by the dead worker's lease
    db.session.execute(db.update(PeriodicTask).values(running_until=db.func.now()))  # the lease ends
    db.session.commit()
    assert periodic.run_due() == ["leased"] and len(runs) == 2


def test_the_registered_tasks_and_their_period_settings_are_checked(app, tmp_path):
    assert {"supporter-mail", "letter-delivery", "exports", "tally"} <= {t.name for t in periodic.tasks()}
    environ = {"CHORUS_INSTANCE": str(tmp_path), "SECRET_KEY": "x"}
    assert config.from_environment({**environ, "CHORUS_EVERY_SUPPORTER_MAIL": "5"})["CHORUS_EVERY"] == {
        "CHORUS_EVERY_SUPPORTER_MAIL": 5
    }
    with pytest.raises(config.ConfigError, match="CHORUS_EVERY_SUPPORTER_MAIL must be a whole number from 1 to"):
        config.from_environment({**environ, "CHORUS_EVERY_SUPPORTER_MAIL": "soon"})
