"""Campaign dashboards and the supporter list of one member.

The campaign page itself is campaign_views.campaign_dashboard; its dashboard partial asks for the
figures and charts through the `campaign_stats` template global, so that view stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_skeleton
from flask import g, render_template, request
from flask_babel import format_number
from markupsafe import Markup

from chorus.admin.blueprint import bp, requires
from chorus.i18n import current_lang, ngettext
from chorus.i18n import gettext as _
from chorus.models import Campaign
from chorus.services import charts, dashboard


@dataclass(frozen=True)
class Dashboard:
    stats: dashboard.CampaignStats
    timeline_chart: Markup
    members_chart: Markup

    @property
    def recounted_every(self) -> int:
        """Seconds after which kept figures are counted again (`stats.counted_at` says when they were)."""
        return dashboard.STATS_TTL

    def bucket_label(self, bucket: dashboard.Bucket) -> str:
        pattern = "%Y-%m-%d %H:00" if self.stats.granularity == "hour" else "%Y-%m-%d"
        return bucket.start.strftime(pattern)


def _column_label(start: datetime, unit: str) -> str:
    """A column of the time line in the reader's language ("Jan 5 14:00", "5 ene 14:00"); UTC."""
    day = format_skeleton("MMMd", start, tzinfo=UTC, locale=current_lang())
    return f"{day} {start:%H}:00" if unit == "hour" else day


def _confirmed(n: int) -> str:
    """A tooltip's figure, with the plural of the reader's language, written as its numbers are."""
    return ngettext("%(count)s confirmed", "%(count)s confirmed", n, count=format_number(n))


def _pending(n: int) -> str:
    return ngettext("%(count)s pending", "%(count)s pending", n, count=format_number(n))


def _by_status(confirmed: list[int], pending: list[int]) -> list[charts.Series]:
    """Both charts' layers, named in the reader's language; a tooltip says "3 confirmed, 1 pending"."""
    return [charts.Series(_("Confirmed"), confirmed, _confirmed), charts.Series(_("Pending"), pending, _pending)]


def _timeline_description(campaign: Campaign, unit: str, first: str, last: str, total: int) -> str:
    """One whole sentence per unit, so that translators see each one entire."""
    words = {"title": campaign.title, "first": first, "last": last, "total": format_number(total)}
    if unit == "hour":
        return _(
            "Actions taken on %(title)s per hour (UTC), from %(first)s to %(last)s, confirmed and still pending: "
            "%(total)s in all. The table below lists the figures.",
            **words,
        )
    return _(
        "Actions taken on %(title)s per day (UTC), from %(first)s to %(last)s, confirmed and still pending: "
        "%(total)s in all. The table below lists the figures.",
        **words,
    )


@bp.app_template_global()
def campaign_stats(campaign: Campaign) -> Dashboard:
    """Counts across every member (no personal data) and their charts, for admin/_dashboard.html, in the
    admin's language."""
    stats = dashboard.campaign_stats(campaign)
    unit, timeline = stats.granularity, stats.timeline
    labels = [_column_label(b.start, unit) for b in timeline]
    members = stats.by_member
    return Dashboard(
        stats,
        charts.column_chart(
            f"timeline-{campaign.slug}",
            _("Actions per hour") if unit == "hour" else _("Actions per day"),
            _timeline_description(campaign, unit, labels[0], labels[-1], stats.overall.total),
            labels,
            _by_status([b.counts.confirmed for b in timeline], [b.counts.pending for b in timeline]),
        ),
        charts.bar_chart(
            f"members-{campaign.slug}",
            _("Actions by member site"),
            ngettext(
                "Actions on %(title)s through %(num)d member site, confirmed and still pending. "
                "The table below lists the figures.",
                "Actions on %(title)s through each of %(num)d member sites, confirmed and still pending. "
                "The table below lists the figures.",
                len(members),
                title=campaign.title,
            ),
            [m.name for m in members],
            _by_status([m.counts.confirmed for m in members], [m.counts.pending for m in members]),
        ),
    )


@bp.get("/<slug:org>/supporters")
@requires("view_supporters")
def supporters():
    """Supporters this member may see; bad paging input shows page 1 or the last page, never an error."""
    search = request.args.get("q", "")
    campaign_slug = request.args.get("campaign", "")
    found = dashboard.supporters(search, campaign_slug, request.args.get("page", 1, type=int))
    return render_template(
        "admin/supporters.html",
        org=g.org,
        found=found,
        search=search.strip()[: dashboard.SEARCH_MAX_LENGTH],
        campaign_slug=campaign_slug,
        campaigns=dashboard.hosted_campaigns(g.org),
    )
