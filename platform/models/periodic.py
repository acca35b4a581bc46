"""The ticker's shared state: one row per periodic task, so each runs once per period across every
worker on every node (see chorus.services.periodic)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chorus.extensions import db
from chorus.models.base import Timestamp


class PeriodicTask(db.Model):
    __tablename__ = "periodic_tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The next run may start at this time; the worker that starts a run moves it one period on.
    next_run_at: Mapped[datetime] = mapped_column(Timestamp())
    #: Set while a run is under way: a worker that dies mid-run blocks the task only until then.
    running_until: Mapped[datetime | None] = mapped_column(Timestamp())
    last_finished_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_error: Mapped[str] = mapped_column(Text, default="")
