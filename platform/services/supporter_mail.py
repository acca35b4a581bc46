"""Mail to supporters (confirmations, copies of their letters, and any later kind), and to the
contacts of organizations' sign-ons on statements (chorus.services.statement_mail composes those),
decided by the database: each mail is a `supporter_mails` row written in the same transaction as
what owes it.

Workers claim due rows with a lease, build each message inside its own try (one that cannot be built
fails with its reason and the rest go out), send over one SMTP connection and record each mail as sent
right after the server accepted it. A worker killed mid-batch repeats at most the message in flight;
its other mails go out again when the lease ends (the ticker's `supporter-mail` task starts a run
while anything is due). Redis only says "look now": a flushed queue loses nothing.

Who may be mailed is decided once, in `decide()`, which every mail passes through.
"""

from __future__ import annotations

import enum
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from functools import partial

from flask import current_app, g, render_template
from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import joinedload

from chorus import queues, tenancy
from chorus.extensions import db
from chorus.i18n import gettext
from chorus.models import Action, AuditEntry, Consent, Organization, PublicMessage, SignOn, SupporterMail, Suppression
from chorus.models.base import Timestamp, utcnow
from chorus.services import content, letters, mail, outbox, pacing, statement_mail, webhooks
from chorus.services.address_hash import email_hash
from chorus.services.mail_merge import MailMerge
from chorus.services.periodic import periodic

BATCH = 200

#: Transactional mail answers something the supporter just did and goes out even to an address that
#: left a member's list; the rest is stopped by any unsubscribe that covers its member.
TRANSACTIONAL = frozenset({"confirm"})
#: The link to the "manage my data" page, asked for on the site: an address that left everything
#: still gets it (a data-rights request must reach its owner), without any text a stranger typed.
REQUESTED = frozenset({"my_data"})
#: A member's news to the supporters who asked it for e-mail updates (the "updates" consent).
UPDATES = "updates"


def lease_seconds() -> int:
    return int(current_app.config.get("CHORUS_MAIL_LEASE", 60))


MAILS = SupporterMail.__table__


def owe(action_id: int, kind: str) -> None:
    """Record a mail owed to an action's supporter, in the caller's transaction (no commit here):
    one Core INSERT on the table, no ORM object or ORM statement on the signing hot path."""
    db.session.connection().execute(insert(MAILS), {"action_id": action_id, "kind": kind})


def owe_each(action_id: ColumnElement, kind: str) -> Insert:
    """owe() as INSERT ... SELECT, for each `action_id` its FROM yields (on PostgreSQL signing writes an
    action and the mail it owes in one statement). Every other column gets its model default, as
    owe() does: a value as it is, a time (`utcnow`) as the statement's `owed_at` parameter."""
    owed_at = bindparam("owed_at", type_=MAILS.c.created_at.type)
    row = {"action_id": action_id, "kind": literal(kind)}
    for column in MAILS.c:
        default = column.default
        if column.name in row or default is None:
            continue  # the id, and columns the database fills (NULL)
        if default.is_scalar:
            row[column.name] = literal(default.arg, column.type)
        elif default.is_callable and isinstance(column.type, Timestamp):
            row[column.name] = owed_at
        else:
            raise TypeError(f"owe_each has no value for supporter_mails.{column.name}")
    return insert(MAILS).from_select(list(row), select(*row.values()), include_defaults=False)


def remind(action_id: int, kind: str) -> None:
    """Owe this mail (again) now and commit: the confirmation a supporter may have lost, or the "you
    already took part" notice that answers a repeat instead of the page (no membership oracle)."""
    owe_now(kind, action_id=action_id)
    db.session.commit()
    queues.kick_supporter_mail()


def _row(kind: str, recipient: dict[str, int], ref: int) -> list:
    """The row of this mail to this recipient (`recipient`: {"action_id": id} or the like, one key)."""
    [(column, value)] = recipient.items()
    return [getattr(SupporterMail, column) == value, SupporterMail.ref == ref, SupporterMail.kind == kind]


def _recipient_of(action_id: int | None, sign_on_id: int | None, suppression_id: int | None) -> dict[str, int]:
    given = {"action_id": action_id, "sign_on_id": sign_on_id, "suppression_id": suppression_id}
    named = {k: v for k, v in given.items() if v is not None}
    if len(named) != 1:
        raise ValueError("a supporter mail has exactly one recipient")
    return named


