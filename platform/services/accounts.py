"""Staff accounts: passwords (Argon2id), login throttling, TOTP, invitations."""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.i18n import LANGUAGES
from chorus.i18n import gettext as _
from chorus.models import Invitation, Membership, Organization, User
from chorus.models.accounts import ORG_ROLES, new_session_token
from chorus.models.base import utcnow
from chorus.services import mail, ratelimit

#: argon2-cffi's defaults are RFC 9106's low-memory profile: Argon2id, 64 MiB, t=3, p=4, stronger than
#: OWASP's minimum (19 MiB, t=2, p=1).
HASHER = PasswordHasher()
MIN_PASSWORD = 12
#: Sign-in attempts per 15 minutes (OWASP): per account from one address, so a stranger elsewhere cannot
#: lock the owner out, and per address across accounts. Second-factor codes: per pending sign-in (a
#: server-side counter: an old cookie replayed starts nothing afresh) and per account, which then also
#: refuses the password step until the window ends.
ACCOUNT_ADDRESS_ATTEMPTS, ADDRESS_ATTEMPTS, FAILURE_WINDOW = 5, 20, 15 * 60
CODE_ATTEMPTS_PER_SIGN_IN, CODE_ATTEMPTS_PER_ACCOUNT = 5, 10
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 254
ACCOUNT_EXISTS = "An account with this e-mail exists: sign in first, then open the link again."
INVITATION_LIFETIME = timedelta(days=7)
#: Coalition-wide roles, held without an organization (a moderator decides on statements everywhere).
COALITION_ROLES = ("platform-admin", "moderator")
ROLES = (*COALITION_ROLES, *ORG_ROLES)


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
        raise AccountError(_("The password must have at least %(num)d characters.", num=MIN_PASSWORD))
    if len(password) > 1024:
        raise AccountError(_("The password is too long."))


def hash_password(password: str) -> str:
    check_password_strength(password)
    return HASHER.hash(password)


def checked_email(email: str) -> str:
    """The normalized address, or AccountError: one rule for the CLI, invitations and sign-in."""
    email = normalize(email)
    if len(email) > MAX_EMAIL or not EMAIL_PATTERN.fullmatch(email) or not email.isprintable():
        raise AccountError(f"{email[:MAX_EMAIL]!r} is not an e-mail address")
    return email


def create_user(
    email: str, password: str, role: str, org: Organization | None = None, name: str = ""
) -> tuple[User, bool]:
    """Create an account, or add a role to an existing one (whose password stays as it is): `chorus
    admin create`. Returns the account and whether it is new."""
    email = checked_email(email)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role not in COALITION_ROLES and org is None:
        raise AccountError(f"role {role} needs an organization (--org)")
    if role in COALITION_ROLES and org is not None:
        raise AccountError(f"role {role} is the whole coalition's: it takes no organization (drop --org)")
    user = db.session.scalar(select(User).where(User.email == email))
    created = user is None
    if created:
        user = User(email=email, name=name, password_hash=hash_password(password))
        db.session.add(user)
    if role == "platform-admin":
        user.is_platform_admin = True
    elif role == "moderator":
        user.is_moderator = True
    else:
        grant(user, org, role)
    db.session.commit()
    return user, created


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
    """Check a password. Each attempt is counted before the hash is computed, in one atomic Redis
    increment, so parallel guesses cannot slip past the limit; a success gives its attempt back."""
    email = normalize(email)
    pair, address = f"login:pair:{email}|{client_address}", f"login:ip:{client_address}"
    within_pair = ratelimit.allow(pair, ACCOUNT_ADDRESS_ATTEMPTS, FAILURE_WINDOW)
    within_address = ratelimit.allow(address, ADDRESS_ATTEMPTS, FAILURE_WINDOW)
    if not (within_pair and within_address):
        return LoginResult(None, throttled=True)
    user = db.session.scalar(select(User).where(User.email == email))
    try:
        HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        return LoginResult(None)
    if ratelimit.count(_code_bucket(user)) >= CODE_ATTEMPTS_PER_ACCOUNT:
        return LoginResult(None, throttled=True)  # too many wrong codes: the whole sign-in waits
    ratelimit.reset(pair)
    ratelimit.release(address)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return LoginResult(user)


def _code_bucket(user: User) -> str:
    return f"code:acct:{user.id}"


