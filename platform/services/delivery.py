"""Delivering letters: claim due deliveries with a lease, send them over one SMTP connection, and
record each result at once, so a worker killed mid-batch can repeat at most the message in flight.

Temporary failures (SMTP 4xx, lost connections) are retried with exponential backoff; permanent ones
(5xx) are marked failed and listed for admins to retry. Officials are not flooded: per-domain rate
limits, per-target daily caps, an optional sending window with deliveries paced evenly across it,
and digest campaigns that send one message per target per day with the new letters attached.
"""

from __future__ import annotations

import smtplib
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime
from functools import partial

from flask import current_app
from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import lazyload

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, Delivery, DeliveryEvent, Official
from chorus.models.base import Timestamp, utcnow
from chorus.services import letters, mail, outbox
from chorus.services.periodic import periodic

BATCH = 100
MAX_ATTEMPTS = 8


def lease_seconds() -> int:
    return int(current_app.config.get("CHORUS_DELIVERY_LEASE", 60))


def domain_rate_per_minute() -> int:
    return int(current_app.config.get("CHORUS_DOMAIN_RATE", 1200))


@dataclass
class Claim:
    """Deliveries one worker took, under one token. While it sends, a keeper thread renews their lease
    every third of it (on a connection of its own), so however slow one SMTP send is, another worker
    never finds the lease expired while this one is alive; if the lease did run out (a process
    stalled, then resumed), renewal returns fewer rows and this worker drops the ones it lost before
    sending them, and every result is recorded only where the token still matches."""

    token: str
    ids: list[int]
    held: set[int] = field(default_factory=set)
    stopping: threading.Event = field(default_factory=threading.Event)
    keeper: threading.Thread | None = None
    results: Connection | None = None  # where `_record` commits each result (see `recording`)
    renewed: float = 0.0  # time.monotonic() of the last renewal

    def renew(self) -> set[int]:
        """Extend the lease of the rows still ours (on a connection of its own: any thread may call it)."""
        self.renewed = time.monotonic()
        with db.engine.begin() as conn:
            self.held = set(
                conn.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(self.ids), Delivery.claim_token == self.token, Delivery.status == "sending")
                    .values(lease_until=utcnow() + timedelta(seconds=lease_seconds()))
                    .returning(Delivery.id)
                ).scalars()
            )
        return self.held

    def keep(self) -> None:
        """Renew at once (the rows still ours), then every third of the lease until released."""
        self.renew()
        app = current_app._get_current_object()
        interval = lease_seconds() / 3

        def run() -> None:
            with app.app_context():
                while not self.stopping.wait(interval):
                    try:
                        self.renew()
                    except Exception:  # noqa: BLE001 - a failed renewal is retried; the lease covers a miss
                        app.logger.warning("could not renew the lease of a delivery batch", exc_info=True)

        self.keeper = threading.Thread(target=run, name="chorus-delivery-lease", daemon=True)
        self.keeper.start()

    @contextmanager
    def recording(self):
        """Results go on their own connection while the batch is sent (chorus.services.outbox)."""
        with outbox.results_connection() as connection:
            self.results = connection
            try:
                yield
            finally:
                self.results = None

    def release(self) -> None:
        self.stopping.set()
        if self.keeper is not None:
            self.keeper.join()