def owe_once(
    kind: str,
    *,
    action_id: int | None = None,
    sign_on_id: int | None = None,
    suppression_id: int | None = None,
    ref: int = 0,
) -> bool:
    """Owe a mail to an action's supporter, a sign-on's contact or an address known only by its
    unsubscribe (`ref`: what it is about, e.g. a new version) unless it is owed, or was sent,
    already. In the caller's transaction."""
    recipient = _recipient_of(action_id, sign_on_id, suppression_id)
    if db.session.scalar(select(SupporterMail.id).where(*_row(kind, recipient, ref))) is not None:
        return False
    db.session.execute(insert(SupporterMail).values(**recipient, ref=ref, kind=kind))
    return True


def owe_now(
    kind: str,
    *,
    action_id: int | None = None,
    sign_on_id: int | None = None,
    suppression_id: int | None = None,
    ref: int = 0,
) -> None:
    """Owe this mail now, in the caller's transaction: a new row, or the one owed (or sent) before
    queued once more (a repeat the contact must hear of, a decision that changed)."""
    recipient = _recipient_of(action_id, sign_on_id, suppression_id)
    if not owe_once(kind, **recipient, ref=ref):
        db.session.execute(
            update(SupporterMail)
            .where(*_row(kind, recipient, ref), SupporterMail.status != "sending")
            .values(status="queued", next_attempt_at=utcnow(), attempts=0, last_error="")
            .execution_options(synchronize_session=False)
        )


# -- who may be mailed ----------------------------------------------------------------------------


class Decision(enum.Enum):
    SEND = "send"
    SEND_ANONYMOUS = "anonymous"  # without any text a stranger typed: the address may not be theirs
    SKIP = "skip"


def decide(kind: str, action: Action | SignOn | Sender, suppressions: list[Suppression]) -> Decision:
    """The unsubscribe scope, defined once. A member's unsubscribe link stops that member's
    non-transactional mail. "No mail from this coalition" stops everything, except the confirmation
    of an action submitted after it, which then carries no name and no comment. An unsubscribe also
    withdraws the "updates" consents whose mail it stops (see unsubscribe())."""
    coalition = [s for s in suppressions if s.org_id is None]
    if kind in REQUESTED:
        return Decision.SEND_ANONYMOUS if coalition else Decision.SEND
    if coalition:
        if kind in TRANSACTIONAL and all(action.created_at > s.created_at for s in coalition):
            return Decision.SEND_ANONYMOUS
        return Decision.SKIP
    if kind not in TRANSACTIONAL and any(s.org_id == action.org_id for s in suppressions):
        return Decision.SKIP
    return Decision.SEND


@dataclass
class Sender:
    """Who a mail would come from, for decide(): a member (org_id) about something of `created_at`."""

    org_id: int
    created_at: datetime


def member(slug: str | None) -> Organization | None:
    """The member an unsubscribe link names (None: the link names none, or the member is gone)."""
    return db.session.scalar(select(Organization).where(Organization.slug == slug)) if slug else None


def unsubscribed(addresses: list[str], org_id: int | None) -> set[str]:
    """Of these addresses, those that left this member's mail or the whole coalition's."""
    scope = or_(Suppression.org_id.is_(None), Suppression.org_id == org_id)
    return {address for address, held in suppressions_of(addresses, scope).items() if held}


def suppressions_of(addresses, *criteria) -> dict[str, list[Suppression]]:
    """The unsubscribes of each address, those its owner had erased included: erasure keeps an
    unsubscribe as the address's keyed hash (chorus.services.supporters.erase), so an objection to
    mail outlives the data and nobody without the secret key can read the address back."""
    by_key = {key: address for address in addresses for key in (address, email_hash(address))}
    found: dict[str, list[Suppression]] = {address: [] for address in addresses}
    for s in db.session.scalars(select(Suppression).where(Suppression.email_normalized.in_(by_key), *criteria)):
        found[by_key[s.email_normalized]].append(s)
    return found


