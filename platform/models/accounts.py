"""Staff accounts (supporters have none): platform admins, and org admins/editors per member."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import Timestamp, utcnow
from chorus.models.orgs import Organization

ORG_ROLES = ("org-admin", "org-editor")


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A coalition moderator: statements, sign-ons and messages everywhere (see chorus.policy).
    is_moderator: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: Part of the login cookie: changing it (logout, password change) ends every session at once.
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: The language of the admin for this account (its language link) and of every mail it gets.
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def role_in(self, org: Organization) -> str | None:
        for membership in self.memberships:
            if membership.org_id == org.id:
                return membership.role
        return None


class Membership(db.Model):
    """One person's role in one member organization (a person may belong to several)."""

    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(f"role IN {ORG_ROLES}", name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="memberships")
    org: Mapped[Organization] = relationship(lazy="joined")


class Invitation(db.Model):
    """A one-time, expiring link e-mailed to a future org admin/editor (or platform admin)."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint("role IN ('platform-admin', 'org-admin', 'org-editor')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Signed with the invitation id into the link (chorus.services.accounts); the job rebuilds the
    #: link from the id alone, and deleting the row revokes it.
    nonce: Mapped[str] = mapped_column(String(32), default=new_session_token)
    email: Mapped[str] = mapped_column(String(254))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    accepted_at: Mapped[datetime | None] = mapped_column(Timestamp())
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: The invitation mail's language and the new account's (the inviter's language unless chosen).
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")

    org: Mapped[Organization | None] = relationship()
    invited_by: Mapped[User | None] = relationship()
