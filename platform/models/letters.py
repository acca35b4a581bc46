"""Letter campaigns: the decision makers letters go to, and the outbox of deliveries to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.actions import Action
from chorus.models.base import BigId, Timestamp, new_uuid, utcnow
from chorus.models.campaigns import Campaign

DELIVERY_STATUSES = ("queued", "sending", "sent", "failed")


class Official(db.Model):
    """A decision maker: fixed target of a campaign, or found by the supporter's postal code."""

    __tablename__ = "officials"
    __table_args__ = (UniqueConstraint("email", "office", name="uq_officials_email_office"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    office: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254))
    country: Mapped[str] = mapped_column(String(2), default="US")
    region: Mapped[str] = mapped_column(String(100), default="")
    district: Mapped[str] = mapped_column(String(100), default="")
    #: Space-separated postal-code prefixes of the jurisdiction ("941 940"); empty: fixed targets only.
    postal_prefixes: Mapped[str] = mapped_column(Text, default="")

    @property
    def addressed(self) -> str:
        return f"{self.title} {self.name}".strip()


class CampaignTarget(db.Model):
    __tablename__ = "campaign_targets"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id", ondelete="CASCADE"), primary_key=True)

    official: Mapped[Official] = relationship(lazy="joined")


class Delivery(db.Model):
    """One letter to one target: a row committed before the supporter sees success, claimed with a
    lease before sending and marked after, so a killed worker loses nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("action_id", "official_id", name="uq_deliveries_action_official"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        # The claim query reads only unfinished rows: sent ones pile up by the million.
        Index(
            "ix_deliveries_claim",
            "next_attempt_at",
            "id",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_deliveries_target", "campaign_id", "official_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp())
    #: Which claim holds the row while it is "sending": a worker whose lease ran out and was taken
    #: over by another neither sends nor records it (services.delivery.Claim).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: Digest campaigns: the Message-ID (without brackets) of the digest that carried this letter.
    message_id: Mapped[str] = mapped_column(String(200), default="")

    action: Mapped[Action] = relationship()
    official: Mapped[Official] = relationship()
    campaign: Mapped[Campaign] = relationship()
    events: Mapped[list[DeliveryEvent]] = relationship(
        cascade="all, delete-orphan", order_by="DeliveryEvent.id", lazy="selectin"
    )


class DeliveryEvent(db.Model):
    """A delivery's history (attempts, errors, retries), shown to the campaign's admins."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