def unsubscribe(email_normalized: str, org_id: int | None) -> None:
    """Stop a member's mail (org_id) or all of the coalition's (None) to this address, and withdraw
    the "updates" consents that mail would answer (again, if the supporter gave one since)."""
    suppression = db.session.scalar(
        select(Suppression).where(Suppression.email_normalized == email_normalized, Suppression.org_id == org_id)
    )
    owed = False
    if suppression is None:
        suppression = Suppression(email_normalized=email_normalized, org_id=org_id)
        db.session.add(suppression)
        owed = webhooks.owe_unsubscribe(email_normalized, org_id)  # members' systems hear of it
    _withdraw_updates(email_normalized, suppression)
    db.session.commit()
    if owed:
        webhooks.kick()


def _withdraw_updates(email_normalized: str, suppression: Suppression) -> None:
    """The "updates" consents of this address whose mail the unsubscribe now stops, as decide() says,
    are withdrawn (the rows stay, with the time; the audit log says the supporter did it)."""
    now = utcnow()
    # The supporter's own consents wherever they acted: a deliberate cross-member read of one address.
    held = db.session.scalars(
        select(Consent)
        .join(Action, Action.id == Consent.action_id)
        .where(Action.email_normalized == email_normalized, Consent.purpose == UPDATES, Consent.withdrawn_at.is_(None))
        .execution_options(all_orgs=True)
    ).all()
    stopped = [c for c in held if decide(UPDATES, Sender(c.org_id, now), [suppression]) is Decision.SKIP]
    for consent in stopped:
        consent.withdrawn_at = now
    if stopped:
        AuditEntry.record(
            "consent.withdraw",
            "supporter",
            actions=sorted({c.action_id for c in stopped}),
            organizations=sorted({c.org_id for c in stopped}),
        )


# -- composing ------------------------------------------------------------------------------------


class _Anonymous:
    """An action as a mail to an address that opted out of everything may show it: nothing typed."""

    first_name = last_name = full_name = comment = subject = body = ""

    def __init__(self, action: Action):
        self.uuid, self.language, self.email = action.uuid, action.language, action.email


def build(row: SupporterMail, decision: Decision, merge: MailMerge) -> Message:
    """One supporter mail; raises if it cannot be built (the caller marks it failed with the reason),
    statement_mail.NotOwed if it is no longer owed (the caller skips it). `merge`: the batch's
    renders, shared by the mails that differ only in their supporter (chorus.services.mail_merge)."""
    anonymous = decision is Decision.SEND_ANONYMOUS
    if row.kind in REQUESTED:
        return _my_data_message(row)
    if row.sign_on is not None:
        return statement_mail.sign_on_message(row.sign_on, row.kind, row.ref, anonymous)
    action = row.action
    if row.kind == "decision":  # on the endorser's solidarity message or the supporter's comment
        public = db.session.scalar(select(PublicMessage).where(PublicMessage.action_id == action.id))
        return statement_mail.message_decision(action, public)
    site, campaign = action.org, action.campaign
    g.lang = action.language
    context = {
        "campaign": campaign,
        "org": site,
        "campaign_url": f"{tenancy.site_root(site)}/{campaign.slug}",  # the member's own host if it has one
    }
    shared = (site.id, campaign.id)  # what the render depends on besides the supporter and `own`
    own = {}
    is_letter = campaign.kind == "letter"
    title = content.text(campaign, "title", action.language)
    message_id = f"{row.kind}.{action.uuid}"
    if row.kind == "confirm":
        own["confirm_url"] = (
            f"{tenancy.public_root(site)}/confirm/{mail.make_token('confirm', action.uuid)}"
            f"{mail.in_language(action.language)}"
        )
        subject = (
            gettext("Please confirm your letter: %(title)s", title=title)
            if is_letter
            else gettext("Please confirm your signature: %(title)s", title=title)
        )
    elif row.kind == "repeat":
        subject = (
            gettext("You already sent this letter: %(title)s", title=title)
            if is_letter
            else gettext("You already signed: %(title)s", title=title)
        )
        message_id = f"repeat.{action.uuid}.{int(utcnow().timestamp()) // 3600}"
    elif row.kind == "copy":
        body = action.body or content.text(campaign, "letter_body", action.language)
        context["letter"] = letters.compose(campaign, body, letters.signature_of(action), action.language)
        context["targets"] = letters.targets_for(campaign, action.country, action.postal_code)
        shared = None  # the letter and its targets are the supporter's own: rendered as they are
        subject = gettext("Your letter: %(title)s", title=title)
    else:
        raise ValueError(f"no template for mail kind {row.kind!r}")
    person = ("action", _Anonymous(action) if anonymous else action)
    parts = ["txt", "html"] if row.kind == "confirm" else ["txt"]
    names = [f"@{site.slug}/mail/{row.kind}.{part}" for part in parts]
    text, html = [*merge.render(names, shared, context, person, own), None][:2]
    return mail.to_supporter(to=action.email, site=site, subject=subject, text=text, html=html, message_id=message_id)


