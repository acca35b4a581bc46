"""Letter campaigns: who a letter goes to, what it says, and the deliveries it becomes."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign, Delivery, DeliveryEvent, Official
from chorus.models.base import utcnow
from chorus.services import content
from chorus.text import header_unsafe

DIGEST_HOUR = 17  # UTC, when a digest campaign has no sending window
CSV_COLUMNS = ("name", "title", "office", "email", "country", "region", "district", "postal_prefixes")


def targets_for(campaign: Campaign, country: str = "", postal_code: str = "") -> list[Official]:
    """Fixed targets, or the officials whose jurisdiction covers the supporter's postal code."""
    if campaign.targeting == "fixed":
        return [t.official for t in campaign.targets]
    code = re.sub(r"\s+", "", postal_code or "").upper()
    if not code:
        return []
    candidates = db.session.scalars(
        select(Official).where(Official.country == country, Official.postal_prefixes != "").order_by(Official.id)
    )
    return [o for o in candidates if any(code.startswith(p.upper()) for p in o.postal_prefixes.split())]


def compose(campaign: Campaign, body: str, signature: str, lang: str | None = None) -> str:
    """The letter as the target reads it: the fixed greeting and closing around the supporter's text,
    in the language the supporter wrote in (`lang`: the action's; the request's by default)."""
    greeting, closing = (content.text(campaign, f, lang) for f in ("letter_greeting", "letter_closing"))
    parts = [greeting.strip(), body.strip(), closing.strip(), signature.strip()]
    return "\n\n".join(p for p in parts if p)


def signature_of(signer) -> str:
    """How a letter is signed: the name, then the place where the campaign asked for it. `signer`: a
    stored Action (or a row of its columns), or the Supporter a letter form describes (its preview
    shows the letter as it is sent)."""
    place = " ".join(p for p in (signer.postal_code, signer.country) if p)
    return f"{signer.full_name}\n{place}".strip()


def digest_due_at(campaign: Campaign, now: datetime) -> datetime:
    """Digests go once a day: at the start of the sending window, or at 17:00 UTC."""
    hour = campaign.send_window_start if campaign.send_window_start is not None else DIGEST_HOUR
    due = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def create_deliveries(action_id: int, campaign: Campaign, country: str, postal_code: str) -> int:
    """One queued delivery per target, in the caller's transaction (committed with the confirmation)."""
    targets = targets_for(campaign, country, postal_code)
    now = utcnow()
    due = digest_due_at(campaign, now) if campaign.delivery_mode == "digest" else now
    for official in targets:
        delivery = Delivery(action_id=action_id, official_id=official.id, campaign_id=campaign.id, next_attempt_at=due)
        delivery.events.append(DeliveryEvent(status="queued", detail="letter confirmed"))
        db.session.add(delivery)
    return len(targets)


@dataclass
class ImportReport:
    created: int
    updated: int


class ImportError_(ValueError):  # noqa: N801 - not the builtin ImportError
    """The CSV has bad rows; nothing was imported. One line per bad row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def import_officials(text: str) -> ImportReport:
    """Create or update officials from CSV (keyed by e-mail and office); all rows or none."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("name", "email") if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportError_([f"line 1: missing column(s): {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"])
    unknown = [c for c in reader.fieldnames if c not in CSV_COLUMNS]
    if unknown:
        raise ImportError_([f"line 1: unknown column(s): {', '.join(unknown)}"])
    problems, rows = [], []
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        if not row.get("name"):
            problems.append(f"line {line}: name is empty")
        try:
            # As supporters' addresses (chorus.services.signing.validated_email): one every server takes.
            checked = validate_email(row.get("email", ""), check_deliverability=False, allow_smtputf8=False)
            row["email"] = checked.ascii_email
        except EmailNotValidError as error:
            problems.append(f"line {line}: email {row.get('email', '')!r}: {error}")
        row["country"] = (row.get("country") or "US").upper()
        if not re.fullmatch(r"[A-Z]{2}", row["country"]):
            problems.append(f"line {line}: country must be two letters (ISO 3166-1), not {row['country']!r}")
        for key, limit in (("name", 200), ("title", 200), ("office", 200), ("region", 100), ("district", 100)):
            if len(row.get(key, "")) > limit:
                problems.append(f"line {line}: {key} is longer than {limit} characters")
            if header_unsafe(row.get(key, "")):  # names and titles reach the To header
                problems.append(f"line {line}: {key} contains a line break or control character")
        rows.append(row)
    if problems:
        raise ImportError_(problems)
    existing = {(o.email, o.office): o for o in db.session.scalars(select(Official))}
    created = updated = 0
    for row in rows:
        official = existing.get((row["email"], row.get("office", "")))
        if official is None:
            official = Official(email=row["email"], office=row.get("office", ""))
            db.session.add(official)
            existing[(official.email, official.office)] = official
            created += 1
        else:
            updated += 1
        for key in ("name", "title", "country", "region", "district", "postal_prefixes"):
            setattr(official, key, row.get(key, "") if key != "country" else row["country"])
    db.session.commit()
    return ImportReport(created, updated)


def retry(delivery: Delivery) -> None:
    """Put a failed delivery back in the queue (the dead-letter list's Retry button)."""
    if delivery.status != "failed":
        return
    delivery.status, delivery.attempts, delivery.next_attempt_at = "queued", 0, utcnow()
    delivery.events.append(DeliveryEvent(status="queued", detail="retried by an admin"))
    db.session.commit()
