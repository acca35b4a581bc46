"""Webhooks: each confirmed action (an organization's sign-on too, and an unsubscribe) becomes an
outbox row per endpoint of every member that may see it, written in the transaction that confirms
it; RQ jobs POST them in batches in Action Network's format, signed, with retries and backoff. An
endpoint that keeps failing is paused and its admins are told by mail.

Addresses are checked at every delivery, on the address actually connected to (no second DNS
lookup between the check and the connection), and redirects are never followed: a member cannot
point Chorus at its internal network, not even by changing DNS after registration.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import func, insert, select, update

from chorus import queues, tenancy
from chorus.extensions import db, redis_store
from chorus.i18n import gettext as _
from chorus.i18n import in_language
from chorus.models import (
    Action,
    Consent,
    Contact,
    Membership,
    Organization,
    SignOn,
    User,
    WebhookEndpoint,
    WebhookEvent,
)
from chorus.models.base import new_uuid, utcnow
from chorus.services.periodic import periodic

BATCH = 25
TIMEOUT = 10
MAX_ATTEMPTS = 12
BACKOFF_FIRST = 30  # seconds, doubling, at most an hour
BACKOFF_MAX = 3600
#: What a campaign's confirmed action is called in the webhook (statements appear as petitions).
ACTION_KINDS = {"petition": "signature", "letter": "outreach", "statement": "endorsement"}
LOG_PAGE = 50


class WebhookError(ValueError):
    """A URL that cannot be used, or a delivery that failed; the message is for the member's admin."""


# --- registration ------------------------------------------------------------------------------


def _allow_private() -> bool:
    return current_app.config["CHORUS_WEBHOOK_ALLOW_PRIVATE"]


def check_url(url: str) -> str:
    """The URL if Chorus may POST to it: HTTPS (plain HTTP only when private addresses are allowed),
    no credentials, a host that resolves to public addresses only."""
    url = url.strip()
    if len(url) > 500:
        raise WebhookError(_("The address is too long (500 characters at most)."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookError(_("This is not a valid web address.")) from error
    schemes = ("https", "http") if _allow_private() else ("https",)
    if parts.scheme not in schemes:
        raise WebhookError(_("The address must start with https://."))
    if not parts.hostname or parts.username or parts.password:
        raise WebhookError(_("The address needs a host name and no user name or password."))
    resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def resolve(host: str, port: int) -> str:
    """The address to connect to; refuses loopback, private, link-local and other non-public ones
    (every address the name has must be public) unless CHORUS_WEBHOOK_ALLOW_PRIVATE=1."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookError(_("The host name %(host)s does not resolve.", host=host)) from error
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not _allow_private():
        bad = [a for a in addresses if _forbidden(a)]
        if bad:
            raise WebhookError(
                _(
                    "%(host)s resolves to a non-public address (%(address)s); webhooks go to public hosts only.",
                    host=host,
                    address=bad[0],
                )
            )
    return str(addresses[0])


def register(org: Organization, url: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(org_id=org.id, url=check_url(url))
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def endpoints_of(org: Organization) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org.id).order_by(WebhookEndpoint.id))
    )


def endpoint_of(org: Organization, endpoint_uuid: str) -> WebhookEndpoint | None:
    return db.session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.org_id == org.id, WebhookEndpoint.uuid == endpoint_uuid)
    )


def remove(endpoint: WebhookEndpoint) -> None:
    db.session.delete(endpoint)
    db.session.commit()


def resume(endpoint: WebhookEndpoint) -> None:
    """Unpause: what waited is due at once."""
    endpoint.paused_at = None
    endpoint.failures = 0
    db.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.endpoint_id == endpoint.id, WebhookEvent.status == "queued")
        .values(next_attempt_at=utcnow())
    )
    db.session.commit()


def send_again(endpoint: WebhookEndpoint, event_uuid: str) -> bool:
    """The delivery log's "send again": the event is queued once more, due now."""
    result = db.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.endpoint_id == endpoint.id, WebhookEvent.uuid == event_uuid)
        .values(status="queued", next_attempt_at=utcnow(), attempts=0)
    )
    db.session.commit()
    return result.rowcount == 1


def log(endpoint: WebhookEndpoint) -> list[WebhookEvent]:
    return list(
        db.session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.endpoint_id == endpoint.id)
            .order_by(WebhookEvent.id.desc())
            .limit(LOG_PAGE)
        )
    )


# --- the outbox --------------------------------------------------------------------------------