class _Coalition:
    """The sender of a link asked for by an address that unsubscribed from every member and holds
    nothing else: the coalition's own site (no member's host, no member's unsubscribe scope)."""

    name, slug, hosts = "Chorus", None, ()


def _my_data_message(row: SupporterMail) -> Message:
    """The "manage my data" link, from the member the address knows (the site of its action or
    sign-on, or the member it unsubscribed from), in its language; nothing anyone typed."""
    if row.action is not None:
        address, site, g.lang, key = row.action.email, row.action.org, row.action.language, row.action.uuid
    elif row.sign_on is not None:
        address, site, g.lang, key = row.sign_on.email, row.sign_on.org, row.sign_on.language, row.sign_on.uuid
    else:
        # An unsubscribe records no language: English, like any mail whose language is unknown.
        address, site, key = row.suppression.email_normalized, row.suppression.org or _Coalition, f"s{row.id}"
        g.lang = "en"
    return mail.to_supporter(
        to=address,
        site=site,
        subject=gettext("Your data at %(org)s", org=site.name),
        text=render_template(
            f"@{site.slug}/mail/my_data.txt" if site.slug else "mail/my_data.txt",
            org=site,
            manage_url=mail.manage_link(address, site),
        ),
        html=None,
        message_id=f"my-data.{key}.{int(utcnow().timestamp())}",
        footer=False,  # that mail is the link itself
    )


# -- sending --------------------------------------------------------------------------------------


def _due(now: datetime, held_back: timedelta = timedelta(0)):
    """Queued and due (`held_back`: due that long already), or sending under an expired lease."""
    return or_(
        and_(SupporterMail.status == "queued", SupporterMail.next_attempt_at <= now - held_back),
        and_(SupporterMail.status == "sending", SupporterMail.lease_until < now),
    )


def claim(limit: int = BATCH, held_back: timedelta = timedelta(0)) -> list[int]:
    """Take up to `limit` due mails, oldest first (see _due)."""
    now = utcnow()
    oldest_first = select(SupporterMail.id).where(_due(now, held_back)).order_by(SupporterMail.next_attempt_at)
    candidates = oldest_first.limit(limit)
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)  # workers never claim the same rows
    claimed = db.session.scalars(
        update(SupporterMail)
        .where(SupporterMail.id.in_(candidates.scalar_subquery()))
        .values(
            status="sending", lease_until=now + timedelta(seconds=lease_seconds()), attempts=SupporterMail.attempts + 1
        )
        .returning(SupporterMail.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return list(claimed)


def _record(ids: list[int], status: str, results: Connection | None = None, **values) -> None:
    """Record a result at once (committed before the next message goes): on the batch's `results`
    connection (chorus.services.outbox) while sending, else through the session."""
    if not ids:
        return
    mails = SupporterMail.__table__
    statement = update(mails).where(mails.c.id.in_(ids)).values(status=status, lease_until=None, **values)
    if results is None:
        db.session.execute(statement)
        db.session.commit()
        return
    with results.begin():
        results.execute(statement)


#: A sent mail's mark, written once as text (see chorus.services.delivery._MARK): prepared on the
#: driver on PostgreSQL (chorus.services.outbox.execute_prepared), through SQLAlchemy on SQLite.
_SENT = (
    "UPDATE supporter_mails SET status = 'sent', lease_until = NULL, sent_at = :sent_at, last_error = ''"
    " WHERE id = :id"
)
_SENT_POSTGRES = outbox.for_psycopg(_SENT)
_SENT_SQLITE = text(_SENT).bindparams(bindparam("sent_at", type_=Timestamp()))


def _record_sent(mail_id: int, results: Connection) -> None:
    params = {"id": mail_id, "sent_at": utcnow()}
    if results.dialect.name == "postgresql":
        outbox.execute_prepared(results, _SENT_POSTGRES, params)
        return
    with results.begin():
        results.execute(_SENT_SQLITE, params)


def _retry_later(mail_id: int, attempts: int, permanent: bool, detail: str, results: Connection | None = None) -> str:
    if permanent or attempts >= int(current_app.config.get("CHORUS_MAIL_ATTEMPTS", 8)):
        _record([mail_id], "failed", results, last_error=detail[:500])
        return "failed"
    base = int(current_app.config.get("CHORUS_MAIL_BACKOFF", 30))
    backoff = timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))
    _record([mail_id], "queued", results, last_error=detail[:500], next_attempt_at=utcnow() + backoff)
    return "retrying"


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Outgoing:
    id: int
    attempts: int
    message: Message


