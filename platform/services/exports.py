"""CSV exports of a campaign's actions: one implementation for the admin screen, its RQ job and the CLI.

An export holds personal data, so it is always written as one member (`tenancy.acting_for`): the
file has the actions taken through that member's site and those whose supporters shared their
details with it, nothing else. Rows are streamed from a server-side cursor straight into the file,
so memory stays flat however large the campaign is.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Row

from chorus import queues, tenancy
from chorus.extensions import db
from chorus.models import Action, Campaign, CampaignHost, Export, Organization, User
from chorus.models.base import utcnow
from chorus.services import storage
from chorus.services.periodic import periodic

HEADER = (
    "id",
    "first_name",
    "last_name",
    "email",
    "postal_code",
    "country",
    "comment",
    "member_site",
    "status",
    "created_at",
    "confirmed_at",
)
#: Rows fetched per round trip from the server-side cursor.
STREAM_BATCH = 2_000
#: Rows between two progress updates of the export row.
PROGRESS_EVERY = 5_000
#: An unfinished export this recent is returned instead of starting another (a double click).
DEDUPE_WINDOW = timedelta(minutes=30)
RECENT = 10
#: Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """Bad input to an export; the message is one line for the operator or admin."""


def hosted_campaign(org: Organization, slug: str) -> Campaign | None:
    """A campaign `org` owns or was asked to host: the only ones it can export."""
    return db.session.scalar(
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(Campaign.slug == slug, CampaignHost.org_id == org.id)
    )


def export_target(campaign_slug: str, org_slug: str | None) -> tuple[Campaign, Organization]:
    """The campaign and the member to export as (its owner unless `org_slug` names another host)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == campaign_slug))
    if campaign is None:
        raise ExportError(f"no campaign {campaign_slug!r}")
    if org_slug is None:
        return campaign, campaign.owner
    org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise ExportError(f"no organization {org_slug!r}")
    if hosted_campaign(org, campaign_slug) is None:
        raise ExportError(f"{org_slug!r} does not host campaign {campaign_slug!r}")
    return campaign, org


def create_export(org: Organization, campaign: Campaign, requested_by: User | None) -> Export:
    """Record the request and queue its job; a second click while one is still running returns that one."""
    recent = db.session.scalar(
        select(Export)
        .where(
            Export.org_id == org.id,
            Export.campaign_id == campaign.id,
            Export.status.in_(("queued", "running")),
            Export.created_at > utcnow() - DEDUPE_WINDOW,
        )
        .order_by(Export.id.desc())
        .limit(1)
    )
    if recent is not None:
        return recent
    export = Export(
        org_id=org.id,
        campaign_id=campaign.id,
        requested_by_id=requested_by.id if requested_by else None,
        filename=f"{campaign.slug}-{org.slug}-{utcnow():%Y-%m-%d}.csv",
        lease_until=_lease_end(),
    )
    db.session.add(export)
    db.session.commit()
    queues.enqueue(queues.EXPORT_CAMPAIGN_CSV, export.id, job_timeout=3600)
    return export


def _lease_end() -> datetime:
    return utcnow() + timedelta(seconds=int(current_app.config.get("CHORUS_EXPORT_LEASE", 300)))


@periodic("exports", every_seconds=30)
def restart_lost_exports() -> None:
    """Queue again the exports whose job was lost (Redis forgot its queue, or its worker died)."""
    overdue = db.session.scalars(
        select(Export.id).where(Export.status.in_(("queued", "running")), Export.lease_until < utcnow())
    ).all()
    for export_id in overdue:
        _record(export_id, lease_until=_lease_end())
        queues.enqueue(queues.EXPORT_CAMPAIGN_CSV, export_id, job_timeout=3600)


def _claim(export_id: int) -> bool:
    """Start an export's run unless another job runs it (or it is finished): one UPDATE decides."""
    with db.engine.begin() as connection:
        claimed = connection.execute(
            update(Export)
            .where(
                Export.id == export_id,
                or_(Export.status == "queued", and_(Export.status == "running", Export.lease_until < utcnow())),
            )
            .values(status="running", rows_done=0, error="", lease_until=_lease_end())
        ).rowcount
    return claimed == 1


