"""Coalition statements: moderated versions of the text, organizations' sign-ons, public messages
(solidarity messages on statements, supporters' comments on petitions) and the moderation audit log.

A statement is a `Campaign` of kind "statement"; people's endorsements are ordinary `Action` rows
on it (they count in the shared tally). Sign-ons are an organization's act, not a person's: they
are unique per statement and normalized organization name once approved, and are not scoped to a
member site (the list is public and the same on every host).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.accounts import User
from chorus.models.base import BigId, Timestamp, new_uuid, utcnow
from chorus.models.campaigns import Campaign
from chorus.models.orgs import Organization

VERSION_STATUSES = ("draft", "pending", "approved", "rejected")
#: "merged": a second sign-on under an already approved name, folded into the approved entry.
SIGN_ON_STATUSES = ("pending-confirmation", "pending", "approved", "rejected", "hidden", "retracted", "merged")
#: Sign-ons whose contact is asked to keep or withdraw the signature when a new text is approved.
ASKED_ON_NEW_VERSION = ("approved", "hidden", "pending")
MESSAGE_STATUSES = ("pending", "approved", "rejected", "hidden")
ORDERINGS = ("alphabetical", "time")


class StatementVersion(db.Model):
    """One version of a statement's text; the public page shows the newest approved one."""

    __tablename__ = "statement_versions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_statement_versions_number"),
        CheckConstraint(f"status IN {VERSION_STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    call_to_action: Mapped[str] = mapped_column(String(500), default="")
    #: The text in other languages, {"es": {"title": "…"}}: it belongs to this version, and a version
    #: that changes only these does not ask the signatories again (see `same_text`).
    translations: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was rejected, shown to the author
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp())

    campaign: Mapped[Campaign] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])

    def same_text(self, other: StatementVersion | None) -> bool:
        return other is not None and (self.title, self.body, self.call_to_action) == (
            other.title,
            other.body,
            other.call_to_action,
        )


class SignOn(db.Model):
    """An organization's signature on a statement, made by its contact through one member's site."""

    __tablename__ = "sign_ons"
    __table_args__ = (
        CheckConstraint(f"status IN {SIGN_ON_STATUSES}", name="status"),
        # A repeat by the same contact is the same row; someone else's is a claim (a second row).
        UniqueConstraint("campaign_id", "name_normalized", "email_normalized", name="uq_sign_ons_contact"),
        # Once approved, a name appears once on a statement.
        Index(
            "uq_sign_ons_approved_name",
            "campaign_id",
            "name_normalized",
            unique=True,
            sqlite_where=db.text("status = 'approved'"),
            postgresql_where=db.text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    #: The host site it came through.
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The member organization this signatory is, when its name is a member's.
    member_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("statement_versions.id", ondelete="SET NULL"))
    organization_name: Mapped[str] = mapped_column(String(200))
    name_normalized: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    website: Mapped[str] = mapped_column(String(300), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")
    logo: Mapped[str] = mapped_column(String(200), default="")  # a file in the statement owner's uploads
    message: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(24), default="pending-confirmation")
    #: The contact's e-mail domain is the website's: shown to moderators as "verified domain".
    verified_domain: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set on a sign-on by someone else under a name already approved: never changes that entry.
    claim_of_id: Mapped[int | None] = mapped_column(ForeignKey("sign_ons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp())

    campaign: Mapped[Campaign] = relationship()
    org: Mapped[Organization] = relationship(foreign_keys=[org_id])
    member_org: Mapped[Organization | None] = relationship(foreign_keys=[member_org_id])
    version: Mapped[StatementVersion | None] = relationship()
    claim_of: Mapped[SignOn | None] = relationship(remote_side=[id])


class PublicMessage(db.Model):
    """A message shown on a campaign page once approved: an endorser's solidarity message on a
    statement, or a supporter's comment on a campaign that allows public comments. (An organization's
    message travels with its sign-on and is approved with it.)"""

    __tablename__ = "public_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {MESSAGE_STATUSES}", name="status"),
        Index("ix_public_messages_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)  # the host site
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), unique=True)
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp())

    campaign: Mapped[Campaign] = relationship()
    org: Mapped[Organization] = relationship()


class ModerationDecision(db.Model):
    """The audit log: one row per decision, never updated or deleted (see the guard below)."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (Index("ix_moderation_decisions_object", "kind", "object_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow, index=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderator_email: Mapped[str] = mapped_column(String(254))  # kept if the account goes
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # version | sign_on | message | comment
    object_id: Mapped[int] = mapped_column(BigId)
    decision: Mapped[str] = mapped_column(String(16))  # approve | reject | hide | merge
    before: Mapped[str] = mapped_column(String(24))
    after: Mapped[str] = mapped_column(String(24))
    reason_code: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")

    campaign: Mapped[Campaign | None] = relationship()


@event.listens_for(ModerationDecision, "before_update")
@event.listens_for(ModerationDecision, "before_delete")
def _insert_only(_mapper, _connection, _target) -> None:
    raise RuntimeError("the moderation audit log is insert-only")