#: Seconds at most before a run looks at the machine again while a surge holds every due mail back.
HELD_BACK_LOOK = 2.0


def run(max_seconds: float = 50.0, batch: int = BATCH) -> Report:
    """Claim and send batches until nothing is due or time is up (jobs end; the next run goes on).
    While a surge keeps the machine busy, only mails owed CHORUS_MAIL_SURGE_WAIT seconds ago go
    (chorus.services.pacing) and the run waits for the next, unless another job waits for the
    worker: then the run ends, and the first kick after a short while, or the ticker, starts another."""
    report, deadline = Report(), time.monotonic() + max_seconds
    surge_wait = int(current_app.config.get("CHORUS_MAIL_SURGE_WAIT", 0))
    while time.monotonic() < deadline:
        held_back = timedelta(seconds=surge_wait) if pacing.holding_back(surge_wait) else timedelta(0)
        if ids := claim(batch, held_back):
            _send_batch(ids, report)
            continue
        if held_back and (oldest := _oldest_queued()) is not None:
            # Look again when the oldest mail may go, or sooner: the surge may end before it does.
            until_due = (oldest + held_back - utcnow()).total_seconds()
            pause = max(0.1, min(until_due, HELD_BACK_LOOK, deadline - time.monotonic()))
            queues.look_again_in(queues.SEND_SUPPORTER_MAILS, pause)  # meanwhile kicks start no other run
            if not queues.anything_waiting():
                db.session.commit()  # no snapshot held while waiting
                time.sleep(pause)
                continue
        break
    return report


def _oldest_queued() -> datetime | None:
    return db.session.scalar(select(func.min(SupporterMail.next_attempt_at)).where(SupporterMail.status == "queued"))


def _prepare(ids: list[int], report: Report) -> list[_Outgoing]:
    """Build each claimed mail inside its own try: one that cannot be built fails alone, with its reason."""
    # Each mail goes to its own action's supporter, across members: a deliberate cross-member read.
    rows = db.session.scalars(
        select(SupporterMail)
        .where(SupporterMail.id.in_(ids))
        .options(
            # What a mail reads, and not the action's consents nor the campaign's hosts and targets
            # (the copy of a letter loads its campaign's targets when it needs them).
            joinedload(SupporterMail.action).lazyload(Action.consents),
            joinedload(SupporterMail.action).joinedload(Action.campaign).lazyload("*"),
            joinedload(SupporterMail.action).joinedload(Action.org),
            joinedload(SupporterMail.sign_on),
            joinedload(SupporterMail.suppression),
        )
        .order_by(SupporterMail.id)
        .execution_options(all_orgs=True)
    ).all()
    suppressions = suppressions_of({_recipient(r).email_normalized for r in rows})
    outgoing, skipped, moved_on, failed = [], [], [], []
    merge = MailMerge()
    for row in rows:
        recipient = _recipient(row)
        if "@" not in recipient.email_normalized:  # erased since (its keyed hash stands where the address was)
            moved_on.append((row.id, "the address was erased"))
            continue
        try:
            decision = decide(row.kind, recipient, suppressions.get(recipient.email_normalized, []))
            if decision is Decision.SKIP:
                skipped.append(row.id)
                continue
            outgoing.append(_Outgoing(row.id, row.attempts, build(row, decision, merge)))
        except statement_mail.NotOwed as reason:
            moved_on.append((row.id, str(reason)))
        except Exception as error:  # noqa: BLE001 - one mail that cannot be built never stops the batch
            current_app.logger.warning("supporter mail %s cannot be built", row.id, exc_info=True)
            failed.append((row.id, f"cannot be built: {type(error).__name__}: {error}"))
    _record(skipped, "skipped", last_error="unsubscribed")
    for mail_id, reason in moved_on:
        _record([mail_id], "skipped", last_error=reason[:500])
    for mail_id, reason in failed:
        _record([mail_id], "failed", last_error=reason[:500])
    report.skipped += len(skipped) + len(moved_on)
    report.failed += len(failed)
    return outgoing


