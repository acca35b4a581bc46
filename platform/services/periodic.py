"""One ticker for all periodic work, in every worker; each task runs once per period across all
workers and nodes.

Registering a task is one line on a module-level function in any chorus.services module:

    @periodic("mail-sweep", every_seconds=30)
    def sweep() -> None: ...

Its period is a setting: `CHORUS_EVERY_MAIL_SWEEP=5` (the name upper-cased, hyphens as underscores)
overrides the default, so tests and operators can shorten it. Who runs a period is decided by the
database, not by Redis: a conditional UPDATE of the task's row moves `next_run_at` one period on and
takes a lease (`CHORUS_TASK_LEASE`); the one worker whose UPDATE matched runs it, on PostgreSQL and
SQLite alike. A worker that dies mid-run blocks the task only until its lease ends. Tasks should be
short: they find what is owed and kick the job that does it (chorus.queues).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chorus.extensions import UNAVAILABLE, db
from chorus.models import PeriodicTask
from chorus.models.base import utcnow

log = logging.getLogger("chorus.ticker")


@dataclass(frozen=True)
class Task:
    name: str
    every_seconds: int
    fn: Callable[[], object]

    def period(self) -> int:
        """The configured period (CHORUS_EVERY_<NAME>), else the registered default."""
        return int(current_app.config.get("CHORUS_EVERY", {}).get(setting_name(self.name), self.every_seconds))


_TASKS: dict[str, Task] = {}


def setting_name(task_name: str) -> str:
    return "CHORUS_EVERY_" + task_name.upper().replace("-", "_")


def periodic(name: str, every_seconds: int) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register `fn` to run every `every_seconds` (once across all workers), in an app context."""

    def register(fn: Callable[[], object]) -> Callable[[], object]:
        _TASKS[name] = Task(name, every_seconds, fn)
        return fn

    return register


def tasks() -> list[Task]:
    """Every registered task; importing each chorus.services module runs its registrations."""
    import chorus.services

    for module in pkgutil.iter_modules(chorus.services.__path__):
        importlib.import_module(f"chorus.services.{module.name}")
    return [_TASKS[name] for name in sorted(_TASKS)]


def _ensure_rows(names: list[str]) -> None:
    """Create the tasks' rows once per process (a task added by a deploy gets its row on first tick)."""
    known: set[str] = current_app.extensions.setdefault("chorus.periodic_rows", set())
    missing = [n for n in names if n not in known]
    if not missing:
        return
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(PeriodicTask)
        .values([{"name": n, "next_run_at": utcnow(), "last_error": ""} for n in missing])
        .on_conflict_do_nothing(index_elements=["name"])
    )
    db.session.commit()
    known.update(missing)


def claim(task: Task) -> bool:
    """Take this period's run of `task` if it is due and nobody holds it (one UPDATE decides)."""
    now = utcnow()
    lease = timedelta(seconds=int(current_app.config.get("CHORUS_TASK_LEASE", 300)))
    won = db.session.execute(
        update(PeriodicTask)
        .where(
            PeriodicTask.name == task.name,
            PeriodicTask.next_run_at <= now,
            or_(PeriodicTask.running_until.is_(None), PeriodicTask.running_until < now),
        )
        .values(next_run_at=now + timedelta(seconds=task.period()), running_until=now + lease)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return won == 1


def _finish(task: Task, error: str) -> None:
    db.session.execute(
        update(PeriodicTask)
        .where(PeriodicTask.name == task.name)
        .values(running_until=None, last_finished_at=utcnow(), last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def run_due() -> list[str]:
    """One tick: run each task whose period is due and that no other worker took; returns their names."""
    registered = tasks()
    _ensure_rows([t.name for t in registered])
    ran = []
    for task in registered:
        if not claim(task):
            continue
        error = ""
        try:
            task.fn()
        except Exception as exc:  # noqa: BLE001 - one failing task never stops the others
            db.session.rollback()
            if isinstance(exc, UNAVAILABLE):  # not a bug: the task runs again at its next period
                log.warning("periodic task %s waits for Redis or the database: %s", task.name, exc)
            else:
                log.exception("periodic task %s failed", task.name)
            error = f"{type(exc).__name__}: {exc}"
        _finish(task, error)
        ran.append(task.name)
    return ran


def run_forever(app: Flask, stop: threading.Event) -> None:
    """The worker's ticker thread: a tick every CHORUS_TICK seconds until `stop` is set. A database
    or Redis outage only skips ticks: the loop waits and resumes when they answer again."""
    interval = int(app.config.get("CHORUS_TICK", 5))
    while not stop.wait(interval):
        try:
            with app.app_context():
                try:
                    run_due()
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 - database or Redis unreachable: try again next tick
            log.warning("ticker: skipped a tick", exc_info=True)
