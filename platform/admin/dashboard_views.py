"""Campaign dashboards and the supporter list of one member.

The campaign page itself is campaign_views.campaign_dashboard; its dashboard partial asks for the
figures and charts through the `campaign_stats` template global, so that view stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, render_template, request
from markupsafe import Markup

from chorus.admin.blueprint import bp, requires
from chorus.models import Campaign
from chorus.services import charts, dashboard

STATUS_SERIES = ("Confirmed", "Pending")


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


@bp.app_template_global()
def campaign_stats(campaign: Campaign) -> Dashboard:
    """Counts across every member (no personal data) and their charts, for admin/_dashboard.html."""
    stats = dashboard.campaign_stats(campaign)
    unit, timeline = stats.granularity, stats.timeline
    labels = [b.start.strftime("%b %d %H:00" if unit == "hour" else "%b %d") for b in timeline]
    members = stats.by_member
    return Dashboard(
        stats,
        charts.column_chart(
            f"timeline-{campaign.slug}",
            f"Actions per {unit}",
            f"Actions taken on {campaign.title} per {unit} (UTC), from {labels[0]} to {labels[-1]}, "
            f"confirmed and still pending: {stats.overall.total:,} in all. The table below lists the figures.",
            labels,
            [
                charts.Series(STATUS_SERIES[0], [b.counts.confirmed for b in timeline]),
                charts.Series(STATUS_SERIES[1], [b.counts.pending for b in timeline]),
            ],
        ),
        charts.bar_chart(
            f"members-{campaign.slug}",
            "Actions by member site",
            f"Actions on {campaign.title} through each of {len(members)} member sites, confirmed and still "
            "pending. The table below lists the figures.",
            [m.name for m in members],
            [
                charts.Series(STATUS_SERIES[0], [m.counts.confirmed for m in members]),
                charts.Series(STATUS_SERIES[1], [m.counts.pending for m in members]),
            ],
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