def _recipient(row: SupporterMail) -> Action | SignOn | Suppression:
    """Whom the mail goes to: an action's supporter, a sign-on's contact or an unsubscribed address
    (each carries the address, the member it concerns and when)."""
    return row.sign_on or row.suppression or row.action


def _send_batch(ids: list[int], report: Report) -> None:
    outgoing = _prepare(ids, report)
    db.session.commit()  # the session holds no snapshot while each result commits on its own connection
    renewed = time.monotonic()
    recorder = outbox.Recorder()
    with outbox.results_connection() as results:
        try:
            with mail.transport().connect() as connection:
                held = None  # every claimed mail, until a renewal says otherwise
                for n, item in enumerate(outgoing):
                    if time.monotonic() - renewed > lease_seconds() / 3:  # keep the lease while sending
                        held = _renew(outgoing[n:])
                        renewed = time.monotonic()
                    if held is not None and item.id not in held:
                        continue  # this run was frozen past its lease and another worker claimed it
                    try:
                        # Every supporter mail goes to one bare address (mail.new_message's To).
                        connection.send(item.message, to=item.message["To"], before_accept=recorder.wait)
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
                        recorder.wait()
                        permanent, detail = mail.smtp_error(error)
                        outcome = _retry_later(item.id, item.attempts, permanent, detail, results)
                        setattr(report, outcome, getattr(report, outcome) + 1)
                        continue
                    recorder.later(partial(_record_sent, item.id, results))
                    report.sent += 1
                recorder.wait()
        except (OSError, smtplib.SMTPException) as error:
            # The connection itself failed: whatever this batch did not send yet is retried later.
            recorder.wait()  # what was sent is recorded first, or it would be retried as unsent
            permanent, detail = mail.smtp_error(error)
            left = db.session.execute(
                select(SupporterMail.id, SupporterMail.attempts).where(
                    SupporterMail.id.in_(ids), SupporterMail.status == "sending"
                )
            ).all()
            for mail_id, attempts in left:
                _retry_later(mail_id, attempts, permanent, detail, results)
            report.retrying += len(left)
            report.errors.append(detail)
        finally:
            recorder.close()


def _renew(outgoing: list[_Outgoing]) -> set[int]:
    """Extend the lease of the mails this run still holds, and say which: a run frozen past its lease
    (a paused machine, SIGSTOP) finds those another worker claimed meanwhile, and sends none of them.
    claim() counts an attempt, so the attempts a mail was claimed with are this run's token."""
    held = db.session.scalars(
        update(SupporterMail)
        .where(
            tuple_(SupporterMail.id, SupporterMail.attempts).in_([(o.id, o.attempts) for o in outgoing]),
            SupporterMail.status == "sending",
        )
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds()))
        .returning(SupporterMail.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return set(held)


def outstanding() -> bool:
    return db.session.scalar(select(SupporterMail.id).where(_due(utcnow())).limit(1)) is not None


@periodic("supporter-mail", every_seconds=10)
def restart_supporter_mail() -> None:
    """Mails owed and due (new, retries, a dead worker's leases): start a run. Redis may have lost
    the job, or never heard of the mail (it was down when the supporter signed)."""
    if outstanding():
        queues.kick_supporter_mail()


def retry(mail_id: int) -> None:
    """An admin retries a failed mail (after fixing what made it fail)."""
    _record([mail_id], "queued", next_attempt_at=utcnow(), attempts=0, last_error="")