def _owe(
    kind: str,
    org_ids: list[int],
    action_id: int | None = None,
    email_normalized: str = "",
    sign_on_id: int | None = None,
) -> int:
    """Outbox rows for every live endpoint of these members, in the caller's transaction."""
    endpoint_ids = db.session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.org_id.in_(set(org_ids)), WebhookEndpoint.paused_at.is_(None))
    ).all()
    if endpoint_ids:
        db.session.execute(
            insert(WebhookEvent),
            [
                {
                    "uuid": new_uuid(),
                    "endpoint_id": endpoint_id,
                    "kind": kind,
                    "action_id": action_id,
                    "sign_on_id": sign_on_id,
                    "email_normalized": email_normalized,
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": utcnow(),
                    "last_error": "",
                    "created_at": utcnow(),
                }
                for endpoint_id in endpoint_ids
            ],
        )
    return len(endpoint_ids)


def owe_action(action_id: int, campaign_kind: str, org_ids: list[int]) -> int:
    """A confirmed action: owed to the members that may see it (its site and those it is shared with)."""
    return _owe(ACTION_KINDS[campaign_kind], org_ids, action_id=action_id)


def owe_sign_on(sign_on_id: int, site_id: int) -> int:
    """A confirmed sign-on (its contact confirmed, or a member's key vouched): owed to the member
    whose site it came through, the one that may see its contact (chorus.tenancy)."""
    return _owe("sign_on", [site_id], sign_on_id=sign_on_id)


def owe_unsubscribe(email_normalized: str, org_id: int | None) -> int:
    """An unsubscribe from one member's mail (`org_id`): owed to that member only (the others' lists
    did not change, and telling them would tell them of the person's tie to it). From the whole
    coalition's: owed to every member that may see this person, reading only member ids across
    members (a deliberate cross-member read). The body is built later inside each member's scope."""
    if org_id is not None:
        return _owe("unsubscribe", [org_id], email_normalized=email_normalized)
    action_ids = select(Action.id).where(Action.email_normalized == email_normalized)
    org_ids = set(db.session.scalars(action_ids.with_only_columns(Action.org_id).execution_options(all_orgs=True)))
    org_ids |= set(
        db.session.scalars(
            select(Consent.org_id)
            .where(Consent.action_id.in_(action_ids), Consent.purpose == "share", Consent.withdrawn_at.is_(None))
            .execution_options(all_orgs=True)
        )
    )
    org_ids |= set(
        db.session.scalars(
            select(Contact.org_id).where(Contact.email_normalized == email_normalized).execution_options(all_orgs=True)
        )
    )
    return _owe("unsubscribe", list(org_ids), email_normalized=email_normalized) if org_ids else 0


def kick() -> None:
    """Ask a worker to deliver soon (after the outbox rows are committed)."""
    queues.kick_webhooks()


@periodic("webhooks", every_seconds=5)
def retry_due() -> None:
    """Retries whose backoff ended, and anything a lost job left: start a run while something is due."""
    if outstanding():
        queues.kick_webhooks()


