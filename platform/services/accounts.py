"""Staff accounts: passwords (Argon2id), login throttling, TOTP, invitations."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Invitation, Membership, Organization, User
from chorus.models.accounts import ORG_ROLES, new_session_token
from chorus.models.base import utcnow
from chorus.services import mail, ratelimit

#: argon2-cffi's defaults are RFC 9106's low-memory profile: Argon2id, 64 MiB, t=3, p=4, stronger than
#: OWASP's minimum (19 MiB, t=2, p=1).
HASHER = PasswordHasher()
MIN_PASSWORD = 12
ACCOUNT_FAILURES, IP_FAILURES, FAILURE_WINDOW = 5, 20, 15 * 60
INVITATION_LIFETIME = timedelta(days=7)
ROLES = ("platform-admin", *ORG_ROLES)


class AccountError(ValueError):
    """Bad input to an account operation; the message is for the person (or operator) who sent it."""


@functools.cache
def _dummy_hash() -> str:
    """Verified when the account does not exist, so a wrong address takes as long as a wrong password.
    Made on first use, not at import: it costs 64 MiB and tens of milliseconds."""
    return HASHER.hash("timing-equalizer")


def normalize(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise AccountError("The password is too long.")


def hash_password(password: str) -> str:
    check_password_strength(password)
    return HASHER.hash(password)


def create_user(email: str, password: str, role: str, org: Organization | None = None, name: str = "") -> User:
    """Create an account (or add a role to an existing one): `chorus admin create` and invitations."""
    email = normalize(email)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role != "platform-admin" and org is None:
        raise AccountError(f"role {role} needs an organization (--org)")
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(password))
        db.session.add(user)
    if role == "platform-admin":
        user.is_platform_admin = True
    else:
        grant(user, org, role)
    db.session.commit()
    return user


def grant(user: User, org: Organization, role: str) -> None:
    membership = next((m for m in user.memberships if m.org_id == org.id), None)
    if membership is None:
        user.memberships.append(Membership(org_id=org.id, role=role))
    elif role == "org-admin":
        membership.role = role  # invitations never demote


@dataclass
class LoginResult:
    user: User | None
    throttled: bool = False


def authenticate(email: str, password: str, client_address: str) -> LoginResult:
    """Check a password, throttled per account and per client address (failures only)."""
    email = normalize(email)
    account_bucket, address_bucket = f"login-fail:acct:{email}", f"login-fail:ip:{client_address}"
    if ratelimit.count(account_bucket) >= ACCOUNT_FAILURES or ratelimit.count(address_bucket) >= IP_FAILURES:
        return LoginResult(None, throttled=True)
    user = db.session.scalar(select(User).where(User.email == email))
    try:
        HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        ratelimit.hit(account_bucket, FAILURE_WINDOW)
        ratelimit.hit(address_bucket, FAILURE_WINDOW)
        return LoginResult(None)
    ratelimit.reset(account_bucket)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return LoginResult(user)


def end_all_sessions(user: User) -> None:
    """Logout that really ends the session: every cookie carrying the old token stops working."""
    user.session_token = new_session_token()
    db.session.commit()


def verify_totp(user: User, code: str, secret: str | None = None) -> bool:
    """A valid code, used once (a replayed code within its window is refused)."""
    secret = secret or user.totp_secret
    code = (code or "").replace(" ", "")
    if not secret or not code.isdigit() or not pyotp.TOTP(secret).verify(code, valid_window=1):
        return False
    return bool(redis_store.client.set(f"chorus:totp-used:{user.id}:{code}", 1, nx=True, ex=120))


def invite(email: str, role: str, org: Organization | None, invited_by: User | None) -> Invitation:
    email = normalize(email)
    if role not in ROLES:
        raise AccountError("Unknown role.")
    if (role == "platform-admin") != (org is None):
        raise AccountError("Org roles need an organization; platform admins have none.")
    invitation = Invitation(
        email=email,
        role=role,
        org_id=org.id if org else None,
        invited_by_id=invited_by.id if invited_by else None,
        expires_at=utcnow() + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.commit()
    queues.enqueue(queues.SEND_INVITATION, invitation.id, queue_name="mail")
    return invitation


def invitation_token(invitation: Invitation) -> str:
    return mail.make_token("invite", f"{invitation.id}:{invitation.nonce}")


def open_invitation(token: str) -> Invitation | None:
    """The invitation behind a link, if it is still unused and unexpired."""
    value = mail.read_token("invite", token)
    if not value or ":" not in value:
        return None
    ident, nonce = value.split(":", 1)
    invitation = db.session.get(Invitation, int(ident)) if ident.isdigit() else None
    if invitation is None or invitation.nonce != nonce or invitation.accepted_at is not None:
        return None
    expires = (
        invitation.expires_at if invitation.expires_at.tzinfo else invitation.expires_at.replace(tzinfo=utcnow().tzinfo)
    )
    return invitation if expires > utcnow() else None


def accept_invitation(invitation: Invitation, user: User | None, name: str = "", password: str = "") -> User:
    """Create the account (or extend the signed-in one) and spend the invitation in one commit."""
    if user is None:
        if db.session.scalar(select(func.count()).select_from(User).where(User.email == invitation.email)):
            raise AccountError("An account with this e-mail exists: sign in first, then open the link again.")
        user = User(email=invitation.email, name=name.strip(), password_hash=hash_password(password))
        db.session.add(user)
    elif user.email != invitation.email:
        raise AccountError("This invitation was sent to another e-mail address.")
    if invitation.role == "platform-admin":
        user.is_platform_admin = True
    else:
        grant(user, invitation.org, invitation.role)
    invitation.accepted_at = utcnow()
    db.session.commit()
    return user
