"""Webhooks: a member's endpoints, and the database outbox of events owed to them."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import BigId, Timestamp, new_uuid, utcnow
from chorus.models.orgs import Organization

EVENT_KINDS = ("signature", "outreach", "endorsement", "sign_on", "unsubscribe")
EVENT_STATUSES = ("queued", "sent", "failed")


def new_secret() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(64), default=new_secret)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    #: Batches that failed in a row; reaching the limit pauses the endpoint (admins are mailed).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_success_at: Mapped[datetime | None] = mapped_column(Timestamp())

    org: Mapped[Organization] = relationship(lazy="joined")


class WebhookEvent(db.Model):
    """One event owed to one endpoint, written in the transaction that caused it (an outbox).

    The body is built at delivery time, inside the endpoint's member scope: what the supporter no
    longer shares with that member is never sent.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {EVENT_KINDS}", name="kind"),
        CheckConstraint(f"status IN {EVENT_STATUSES}", name="status"),
        Index(
            "ix_webhook_events_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index("ix_webhook_events_log", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    sign_on_id: Mapped[int | None] = mapped_column(ForeignKey("sign_ons.id", ondelete="CASCADE"))
    email_normalized: Mapped[str] = mapped_column(String(254), default="")  # unsubscribes
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())

    endpoint: Mapped[WebhookEndpoint] = relationship()