def outstanding() -> bool:
    """Anything due now (for the periodic ticker)."""
    return (
        db.session.scalar(
            select(WebhookEvent.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookEvent.endpoint_id)
            .where(
                WebhookEvent.status == "queued",
                WebhookEvent.next_attempt_at <= utcnow(),
                WebhookEndpoint.paused_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


# --- delivery ----------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": receivers check it and refuse old timestamps."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _item(event: WebhookEvent, org: Organization) -> dict | None:
    """One event in Action Network's webhook format, or None if the member may no longer see it."""
    from chorus.services import osdi

    sponsor = {"title": org.name, "url": f"{current_app.config['CHORUS_BASE_URL']}/{org.slug}/"}
    if event.kind == "unsubscribe":
        from chorus.models.api import person_uuid_for

        person = osdi.person(person_uuid_for(event.email_normalized))
        if person is None:
            return None
        doc = {"person": osdi.person_doc(person), "created_date": osdi.iso(event.created_at)}
        return {"chorus:unsubscription": doc, "action_network:sponsor": sponsor, "idempotency_key": event.uuid}
    if event.kind == "sign_on":
        sign_on = db.session.get(SignOn, event.sign_on_id) if event.sign_on_id else None
        if sign_on is None or not tenancy.sees_sign_on_contact(sign_on):
            return None
        doc = osdi.sign_on_doc(sign_on, org)
        return {"chorus:sign_on": doc, "action_network:sponsor": sponsor, "idempotency_key": event.uuid}
    action = db.session.scalar(select(Action).where(Action.id == event.action_id))
    if action is None:
        return None
    doc = osdi.action_doc(action)
    doc["person"] = osdi.person_doc(osdi.person_of_action(action), links=False)
    doc["add_tags"] = []
    key = "osdi:outreach" if event.kind == "outreach" else "osdi:signature"
    return {key: doc, "action_network:sponsor": sponsor, "idempotency_key": event.uuid}


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to next."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST once; the HTTP status (redirects are answers, not followed). WebhookError when unsent."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(parts.hostname or "", port)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname or "", address, port, TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    except (OSError, http.client.HTTPException) as error:
        raise WebhookError(f"{type(error).__name__}: {error}"[:300]) from error
    finally:
        connection.close()


@dataclass
class RunResult:
    batches: int = 0
    sent: int = 0
    failed: int = 0


def deliver(endpoint_id: int) -> RunResult:
    """Send one batch of an endpoint's due events (inside its member's scope) and record the answer."""
    lock = redis_store.client.lock(f"chorus:webhooks:endpoint:{endpoint_id}", timeout=BATCH * TIMEOUT + 30)
    if not lock.acquire(blocking=False):
        return RunResult()  # another worker is sending this endpoint's batch: never twice at once
    try:
        return _deliver(endpoint_id)
    finally:
        lock.release()


def _deliver(endpoint_id: int) -> RunResult:
    result = RunResult()
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if endpoint is None or endpoint.paused_at is not None:
        return result
    now = utcnow()
    events = db.session.scalars(
        select(WebhookEvent)
        .where(
            WebhookEvent.endpoint_id == endpoint.id,
            WebhookEvent.status == "queued",
            WebhookEvent.next_attempt_at <= now,
        )
        .order_by(WebhookEvent.id)
        .limit(BATCH)
    ).all()
    if not events:
        return result
    org = endpoint.org
    items, sendable = [], []
    with tenancy.acting_for(org):
        for event in events:
            try:
                item = _item(event, org)
            except Exception as error:  # noqa: BLE001 - one bad event never stops the batch
                event.status, event.last_error = "failed", f"could not be built: {error}"[:300]
                continue
            if item is None:
                event.status, event.last_error = "failed", "no longer shared with this member; not sent"
                continue
            items.append(item)
            sendable.append(event)
    db.session.commit()
    if not items:
        return result
    body = json.dumps(items, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Chorus-Webhooks/1",
        "X-Chorus-Timestamp": timestamp,
        "X-Chorus-Signature": f"sha256={sign(endpoint.secret, timestamp, body)}",
    }
    status, error = None, ""
    try:
        status = post(endpoint.url, body, headers)
    except WebhookError as failure:
        error = str(failure)
    now = utcnow()
    result.batches = 1
    ok = status is not None and 200 <= status < 300
    for event in sendable:
        event.attempts += 1
        event.last_status = status
        if ok:
            event.status, event.sent_at, event.last_error = "sent", now, ""
            continue
        event.last_error = error or f"HTTP {status}"
        if event.attempts >= MAX_ATTEMPTS:
            event.status = "failed"
        else:
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (event.attempts - 1))
            event.next_attempt_at = now + timedelta(seconds=delay)
    if ok:
        endpoint.failures, endpoint.last_success_at = 0, now
        result.sent = len(sendable)
    else:
        endpoint.failures += 1
        result.failed = len(sendable)
        if endpoint.failures >= current_app.config["CHORUS_WEBHOOK_PAUSE_AFTER"]:
            endpoint.paused_at = now
    db.session.commit()
    if endpoint.paused_at is not None and not ok:
        _tell_admins(endpoint, error or f"HTTP {status}")
    return result


def _tell_admins(endpoint: WebhookEndpoint, reason: str) -> None:
    """Mail the member's admins, each in their account's language."""
    from chorus.services import mail

    admins = db.session.execute(
        select(User.email, User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == endpoint.org_id, Membership.role == "org-admin")
    ).all()
    if not admins:
        return
    org = endpoint.org
    link = mail.external_url(f"/admin/{org.slug}/integrations")
    messages = []
    for address, language in admins:
        with in_language(language):
            messages.append(
                mail.new_message(
                    to=address,
                    subject=_("Webhook paused: %(host)s", host=urlsplit(endpoint.url).hostname),
                    text=render_template(
                        "mail/webhook_paused.txt", endpoint=endpoint, org=org, reason=reason, link=link
                    ),
                    html=None,
                    sender=mail.default_sender(org.name),
                    message_id=f"webhook-paused.{endpoint.uuid}.{int(time.time())}",
                    unsubscribe=mail.unsubscribe_url(address, None),
                )
            )
    mail.transport().send(messages)


def run(max_seconds: float = 30) -> RunResult:
    """Deliver what is due, endpoint by endpoint, batch by batch, until nothing is due or time is up."""
    total = RunResult()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        due = db.session.scalars(
            select(WebhookEvent.endpoint_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookEvent.endpoint_id)
            .where(
                WebhookEvent.status == "queued",
                WebhookEvent.next_attempt_at <= utcnow(),
                WebhookEndpoint.paused_at.is_(None),
            )
            .group_by(WebhookEvent.endpoint_id)
            .order_by(func.min(WebhookEvent.id))
        ).all()
        if not due:
            break
        busy = 0
        for endpoint_id in due:
            outcome = deliver(endpoint_id)
            busy += outcome.batches
            total.batches += outcome.batches
            total.sent += outcome.sent
            total.failed += outcome.failed
        if not busy:
            break  # what is due belongs to runs in other workers
    return total