def claim(limit: int = BATCH) -> Claim:
    """Take up to `limit` due deliveries (queued and due, or sending with an expired lease)."""
    now = utcnow()
    token = uuid.uuid4().hex
    due = or_(
        and_(Delivery.status == "queued", Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.lease_until < now),
    )
    candidates = select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)  # workers never claim the same rows
    claimed = (
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(candidates.scalar_subquery()))
            .values(
                status="sending",
                lease_until=now + timedelta(seconds=lease_seconds()),
                attempts=Delivery.attempts + 1,
                claim_token=token,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return Claim(token, list(claimed))


#: Mark deliveries still held by a claim (values not given stay as they are). Written once as text:
#: building and hashing the Core statements anew for every letter cost more than running them.
_MARK = (
    "UPDATE deliveries SET status = :status, claim_token = NULL, lease_until = NULL,"
    " sent_at = COALESCE(:sent_at, sent_at), message_id = COALESCE(:message_id, message_id),"
    " last_error = COALESCE(:last_error, last_error), next_attempt_at = COALESCE(:next_attempt_at, next_attempt_at)"
    " WHERE id {ids} AND claim_token = :token AND status = 'sending' RETURNING id"
)
#: PostgreSQL: the mark and its history events in one statement (a data-modifying CTE), one round trip
#: committed by itself on the autocommitting results connection, prepared on the driver.
_MARK_AND_LOG_POSTGRES = outbox.for_psycopg(
    f"WITH marked AS ({_MARK.format(ids='= ANY(CAST(:ids AS BIGINT[]))')}) INSERT INTO delivery_events"
    " (delivery_id, at, status, detail) SELECT id, :at, :status, :detail FROM marked"
)
#: SQLite has no data-modifying CTE: `_record` inserts the events after the mark, in one transaction.
_MARK_SQLITE = text(_MARK.format(ids="IN :ids")).bindparams(
    bindparam("ids", expanding=True), *(bindparam(name, type_=Timestamp()) for name in ("sent_at", "next_attempt_at"))
)


def _record(claim: Claim, delivery_ids: list[int], status: str, detail: str, **values) -> None:
    """Mark deliveries still held by this claim and add a history event for each, committed at once
    (never after the next send). Rows another claim took over are left to it."""
    connection, now = claim.results, utcnow()
    params = dict.fromkeys(("sent_at", "message_id", "last_error", "next_attempt_at"))
    params.update(values, ids=delivery_ids, token=claim.token, status=status, detail=detail[:500], at=now)
    if connection.dialect.name == "postgresql":
        outbox.execute_prepared(connection, _MARK_AND_LOG_POSTGRES, params)
        return
    with connection.begin():
        recorded = connection.execute(_MARK_SQLITE, params).scalars().all()
        if recorded:
            connection.execute(
                insert(DeliveryEvent.__table__),
                [{"delivery_id": i, "status": status, "detail": detail[:500], "at": now} for i in recorded],
            )


def _sent(claim: Claim, ids: list[int], message_id: str = "") -> None:
    _record(claim, ids, "sent", "delivered", sent_at=utcnow(), message_id=message_id)


def _defer(token: str, ids: list[int], until: datetime, reason: str) -> None:
    """Not attempted (rate limit, cap, window): back to the queue without spending an attempt."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claim_token == token)
        .values(
            status="queued", next_attempt_at=until, lease_until=None, attempts=Delivery.attempts - 1, claim_token=None
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _failed_attempt(claim: Claim, ids: list[int], attempts: int, permanent: bool, detail: str) -> None:
    if permanent or attempts >= MAX_ATTEMPTS:
        _record(claim, ids, "failed", detail, last_error=detail[:500])
        return
    backoff = timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
    _record(
        claim,
        ids,
        "queued",
        f"will retry: {detail}",
        last_error=detail[:500],
        next_attempt_at=utcnow() + backoff,
    )


# -- flood control --------------------------------------------------------------------------------


def _window_start(campaign: Campaign, now: datetime, days_ahead: int = 0) -> datetime:
    hour = campaign.send_window_start if campaign.send_window_start is not None else 0
    day = (now + timedelta(days=days_ahead)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day if day > now else day + timedelta(days=1)


def _in_window(campaign: Campaign, now: datetime) -> bool:
    start, end = campaign.send_window_start, campaign.send_window_end
    if start is None or end is None:
        return True
    return start <= now.hour < end if start < end else (now.hour >= start or now.hour < end)


def _domain_of(delivery: Letter) -> str:
    return delivery.official.email.rsplit("@", 1)[-1].lower()


def _domain_budget(deliveries: list[Letter], now: datetime) -> Counter:
    """How many of this batch's letters each recipient domain may still take this minute: one INCRBY
    per domain and batch (not one INCR per letter), counting every letter that asked, as before."""
    wanted = Counter(
        _domain_of(d) for d in deliveries if d.campaign.delivery_mode != "digest" and _in_window(d.campaign, now)
    )
    minute = int(now.timestamp() // 60)
    pipe = redis_store.client.pipeline(transaction=False)
    for domain, n in wanted.items():
        pipe.incrby(f"chorus:deliver:domain:{domain}:{minute}", n)
        pipe.expire(f"chorus:deliver:domain:{domain}:{minute}", 120)
    totals = pipe.execute()[::2]
    limit = domain_rate_per_minute()
    return Counter(
        {domain: max(0, min(n, limit - (total - n))) for (domain, n), total in zip(wanted.items(), totals, strict=True)}
    )


def _gate(delivery: Letter, now: datetime, budget: Counter) -> datetime | None:
    """When this delivery may go instead of now, or None if it may go now (and is counted)."""
    campaign, r = delivery.campaign, redis_store.client
    if not _in_window(campaign, now):
        return _window_start(campaign, now)
    domain = _domain_of(delivery)
    if budget[domain] <= 0:
        return datetime.fromtimestamp((int(now.timestamp() // 60) + 1) * 60, UTC)
    budget[domain] -= 1
    cap = campaign.daily_cap_per_target
    if cap:
        target = f"{campaign.id}:{delivery.official.id}"
        day_key = f"chorus:deliver:cap:{target}:{now:%Y%m%d}"
        if r.incr(day_key) > cap:
            r.decr(day_key)
            return _window_start(campaign, now, days_ahead=1)
        r.expire(day_key, 2 * 86400)
        if campaign.send_window_start is not None and campaign.send_window_end is not None:
            hours = (campaign.send_window_end - campaign.send_window_start) % 24 or 24
            interval = hours * 3600 / cap  # paced evenly across the window
            slot_key = f"chorus:deliver:slot:{target}"
            slot = float(r.get(slot_key) or 0)
            if now.timestamp() < slot:
                r.decr(day_key)
                return datetime.fromtimestamp(slot, UTC)
            r.set(slot_key, now.timestamp() + interval, ex=2 * 86400)
    return None


# -- messages -------------------------------------------------------------------------------------


def _letter_message(delivery: Letter) -> Message:
    action, campaign, official = delivery.action, delivery.campaign, delivery.official
    text = letters.compose(campaign, action.body or campaign.letter_body, letters.signature_of(action), action.language)
    headers = {
        "From": (f"{action.full_name} via Chorus".replace('"', "'"), f"letters@{mail.mail_domain()}"),
        "Reply-To": ("", action.email),
        "To": (official.addressed, official.email),
        "Subject": action.subject or campaign.letter_subject or campaign.title,
        "Date": format_datetime(utcnow()),
        "Message-ID": f"<letter.{delivery.uuid}@{mail.mail_domain()}>",
        "X-Chorus-Delivery": delivery.uuid,
        "X-Chorus-Campaign": campaign.slug,
    }
    return mail.plain_message(headers, text)


def _digest_message(deliveries: list[Letter], now: datetime) -> tuple[Message, str]:
    campaign, official = deliveries[0].campaign, deliveries[0].official
    message_id = f"digest.{campaign.id}.{official.id}.{now:%Y%m%d%H%M%S}.{deliveries[0].uuid[:8]}"
    headers = {
        "From": (f"{campaign.owner.name} via Chorus".replace('"', "'"), f"letters@{mail.mail_domain()}"),
        "To": (official.addressed, official.email),
        "Subject": f"{len(deliveries)} new letters: {campaign.letter_subject or campaign.title}",
        "Date": format_datetime(utcnow()),
        "Message-ID": f"<{message_id}@{mail.mail_domain()}>",
        "X-Chorus-Delivery": ", ".join(d.uuid for d in deliveries),
        "X-Chorus-Campaign": campaign.slug,
    }
    text = (
        f"{official.addressed},\n\n{len(deliveries)} constituents wrote to you through the campaign "
        f"“{campaign.title}” since the last digest. Their letters are attached, one file each.\n"
    )
    attachments = []
    for n, d in enumerate(deliveries, start=1):
        letter = letters.compose(
            campaign, d.action.body or campaign.letter_body, letters.signature_of(d.action), d.action.language
        )
        subject = d.action.subject or campaign.letter_subject
        attachments.append((f"letter-{n:04d}.txt", f"Subject: {subject}\n\n{letter}\n"))
    return mail.plain_message(headers, text, attachments=attachments), message_id


# -- the loop -------------------------------------------------------------------------------------


@dataclass
class Letter:
    """A claimed delivery as its batch needs it: the supporter's name, address and words as a plain
    row (`_LETTER_COLUMNS`; loading a hundred Action objects a batch was a fifth of a worker's CPU),
    its campaign and target as objects the batch shares."""

    id: int
    uuid: str
    attempts: int
    campaign: Campaign
    official: Official
    action: Row


_LETTER_COLUMNS = (
    Action.full_name.label("full_name"),
    Action.email,
    Action.body,
    Action.subject,
    Action.language,
    Action.postal_code,
    Action.country,
)


def _letters(ids: set[int]) -> list[Letter]:
    # Each letter carries its supporter's name and text, across members: a deliberate cross-member read.
    rows = db.session.execute(
        select(Delivery.id, Delivery.uuid, Delivery.attempts, Delivery.campaign_id, Delivery.official_id)
        .add_columns(*_LETTER_COLUMNS)
        .join(Action, Action.id == Delivery.action_id)
        .where(Delivery.id.in_(sorted(ids)))
        .order_by(Delivery.id)
        .execution_options(all_orgs=True)
    ).all()
    campaigns = _by_id(Campaign, {r.campaign_id for r in rows})
    officials = _by_id(Official, {r.official_id for r in rows})
    return [Letter(r.id, r.uuid, r.attempts, campaigns[r.campaign_id], officials[r.official_id], r) for r in rows]


def _by_id(model, ids: set[int]) -> dict:
    """The batch's campaigns or targets, without their collections (what a letter needs is columns)."""
    query = select(model).where(model.id.in_(ids)).options(lazyload("*")).execution_options(all_orgs=True)
    found = db.session.scalars(query)
    return {o.id: o for o in found}


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    deferred: int = 0
    batches: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)


def run(max_seconds: float = 50.0, batch: int = BATCH) -> Report:
    """Claim and send batches until nothing is due or time is up (jobs must end; the next one goes on)."""
    report, deadline = Report(), time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        taken = claim(batch)
        if not taken.ids:
            break
        report.batches += 1
        taken.keep()
        try:
            with taken.recording():
                _send_batch(taken, report)
        finally:
            taken.release()
    return report


@dataclass
class Outgoing:
    """A message ready to send, with the plain values its result needs: everything is read from the
    database before the first send, so the commit after each send never makes the ORM reload it."""

    ids: list[int]
    to: str
    attempts: int
    message: Message
    message_id: str = ""


def _prepare(taken: Claim, report: Report) -> list[Outgoing]:
    now = utcnow()
    report.lost_claims += len(set(taken.ids) - taken.held)
    deliveries = _letters(taken.held)
    outgoing: list[Outgoing] = []
    digests: dict[tuple[int, int], list[Letter]] = defaultdict(list)
    deferred: dict[datetime, list[int]] = defaultdict(list)
    budget = _domain_budget(deliveries, now)
    for d in deliveries:
        if d.campaign.delivery_mode == "digest":
            digests[(d.campaign.id, d.official.id)].append(d)
            continue
        until = _gate(d, now, budget)
        if until is not None:
            deferred[until].append(d.id)
            continue
        try:
            outgoing.append(Outgoing([d.id], d.official.email, d.attempts, _letter_message(d)))
        except Exception as error:  # noqa: BLE001 - one letter that cannot be built never stops the batch
            _unbuildable(taken, [d.id], error, report)
    for group in digests.values():
        try:
            message, message_id = _digest_message(group, now)
        except Exception as error:  # noqa: BLE001 - as above, for one target's digest
            _unbuildable(taken, [d.id for d in group], error, report)
            continue
        attempts = max(d.attempts for d in group)
        outgoing.append(Outgoing([d.id for d in group], group[0].official.email, attempts, message, message_id))
    for until, deferred_ids in deferred.items():
        _defer(taken.token, deferred_ids, until, "flood control")
        report.deferred += len(deferred_ids)
    return outgoing


def _unbuildable(claim: Claim, ids: list[int], error: Exception, report: Report) -> None:
    """Failed with its reason (admins see it and retry after an edit); the rest of the batch goes out."""
    current_app.logger.warning("letters %s cannot be built", ids, exc_info=True)
    detail = mail.build_failure(error)
    _record(claim, ids, "failed", detail, last_error=detail)
    report.failed += len(ids)


def _send_batch(taken: Claim, report: Report) -> None:
    outgoing = _prepare(taken, report)
    db.session.commit()  # the session holds no snapshot while each result commits on its own connection
    recorder = outbox.Recorder()
    try:
        with mail.transport().connect() as connection:
            for item in outgoing:
                if time.monotonic() - taken.renewed > lease_seconds() / 3:
                    taken.renew()  # the keeper is late (this process was frozen): `held` may be stale
                if not taken.held.issuperset(item.ids):
                    report.lost_claims += len(item.ids)  # the lease ran out and another worker took it
                    continue
                try:
                    connection.send(item.message, to=item.to, before_accept=recorder.wait)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
                    recorder.wait()
                    permanent, detail = mail.smtp_error(error)
                    _failed_attempt(taken, item.ids, item.attempts, permanent, detail)
                    report.failed += len(item.ids) if permanent else 0
                    report.retrying += 0 if permanent else len(item.ids)
                    continue
                recorder.later(partial(_sent, taken, item.ids, item.message_id))
                report.sent += len(item.ids)
            recorder.wait()
    except (OSError, smtplib.SMTPException) as error:
        # The connection itself failed: whatever this batch did not send yet retries later.
        recorder.wait()  # what was sent is recorded first, or it would be retried as unsent
        permanent, detail = mail.smtp_error(error)
        left = db.session.execute(
            select(Delivery.id, Delivery.attempts).where(
                Delivery.id.in_(taken.ids), Delivery.status == "sending", Delivery.claim_token == taken.token
            )
        ).all()
        for delivery_id, attempts in left:
            _failed_attempt(taken, [delivery_id], attempts, permanent, detail)
        report.retrying += len(left)
        report.errors.append(detail)
    finally:
        recorder.close()


def outstanding() -> bool:
    """Anything a later run must handle: queued (now or later) or in flight under a lease."""
    return bool(db.session.scalar(select(Delivery.id).where(Delivery.status.in_(("queued", "sending"))).limit(1)))


def counts_by_target(campaign_id: int) -> list[tuple[str, str, dict[str, int]]]:
    """Per target: (name, e-mail, {status: count}) for the campaign's admins."""
    from chorus.models import Official

    rows = db.session.execute(
        select(Official.name, Official.email, Delivery.status, func.count())
        .join(Official, Official.id == Delivery.official_id)
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Official.name, Official.email, Delivery.status)
        .order_by(Official.name)
    ).all()
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("queued", "sending", "sent", "failed"), 0)
    )
    for name, email, status, n in rows:
        table[(name, email)][status] = n
    return [(name, email, statuses) for (name, email), statuses in table.items()]


@periodic("letter-delivery", every_seconds=5)
def restart_delivery() -> None:
    """While letters wait (retries, caps, windows, a dead worker's leases), start a delivery run:
    a killed worker's letters go out again soon after its lease ends, well within two minutes,
    without relying on RQ's own detection of abandoned jobs (about 7 minutes)."""
    if outstanding():
        queues.kick_delivery()
