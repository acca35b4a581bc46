"""Retention: personal data is kept only as long as each campaign says.

Run by the workers' ticker (chorus.services.periodic, hourly): unconfirmed actions are deleted after
the campaign's `unconfirmed_retention_days` (default 30; they never counted), and a closed
campaign's actions are anonymized `closed_retention_days` after it closed (chorus.services.supporters
.anonymize: tallies stay), except the contact details of supporters who asked a member for e-mail
updates, which that member keeps. Chorus stores no IP addresses (rate limits keep a counter per
address in Redis for one minute), so there is none to expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from chorus.extensions import db
from chorus.models import Action, Campaign, Consent
from chorus.models.base import utcnow
from chorus.services.periodic import periodic
from chorus.services.supporters import anonymize, audit


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ids(statement) -> list[int]:
    return list(db.session.scalars(statement.execution_options(all_orgs=True)))


@periodic("retention", every_seconds=3600)
def apply(now: datetime | None = None) -> dict[str, int]:
    """One pass over every campaign; safe to run any number of times."""
    now = now or utcnow()
    done = {"deleted": 0, "anonymized": 0}
    for campaign in db.session.scalars(select(Campaign).order_by(Campaign.id)).all():
        cutoff = now - timedelta(days=campaign.unconfirmed_retention_days)
        stale = _ids(
            select(Action.id).where(
                Action.campaign_id == campaign.id, Action.status == "pending", Action.created_at < cutoff
            )
        )
        if stale:
            db.session.execute(
                delete(Action)
                .where(Action.id.in_(stale))
                .execution_options(all_orgs=True, synchronize_session=False)
            )
            audit("retention.delete_unconfirmed", "system", campaign=campaign.id, actions=len(stale))
            done["deleted"] += len(stale)
        due = anonymize_on(campaign)
        if due is not None and due <= now:
            named = _ids(select(Action.id).where(Action.campaign_id == campaign.id, Action.email != ""))
            if named:
                keep = set(
                    _ids(
                        select(Consent.action_id).where(
                            Consent.action_id.in_(named), Consent.purpose == "updates", Consent.withdrawn_at.is_(None)
                        )
                    )
                )
                anonymize([i for i in named if i not in keep])
                if keep:
                    anonymize(sorted(keep), keep_contact=True)
                audit("retention.anonymize_closed", "system", campaign=campaign.id, actions=len(named))
                done["anonymized"] += len(named) - len(keep)
        db.session.commit()
    return done


def anonymize_on(campaign: Campaign) -> datetime | None:
    """When a closed campaign's supporter data is anonymized (None while it is not closed)."""
    if campaign.status != "closed" or campaign.closed_at is None:
        return None
    return _aware(campaign.closed_at) + timedelta(days=campaign.closed_retention_days)


@dataclass
class Schedule:
    """What the admin shows: what will be removed, and when."""

    pending: int
    next_deletion: datetime | None
    anonymize_on: datetime | None


def schedule(campaign: Campaign) -> Schedule:
    pending, oldest = db.session.execute(
        select(func.count(Action.id), func.min(Action.created_at))
        .where(Action.campaign_id == campaign.id, Action.status == "pending")
        .execution_options(all_orgs=True)  # counts only, across members
    ).one()
    next_deletion = _aware(oldest) + timedelta(days=campaign.unconfirmed_retention_days) if oldest else None
    return Schedule(pending=pending, next_deletion=next_deletion, anonymize_on=anonymize_on(campaign))
