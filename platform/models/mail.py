"""Mail owed to supporters: one row per mail, so the database, not a Redis list, decides what is owed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.actions import Action, Suppression
from chorus.models.base import BigId, Timestamp, utcnow
from chorus.models.statements import SignOn

UNFINISHED = sql_text("status IN ('queued', 'sending')")
#: Exactly one of the three recipients (portable: PostgreSQL adds no booleans).
ONE_RECIPIENT = " + ".join(
    f"(CASE WHEN {column} IS NULL THEN 0 ELSE 1 END)" for column in ("action_id", "sign_on_id", "suppression_id")
) + " = 1"


class SupporterMail(db.Model):
    """One mail to the supporter of one action (its confirmation, the copy of their letter, ...), or
    to the contact of one organization's sign-on on a statement (its confirmation, a moderator's
    decision, a new version of the text: `ref` then names the version), or to an address known only
    by its unsubscribe (`suppression_id`: the "manage my data" link it asked for).

    Written in the action's own transaction, claimed by a worker with a lease, recorded as sent right
    after the SMTP server accepted it: a dead worker's mails go out again when the lease ends, and at
    most the one in flight repeats. A mail that cannot be built fails with its reason; admins see it.
    """

    __tablename__ = "supporter_mails"
    __table_args__ = (
        UniqueConstraint("action_id", "kind", name="uq_supporter_mails_action_kind"),
        UniqueConstraint("sign_on_id", "kind", "ref", name="uq_supporter_mails_sign_on_kind"),
        UniqueConstraint("suppression_id", "kind", "ref", name="uq_supporter_mails_suppression_kind"),
        CheckConstraint(ONE_RECIPIENT, name="one_recipient"),
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name="status"),
        Index(
            "ix_supporter_mails_claim", "next_attempt_at", "id", postgresql_where=UNFINISHED, sqlite_where=UNFINISHED
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    sign_on_id: Mapped[int | None] = mapped_column(ForeignKey("sign_ons.id", ondelete="CASCADE"))
    suppression_id: Mapped[int | None] = mapped_column(ForeignKey("suppressions.id", ondelete="CASCADE"))
    ref: Mapped[int] = mapped_column(Integer, default=0)  # a sign-on's new-version notice: the version id
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp())
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)

    action: Mapped[Action | None] = relationship()
    sign_on: Mapped[SignOn | None] = relationship()
    suppression: Mapped[Suppression | None] = relationship()
