"""CSV exports run as RQ jobs; the row is their progress and the file's owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import Timestamp, new_uuid, utcnow
from chorus.models.campaigns import Campaign
from chorus.models.orgs import Organization


class Export(db.Model):
    __tablename__ = "exports"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    #: The member that asked: the file holds only what that member may see, and only it may fetch it.
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: Queued: its job should have started by then; running: renewed with each progress step. Past it,
    #: the ticker queues the job again (lost with Redis or with a killed worker).
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp())

    org: Mapped[Organization] = relationship()
    campaign: Mapped[Campaign] = relationship()

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0