def recent_exports(org: Organization, campaign: Campaign, limit: int = RECENT) -> list[Export]:
    return list(
        db.session.scalars(
            select(Export)
            .where(Export.org_id == org.id, Export.campaign_id == campaign.id)
            .order_by(Export.id.desc())
            .limit(limit)
        )
    )


def find_export(org: Organization, export_uuid: str) -> Export | None:
    """Only the member that asked for an export may see it, whoever else is signed in."""
    return db.session.scalar(select(Export).where(Export.uuid == export_uuid, Export.org_id == org.id))


def file_path(export: Export) -> Path:
    """The export's working file on this node, while it is written (then moved into storage)."""
    return Path(current_app.config["CHORUS_INSTANCE"]) / "exports" / f"{export.uuid}.csv"


def file_key(export: Export) -> str:
    """Where the finished file lives in chorus.services.storage, for every node to serve."""
    return f"exports/{export.uuid}.csv"


def count_rows(campaign_id: int) -> int:
    """How many actions the current member may see (scoped by chorus.tenancy)."""
    return db.session.scalar(select(func.count(Action.id)).where(Action.campaign_id == campaign_id)) or 0


def iter_rows(campaign_id: int) -> Iterator[Row]:
    """The current member's rows, streamed: columns, not ORM objects, `STREAM_BATCH` at a time."""
    statement = (
        select(
            Action.uuid,
            Action.first_name,
            Action.last_name,
            Action.email,
            Action.postal_code,
            Action.country,
            Action.comment,
            Organization.slug,
            Action.status,
            Action.created_at,
            Action.confirmed_at,
        )
        .join(Organization, Organization.id == Action.org_id)
        .where(Action.campaign_id == campaign_id)
        .order_by(Action.id)
        .execution_options(yield_per=STREAM_BATCH, stream_results=True)
    )
    result = db.session.execute(statement)
    try:
        yield from result
    finally:
        result.close()


def write_csv(out: TextIO, campaign_id: int, on_progress: Callable[[int], None] | None = None) -> int:
    """Write the header and the current member's rows to `out`; returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    written = 0
    for row in iter_rows(campaign_id):
        writer.writerow(
            (
                row.uuid,
                csv_cell(row.first_name),
                csv_cell(row.last_name),
                csv_cell(row.email),
                csv_cell(row.postal_code),
                row.country,
                csv_cell(row.comment),
                row.slug,
                row.status,
                iso_utc(row.created_at),
                iso_utc(row.confirmed_at),
            )
        )
        written += 1
        if on_progress is not None and written % PROGRESS_EVERY == 0:
            on_progress(written)
    return written


def run_export(export_id: int) -> bool:
    """Write one export's file (the RQ job's body). A finished export is left alone; a failure is recorded.

    Progress goes through its own short transactions on another connection: committing the session
    would close the server-side cursor the rows stream from.
    """
    if not _claim(export_id):
        return False
    export = db.session.get(Export, export_id)
    org, campaign_id, target = export.org, export.campaign_id, file_path(export)
    partial = target.with_name(target.name + ".part")
    try:
        with tenancy.acting_for(org):
            export.rows_total = count_rows(campaign_id)
            db.session.commit()
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            private = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
            with open(private, "w", encoding="utf-8", newline="") as out:
                written = write_csv(
                    out, campaign_id, lambda done: _record(export_id, rows_done=done, lease_until=_lease_end())
                )
            storage.storage().save(file_key(export), partial)
    except Exception as error:
        db.session.rollback()
        failure = f"{type(error).__name__}: {error}"[:2000]
        _record(export_id, status="failed", error=failure, finished_at=utcnow(), lease_until=None)
        with suppress(OSError):
            partial.unlink(missing_ok=True)
        raise  # RQ keeps the job and its traceback in the failed registry
    _record(export_id, status="done", rows_done=written, rows_total=written, finished_at=utcnow(), lease_until=None)
    db.session.commit()  # ends the read transaction; the session's copy of the row is reloaded on next use
    return True


def _record(export_id: int, **values) -> None:
    """Update the export row on a connection of its own, in a short transaction of its own."""
    with db.engine.begin() as connection:
        connection.execute(update(Export).where(Export.id == export_id).values(**values))


def csv_cell(value: str) -> str:
    """Free text from supporters, defused for spreadsheets with a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def iso_utc(moment: datetime | None) -> str:
    """ISO-8601 in UTC."""
    return "" if moment is None else moment.astimezone(UTC).isoformat()
