"""The rules of running a campaign: drafting, the publish/pause/close lifecycle, and sharing it with
other members, who accept to host it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.models import Campaign, CampaignHost, CampaignTarget, Organization
from chorus.models.base import new_uuid, utcnow
from chorus.services import content, slugs, tally, uploads

#: action -> (statuses it applies to, the status it leads to)
TRANSITIONS = {
    "publish": (("draft", "paused"), "live"),
    "pause": (("live",), "paused"),
    "close": (("live", "paused"), "closed"),
    "reopen": (("closed",), "live"),
}


#: A campaign's status in the admin's language.
STATUS_NAMES = {"draft": _l("draft"), "live": _l("live"), "paused": _l("paused"), "closed": _l("closed")}


#: The lifecycle's buttons.
ACTION_NAMES = {"publish": _l("Publish"), "pause": _l("Pause"), "close": _l("Close"), "reopen": _l("Reopen")}
ACTION_DONE = {"publish": _l("published"), "pause": _l("paused"), "close": _l("closed"), "reopen": _l("reopened")}


def status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


LETTER_FIELDS = (
    "letter_subject",
    "letter_greeting",
    "letter_body",
    "letter_closing",
    "targeting",
    "delivery_mode",
    "daily_cap_per_target",
    "send_window_start",
    "send_window_end",
)


class CampaignError(ValueError):
    """The request cannot be done; the message says why, next to `field` when a form field caused it."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def end_date(campaign: Campaign) -> date | None:
    """The day a campaign ends: it takes actions until that day's end, UTC."""
    if campaign.ends_at is None:
        return None
    return campaign.ends_at.astimezone(UTC).date()


def _apply(campaign: Campaign, form) -> None:
    campaign.title = form.title.data.strip()
    campaign.slug = form.slug.data.strip()
    campaign.summary = (form.summary.data or "").strip()
    campaign.addressee = (form.addressee.data or "").strip()
    campaign.ask_location = bool(form.ask_location.data)
    campaign.public_comments = bool(form.public_comments.data)
    campaign.body = form.body.data or ""
    campaign.goal = form.goal.data
    campaign.require_confirmation = bool(form.require_confirmation.data)
    campaign.unconfirmed_retention_days = form.unconfirmed_retention_days.data or 30
    campaign.closed_retention_days = form.closed_retention_days.data or 365
    ends = form.ends_at.data
    campaign.ends_at = datetime.combine(ends, time.max, tzinfo=UTC) if ends else None
    campaign.image_alt = (form.image_alt.data or "").strip()
    campaign.thanks_text = (form.thanks_text.data or "").strip()
    content.set_translations(campaign, form.translations())
    if form.image.image is not None:  # named by the campaign's uuid, set before this runs, and the content
        campaign.image = uploads.store(campaign.owner.slug, f"campaign-{campaign.uuid}", form.image.image)
    if campaign.kind == "letter":
        for name in LETTER_FIELDS:
            setattr(campaign, name, getattr(form, name).data)
        campaign.letter_max_length = form.letter_max_length.data or 5000
        wanted = set(form.targets.data or []) if campaign.targeting == "fixed" else set()
        campaign.targets = [t for t in campaign.targets if t.official_id in wanted] + [
            CampaignTarget(official_id=i) for i in wanted - {t.official_id for t in campaign.targets}
        ]


def _check(form, campaign: Campaign | None) -> None:
    """What the form cannot know: the address is free, and a new end date is not already past (an
    ended campaign keeps its date, so its other fields stay editable)."""
    why = slugs.problem(form.slug.data, 80)
    if why:
        raise CampaignError(why, "slug")
    if _slug_taken(form.slug.data, campaign.id if campaign else None):
        raise CampaignError(_("Another campaign already uses this address."), "slug")
    ends = form.ends_at.data
    if ends is not None and ends != (end_date(campaign) if campaign else None) and ends < utcnow().date():
        raise CampaignError(_("This end date has passed: choose today or a later day."), "ends_at")


def _slug_taken(slug: str, campaign_id: int | None) -> bool:
    existing = db.session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    return existing is not None and existing != campaign_id


def create(owner: Organization, form) -> Campaign:
    _check(form, None)
    campaign = Campaign(uuid=new_uuid(), owner=owner, kind=form.kind.data, status="draft")
    _apply(campaign, form)
    campaign.hosts = [CampaignHost(org_id=owner.id, accepted=True)]
    db.session.add(campaign)
    _commit_unless_slug_taken()
    return campaign


def _commit_unless_slug_taken() -> None:
    """_check saw the address free; a concurrent request (a double click) may have taken it since."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise CampaignError(_("Another campaign already uses this address."), "slug") from None


def update(campaign: Campaign, form) -> None:
    _check(form, campaign)
    old_slug = campaign.slug
    _apply(campaign, form)
    _commit_unless_slug_taken()
    tally.forget_campaign(old_slug)
    tally.forget_campaign(campaign.slug)


def change_status(campaign: Campaign, action: str) -> None:
    if action not in TRANSITIONS:
        raise CampaignError(_("Unknown action."))
    allowed_from, target = TRANSITIONS[action]
    if campaign.status not in allowed_from:
        raise CampaignError(
            _(
                "A %(status)s campaign cannot be %(action)s… choose another action.",
                status=status_name(campaign.status),
                action=ACTION_DONE[action],
            )
        )
    if campaign.kind == "statement" and campaign.status == "draft":
        raise CampaignError(_("A statement is published when a coalition moderator approves its text."))
    campaign.status = target
    campaign.closed_at = utcnow() if target == "closed" else None  # retention counts from here
    db.session.commit()
    tally.forget_campaign(campaign.slug)


def invite_hosts(campaign: Campaign, orgs: list[Organization]) -> int:
    """Ask other members to host the campaign; they see the request on their admin home."""
    present = {h.org_id for h in campaign.hosts}
    added = [CampaignHost(org_id=o.id, accepted=False) for o in orgs if o.id not in present]
    campaign.hosts.extend(added)
    db.session.commit()
    return len(added)


def respond_to_hosting(campaign: Campaign, org: Organization, accept: bool) -> None:
    host = next((h for h in campaign.hosts if h.org_id == org.id), None)
    if host is None or host.org_id == campaign.owner_org_id:
        raise CampaignError(_("There is no hosting request for this campaign."))
    if accept:
        host.accepted = True
    else:
        campaign.hosts.remove(host)
    db.session.commit()
    tally.forget_campaign(campaign.slug)


def remove_host(campaign: Campaign, org: Organization) -> None:
    respond_to_hosting(campaign, org, accept=False)