class CodeCheck(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED = "locked"  # too many attempts: start the sign-in again (and wait, for the account limit)


def check_code(user: User, code: str, attempt_key: str, secret: str | None = None) -> CodeCheck:
    """A second-factor code, limited per pending sign-in (`attempt_key`, kept server-side) and per account."""
    within_attempt = ratelimit.allow(f"code:attempt:{attempt_key}", CODE_ATTEMPTS_PER_SIGN_IN, FAILURE_WINDOW)
    within_account = ratelimit.allow(_code_bucket(user), CODE_ATTEMPTS_PER_ACCOUNT, FAILURE_WINDOW)
    if not (within_attempt and within_account):
        return CodeCheck.LOCKED
    if not verify_totp(user, code, secret):
        return CodeCheck.WRONG
    ratelimit.release(_code_bucket(user))
    return CodeCheck.ACCEPTED


def check_password(user: User, password: str) -> bool:
    try:
        return HASHER.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def replace_second_factor(user: User, password: str, current_code: str, secret: str, new_code: str, key: str) -> None:
    """Turn on (or replace) TOTP: the password, a code of the current secret if there is one, and a
    code of the new secret, all within the code attempt limits. Raises AccountError with the reason."""
    within = ratelimit.allow(f"code:attempt:{key}", CODE_ATTEMPTS_PER_SIGN_IN, FAILURE_WINDOW)
    if not (within and ratelimit.allow(_code_bucket(user), CODE_ATTEMPTS_PER_ACCOUNT, FAILURE_WINDOW)):
        raise AccountError(_("Too many attempts. Wait 15 minutes, then try again."))
    if not check_password(user, password):
        raise AccountError(_("Wrong password."))
    if user.totp_secret and not verify_totp(user, current_code):
        raise AccountError(_("The code from your current authenticator is not valid."))
    if not verify_totp(user, new_code, secret=secret):
        raise AccountError(_("The code for the new key is not valid; check your phone's clock and try again."))
    ratelimit.release(_code_bucket(user))
    user.totp_secret = secret
    db.session.commit()


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


def remember_language(user: User, language: str | None) -> None:
    """The language the person chose in the admin (its language link) becomes their account's: the
    language of the mails Chorus sends them and the default of the invitations they send."""
    if language in LANGUAGES and user.language != language:
        user.language = language
        db.session.commit()


def invite(
    email: str, role: str, org: Organization | None, invited_by: User | None, language: str | None = None
) -> Invitation:
    """Record an invitation and have its mail sent, in `language` (by default the inviter's)."""
    email = checked_email(email)
    language = language or (invited_by.language if invited_by else "en")
    if language not in LANGUAGES:
        raise AccountError(_("Unknown language."))
    if role not in ("platform-admin", *ORG_ROLES):  # moderators are made with `chorus admin create`
        raise AccountError(_("Unknown role."))
    if (role == "platform-admin") != (org is None):
        raise AccountError(_("Org roles need an organization; platform admins have none."))
    invitation = Invitation(
        email=email,
        role=role,
        org_id=org.id if org else None,
        invited_by_id=invited_by.id if invited_by else None,
        language=language,
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
    return invitation if invitation.expires_at > utcnow() else None


def accept_invitation(invitation: Invitation, user: User | None, name: str = "", password: str = "") -> User:
    """Create the account (or extend the signed-in one) and spend the invitation in one commit.

    The invitation is spent by a conditional UPDATE first: of two acceptances at once, the second
    finds it spent (PostgreSQL makes it wait for the first) and gets an AccountError, not a 500."""
    if user is not None and user.email != invitation.email:
        raise AccountError(_("This invitation was sent to another e-mail address."))
    password_hash = hash_password(password) if user is None else ""  # before the write: it takes a while
    spent = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        db.session.rollback()
        raise AccountError(_("This invitation was already used."))
    if user is None:
        if db.session.scalar(select(func.count()).select_from(User).where(User.email == invitation.email)):
            db.session.rollback()
            raise AccountError(ACCOUNT_EXISTS)
        user = User(
            email=invitation.email, name=name.strip(), password_hash=password_hash, language=invitation.language
        )
        db.session.add(user)
    if invitation.role == "platform-admin":
        user.is_platform_admin = True
    else:
        grant(user, invitation.org, invitation.role)
    try:
        db.session.commit()
    except IntegrityError as error:  # the same address accepted another invitation at this moment
        db.session.rollback()
        raise AccountError(ACCOUNT_EXISTS) from error
    return user
