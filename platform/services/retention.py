"""Retention: personal data is kept only as long as each campaign says.

Run by the workers' ticker (chorus.services.periodic, hourly): unconfirmed actions are deleted after
the campaign's `unconfirmed_retention_days` (default 30; they never counted), and a closed
campaign's actions are anonymized `closed_retention_days` after it closed (chorus.services.supporters
.anonymize: tallies stay), except the contact details of supporters who asked a member for e-mail
updates, which that member keeps. Statements' sign-ons follow the same periods for their contacts:
one never confirmed is deleted (it was never public), and a closed statement's sign-ons keep the
organizations' signatures without their contacts (chorus.services.supporters.anonymize_sign_ons).
Chorus stores no IP addresses (rate limits keep a counter per
address in Redis for one minute), so there is none to expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from chorus.extensions import db
from chorus.models import Action, Campaign, Consent, SignOn
from chorus.models.base import utcnow
from chorus.services import uploads
from chorus.services.periodic import periodic
from chorus.services.supporters import anonymize, anonymize_sign_ons, audit


def _ids(statement) -> list[int]:
    return list(db.session.scalars(statement.execution_options(all_orgs=True)))


@periodic("retention", every_seconds=3600)
def apply(now: datetime | None = None) -> dict[str, int]:
    """One pass over every campaign; safe to run any number of times."""
    now = now or utcnow()
    done = {"deleted": 0, "anonymized": 0, "sign_ons_deleted": 0, "sign_ons_anonymized": 0}
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
        done["sign_ons_deleted"] += _delete_unconfirmed_sign_ons(campaign, cutoff)
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
            contacts = db.session.scalars(
                select(SignOn.id).where(SignOn.campaign_id == campaign.id, SignOn.email != "")
            ).all()
            if contacts:
                anonymize_sign_ons(list(contacts))
                audit("retention.anonymize_closed", "system", campaign=campaign.id, sign_ons=len(contacts))
                done["sign_ons_anonymized"] += len(contacts)
        db.session.commit()
    return done


def _delete_unconfirmed_sign_ons(campaign: Campaign, cutoff: datetime) -> int:
    """Sign-ons whose contact never confirmed were never public: the row (and its logo) goes."""
    stale = db.session.scalars(
        select(SignOn).where(
            SignOn.campaign_id == campaign.id, SignOn.status == "pending-confirmation", SignOn.created_at < cutoff
        )
    ).all()
    if not stale:
        return 0
    logos = [s.logo for s in stale if s.logo]
    db.session.execute(
        delete(SignOn).where(SignOn.id.in_([s.id for s in stale])).execution_options(synchronize_session=False)
    )
    audit("retention.delete_unconfirmed", "system", campaign=campaign.id, sign_ons=len(stale))
    db.session.commit()
    for logo in logos:  # after the commit: a rolled-back deletion keeps its file
        uploads.remove(campaign.owner.slug, logo)
    return len(stale)


def anonymize_on(campaign: Campaign) -> datetime | None:
    """When a closed campaign's supporter data is anonymized (None while it is not closed)."""
    if campaign.status != "closed" or campaign.closed_at is None:
        return None
    return campaign.closed_at + timedelta(days=campaign.closed_retention_days)


@dataclass
class Schedule:
    """What the admin shows: what will be removed, and when (a statement's sign-ons included)."""

    pending: int
    next_deletion: datetime | None
    anonymize_on: datetime | None
    #: Sign-ons whose contact never confirmed (deleted like unconfirmed actions).
    pending_sign_ons: int = 0
    #: Sign-ons that still hold a contact (its name and address go when the statement's data is anonymized).
    sign_on_contacts: int = 0


def schedule(campaign: Campaign) -> Schedule:
    pending, oldest = db.session.execute(
        select(func.count(Action.id), func.min(Action.created_at))
        .where(Action.campaign_id == campaign.id, Action.status == "pending")
        .execution_options(all_orgs=True)  # counts only, across members
    ).one()
    pending_sign_ons, oldest_sign_on = db.session.execute(
        select(func.count(SignOn.id), func.min(SignOn.created_at)).where(
            SignOn.campaign_id == campaign.id, SignOn.status == "pending-confirmation"
        )
    ).one()
    sign_on_contacts = db.session.scalar(
        select(func.count(SignOn.id)).where(SignOn.campaign_id == campaign.id, SignOn.email != "")
    )
    oldest = min((o for o in (oldest, oldest_sign_on) if o is not None), default=None)
    next_deletion = oldest + timedelta(days=campaign.unconfirmed_retention_days) if oldest else None
    return Schedule(
        pending=pending,
        next_deletion=next_deletion,
        anonymize_on=anonymize_on(campaign),
        pending_sign_ons=pending_sign_ons,
        sign_on_contacts=sign_on_contacts,
    )
