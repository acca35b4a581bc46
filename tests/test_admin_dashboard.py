"""The campaign dashboard (counts across members, charts drawn on the server) and each member's
supporter list (personal data, scoped to that member)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from chorus import queues, tenancy
from chorus.extensions import db
from chorus.models import Action
from chorus.services import dashboard, periodic, tally
from tests.factories import (
    add_actions,
    login,
    make_campaign,
    make_org,
    make_user,
    run_jobs,
    session_csrf,
    sign,
    supporter,
)


def figure(html: str, name: str) -> str:
    match = re.search(rf'id="figure-{name}">([^<]*)<', html)
    assert match, f"no {name} figure on the page"
    return match.group(1)


def member_row(html: str, slug: str) -> list[str]:
    match = re.search(rf'<tr data-member="{slug}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {slug}"
    return [cell.strip() for cell in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", match.group(1))]


@pytest.fixture
def shared_campaign(client):
    alpha, beta = make_org("alpha", name="Alpha Union"), make_org("beta", name="Beta Congregations")
    campaign = make_campaign(alpha, hosts=[beta], slug="shared", title="Shared petition")
    add_actions(campaign, alpha, 3, status="confirmed", prefix="ac")
    add_actions(campaign, alpha, 1, status="pending", prefix="ap")
    add_actions(campaign, beta, 1, status="confirmed", prefix="bc")
    add_actions(campaign, beta, 1, status="pending", prefix="bp")
    return alpha, beta, campaign


def test_dashboard_shows_totals_per_member_counts_and_conversion(client, shared_campaign):
    make_user("admin@alpha.example", "org-admin", shared_campaign[0])
    login(client, "admin@alpha.example")

    html = client.get("/admin/alpha/campaigns/shared").get_data(as_text=True)

    assert "Total: 4 of 100" in html  # the shared tally: confirmed actions only
    assert (figure(html, "actions"), figure(html, "confirmed"), figure(html, "pending")) == ("6", "4", "2")
    assert figure(html, "conversion") == "67%"
    assert member_row(html, "alpha") == ["Alpha Union", "3", "1", "75%"]
    assert member_row(html, "beta") == ["Beta Congregations", "1", "1", "50%"]


def test_dashboard_draws_accessible_svg_charts_without_scripts_or_cdn(client, shared_campaign):
    make_user("admin@alpha.example", "org-admin", shared_campaign[0])
    login(client, "admin@alpha.example")

    html = client.get("/admin/alpha/campaigns/shared").get_data(as_text=True)

    charts = re.findall(r"<svg [^>]*>.*?</svg>", html, re.S)
    assert len(charts) == 2
    for chart in charts:
        assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
    assert "Actions by member site" in charts[1] and "Alpha Union: 3 confirmed, 1 pending" in charts[1]
    # Nothing loaded from elsewhere (a CDN); not `"cdn" in html`: a random CSRF token may hold those letters.
    assert "<script" not in html and not re.search(r'<(?:link|img|iframe)\b[^>]*(?:src|href)="(?:https?:)?//', html)


def test_dashboard_charts_are_drawn_in_the_admins_language(client, shared_campaign):
    make_user("admin@alpha.example", "org-admin", shared_campaign[0])
    login(client, "admin@alpha.example")

    html = client.get("/admin/alpha/campaigns/shared?lang=es").get_data(as_text=True)

    timeline, members = re.findall(r"<svg [^>]*>.*?</svg>", html, re.S)
    assert "Acciones por hora" in timeline and "Acciones por sitio miembro" in members
    assert ">Confirmadas</text>" in members and ">Pendientes</text>" in members
    today = datetime.now(UTC)
    months = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic")
    assert f"{today.day} {months[today.month - 1]} " in timeline  # the columns' dates, as Spanish writes them
    assert "Confirmed" not in timeline + members and "Pending" not in timeline + members  # the legends


def test_dashboard_of_a_guest_member_counts_every_site_but_names_no_supporter(client, shared_campaign):
    _alpha, beta, _campaign = shared_campaign
    make_user("editor@beta.example", "org-editor", beta)
    login(client, "editor@beta.example")

    html = client.get("/admin/beta/campaigns/shared").get_data(as_text=True)

    assert member_row(html, "alpha")[1:3] == ["3", "1"]
    assert "@example.org" not in html and "Supporter" not in html


def test_young_campaign_is_charted_per_hour_with_empty_hours_filled(app):
    now = datetime(2025, 5, 3, 12, 30, tzinfo=UTC)
    owner = make_org("alpha")
    campaign = make_campaign(owner, created_at=now - timedelta(hours=30, minutes=20))
    add_actions(campaign, owner, 2, start=datetime(2025, 5, 2, 6, 20, tzinfo=UTC), prefix="early")
    add_actions(campaign, owner, 1, status="pending", start=datetime(2025, 5, 2, 6, 50, tzinfo=UTC), prefix="wait")
    add_actions(campaign, owner, 1, start=datetime(2025, 5, 3, 11, 4, tzinfo=UTC), prefix="late")

    stats = dashboard.campaign_stats(campaign, now=now)

    assert stats.granularity == "hour"
    assert [b.start for b in (stats.timeline[0], stats.timeline[-1])] == [
        datetime(2025, 5, 2, 6, tzinfo=UTC),
        datetime(2025, 5, 3, 12, tzinfo=UTC),
    ]
    assert len(stats.timeline) == 31
    assert stats.timeline[0].counts == dashboard.StatusCounts(confirmed=2, pending=1)
    assert stats.timeline[-2].counts == dashboard.StatusCounts(confirmed=1, pending=0)
    assert sum(b.counts.total for b in stats.timeline) == 4


def test_older_campaign_is_charted_per_day_and_a_closed_one_ends_at_its_last_action(app):
    now = datetime(2025, 5, 20, 9, 0, tzinfo=UTC)
    owner = make_org("alpha")
    live = make_campaign(owner, created_at=now - timedelta(days=10))
    closed = make_campaign(owner, status="closed", created_at=now - timedelta(days=10))
    for campaign in (live, closed):
        add_actions(campaign, owner, 3, start=datetime(2025, 5, 12, 23, 0, tzinfo=UTC), every=timedelta(minutes=30))

    live_stats = dashboard.campaign_stats(live, now=now)
    closed_stats = dashboard.campaign_stats(closed, now=now)

    assert live_stats.granularity == "day" and len(live_stats.timeline) == 11
    by_day = {b.start.day: b.counts.confirmed for b in live_stats.timeline if b.counts.total}
    assert by_day == {12: 1, 13: 2}  # 23:30 on the 12th, then 00:00 and 00:30 on the 13th
    assert closed_stats.timeline[-1].start == datetime(2025, 5, 13, tzinfo=UTC)


@pytest.fixture
def three_members_signed(client):
    alpha, beta, gamma = make_org("alpha"), make_org("beta"), make_org("gamma")
    campaign = make_campaign(alpha, hosts=[beta, gamma], require_confirmation=False, slug="water")
    sign(client, "alpha", "water", supporter("via-alpha@example.org", first_name="Zoraida"))
    sign(client, "beta", "water", supporter("via-beta@example.org", first_name="Quirino"))
    sign(client, "beta", "water", supporter("shared@example.org", first_name="Yolotl", share_with="alpha"))
    return alpha, beta, gamma, campaign


def test_supporter_list_shows_own_and_shared_supporters_never_another_members(client, three_members_signed):
    alpha, beta, _gamma, _campaign = three_members_signed
    make_user("admin@alpha.example", "org-admin", alpha)
    make_user("editor@beta.example", "org-editor", beta)

    login(client, "admin@alpha.example")
    alpha_page = client.get("/admin/alpha/supporters").get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": session_csrf(client, "/admin/alpha/")})
    login(client, "editor@beta.example")
    beta_page = client.get("/admin/beta/supporters").get_data(as_text=True)

    assert "Zoraida" in alpha_page and "Yolotl" in alpha_page
    assert "Quirino" not in alpha_page and "via-beta@example.org" not in alpha_page
    assert "Quirino" in beta_page and "Yolotl" in beta_page and "Zoraida" not in beta_page
    assert "<strong>2</strong> supporters" in alpha_page


def test_supporter_search_matches_name_or_email_ignoring_case(client, three_members_signed):
    make_user("admin@alpha.example", "org-admin", three_members_signed[0])
    login(client, "admin@alpha.example")

    def found(query: str) -> set[str]:
        html = client.get("/admin/alpha/supporters", query_string={"q": query}).get_data(as_text=True)
        return {name for name in ("Zoraida", "Yolotl", "Quirino") if f"<td>{name} Ruiz</td>" in html}

    assert found("zORAida") == {"Zoraida"}
    assert found("SHARED@") == {"Yolotl"}
    assert found("yolotl ruiz") == {"Yolotl"}
    assert found("ruiz") == {"Zoraida", "Yolotl"}
    assert found("%") == set()  # a wildcard is a literal character, not "everything"


def test_supporter_list_filters_by_campaign(client):
    alpha = make_org("alpha")
    water, rent = make_campaign(alpha, slug="water"), make_campaign(alpha, slug="rent")
    add_actions(water, alpha, 2, prefix="water")
    add_actions(rent, alpha, 3, prefix="rent")
    make_user("editor@alpha.example", "org-editor", alpha)
    login(client, "editor@alpha.example")

    html = client.get("/admin/alpha/supporters?campaign=rent").get_data(as_text=True)
    unknown = client.get("/admin/alpha/supporters?campaign=no-such-campaign")

    assert html.count("@example.org") == 3 and "water001@" not in html
    assert unknown.status_code == 200 and "No supporter matches." in unknown.get_data(as_text=True)


def test_supporter_list_pages_120_supporters_in_three_pages_of_50(client):
    alpha = make_org("alpha")
    add_actions(make_campaign(alpha), alpha, 120, prefix="s")
    make_user("editor@alpha.example", "org-editor", alpha)
    login(client, "editor@alpha.example")

    first = client.get("/admin/alpha/supporters").get_data(as_text=True)
    last = client.get("/admin/alpha/supporters?page=3").get_data(as_text=True)

    assert "<strong>120</strong> supporters" in first and "Page 1 of 3" in first
    assert first.count("@example.org") == 50 and "s120@example.org" in first  # newest first
    assert 'aria-label="Next page, page 2"' in first and "Previous page" not in first
    assert last.count("@example.org") == 20 and "s001@example.org" in last and "Page 3 of 3" in last
    assert 'aria-label="Previous page, page 2"' in last and "Next page" not in last


@pytest.mark.parametrize(("page", "shown"), [("abc", "Page 1 of 3"), ("-4", "Page 1 of 3"), ("99999", "Page 3 of 3")])
def test_unusable_page_numbers_show_the_first_or_last_page(client, page, shown):
    alpha = make_org("alpha")
    add_actions(make_campaign(alpha), alpha, 101)
    make_user("editor@alpha.example", "org-editor", alpha)
    login(client, "editor@alpha.example")

    response = client.get("/admin/alpha/supporters", query_string={"page": page})

    assert response.status_code == 200 and shown in response.get_data(as_text=True)


def test_editor_of_another_member_gets_404_for_its_supporters(client, three_members_signed):
    make_user("editor@beta.example", "org-editor", three_members_signed[1])
    login(client, "editor@beta.example")

    response = client.get("/admin/alpha/supporters")

    assert response.status_code == 404 and "Zoraida" not in response.get_data(as_text=True)


def test_anonymous_visitor_is_sent_to_login_for_supporters(client, three_members_signed):
    response = client.get("/admin/alpha/supporters")

    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_member_home_links_to_its_supporters(client):
    alpha = make_org("alpha")
    make_user("editor@alpha.example", "org-editor", alpha)
    login(client, "editor@alpha.example")

    html = client.get("/admin/alpha/").get_data(as_text=True)

    assert 'href="/admin/alpha/supporters"' in html


def test_big_supporter_list_counts_up_to_a_threshold_then_estimates_and_seeks_pages(client, monkeypatch):
    org = make_org("alpha")
    campaign = make_campaign(org, title="Clean water")
    add_actions(campaign, org, 130)
    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    monkeypatch.setattr(dashboard, "EXACT_COUNT_UP_TO", 100)

    with tenancy.acting_for(org):
        first, third = dashboard.supporters(page=1), dashboard.supporters(page=3)
        everyone = db.session.scalars(select(Action.email).order_by(Action.created_at.desc(), Action.id.desc())).all()
    assert [r.email for r in first.rows] == everyone[:50]
    assert [r.email for r in third.rows] == everyone[100:]
    if db.engine.dialect.name == "postgresql":
        assert first.estimated and first.total >= 101
    else:
        assert (first.estimated, first.total, first.pages) == (False, 130, 3)
    page = client.get("/admin/alpha/supporters?page=3").get_data(as_text=True)
    assert everyone[-1] in page


def test_estimated_supporter_count_reaches_the_last_page_under_a_parallel_plan(app, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the count is estimated by PostgreSQL's planner only")
    org = make_org("alpha")
    add_actions(make_campaign(org), org, 300)
    monkeypatch.setattr(dashboard, "EXACT_COUNT_UP_TO", 100)
    db.session.execute(text("ANALYZE actions"))
    for setting in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
        db.session.execute(text(f"SET LOCAL {setting} = 0"))  # as a million rows would: parallel scans

    with tenancy.acting_for(org):
        last = dashboard.supporters(page=6)
        everyone = db.session.scalars(select(Action.email).order_by(Action.created_at.desc(), Action.id.desc())).all()

    assert last.estimated and last.page == 6 and last.total >= 250
    assert [r.email for r in last.rows] == everyone[250:]


def test_search_with_fewer_matches_than_the_exact_count_pages_them_newest_first(client):
    alpha, beta = make_org("alpha"), make_org("beta")
    campaign = make_campaign(alpha, hosts=[beta])
    add_actions(campaign, alpha, 70, prefix="river")
    add_actions(campaign, alpha, 5, prefix="lake")
    add_actions(campaign, beta, 3, prefix="riverbeta")  # beta's own, not shared with alpha

    with tenancy.acting_for(alpha):
        first, second = dashboard.supporters("RIVER", page=1), dashboard.supporters("river", page=2)
        rivers = db.session.scalars(
            select(Action.email).where(Action.email.like("river%")).order_by(Action.created_at.desc(), Action.id.desc())
        ).all()

    assert (first.total, first.pages, second.page) == (70, 2, 2)
    assert [r.email for r in first.rows] == rivers[:50] and [r.email for r in second.rows] == rivers[50:]
    assert all(r.site_name and r.campaign_slug == campaign.slug for r in first.rows)
    assert not any("riverbeta" in r.email for r in first.rows + second.rows)


def test_slow_dashboard_figures_are_kept_briefly_and_small_ones_stay_live(app, monkeypatch):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    add_actions(campaign, org, 2)
    assert dashboard.campaign_stats(campaign).overall.total == 2
    add_actions(campaign, org, 1, prefix="second")
    assert dashboard.campaign_stats(campaign).overall.total == 3  # fast to count: always live

    monkeypatch.setattr(dashboard, "SLOW_STATS_SECONDS", 0)  # every count is "slow" now
    kept = dashboard.campaign_stats(campaign)
    add_actions(campaign, org, 1, prefix="third")
    assert dashboard.campaign_stats(campaign) == kept  # from Redis, for STATS_TTL seconds
    dashboard.forget_stats(campaign.id)
    assert dashboard.campaign_stats(campaign).overall.total == 4


def test_old_kept_dashboard_figures_are_shown_at_once_with_their_time_while_a_worker_recounts_them(
    client, monkeypatch
):
    org = make_org("alpha")
    campaign = make_campaign(org, slug="big", require_confirmation=False)
    add_actions(campaign, org, 2)
    add_actions(campaign, org, 1, prefix="api", source="api")
    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    monkeypatch.setattr(dashboard, "SLOW_STATS_SECONDS", 0)  # every count is "slow": kept
    clock = time.time()
    monkeypatch.setattr(time, "time", lambda: clock)
    html = client.get("/admin/alpha/campaigns/big").get_data(as_text=True)
    assert (figure(html, "actions"), figure(html, "api")) == ("3", "1") and "figures-counted-at" not in html
    add_actions(campaign, org, 2, prefix="later")

    monkeypatch.setattr(time, "time", lambda: clock + dashboard.STATS_TTL + 1)  # the copy is old now
    for _ in range(2):  # shown as it was, API actions included, saying when it was counted...
        html = client.get("/admin/alpha/campaigns/big").get_data(as_text=True)
        assert (figure(html, "actions"), figure(html, "api")) == ("3", "1")
        counted = datetime.fromtimestamp(clock, UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert f"Figures counted at {counted} UTC" in html
    assert queues.queue("default").count == 1  # ...while one recount is queued, however many look
    run_jobs()
    assert figure(client.get("/admin/alpha/campaigns/big").get_data(as_text=True), "actions") == "5"

    monkeypatch.setattr(time, "time", lambda: clock + dashboard.STATS_KEPT_FOR + 60)  # nobody looked since
    add_actions(campaign, org, 1, prefix="latest")
    assert dashboard.campaign_stats(campaign).overall.total == 6  # counted by the view itself


def test_a_big_campaigns_figures_are_counted_by_a_worker_before_any_admin_looks(client, monkeypatch):
    org = make_org("alpha")
    big = make_campaign(org, slug="big", require_confirmation=False)
    small = make_campaign(org, slug="small", require_confirmation=False)
    add_actions(big, org, 3)
    add_actions(small, org, 2, prefix="small")
    for campaign in (big, small):
        tally.read(campaign.id)  # the live tally, which says how big each campaign is
    monkeypatch.setattr(dashboard, "READY_FROM", 3)
    assert "dashboard-ready" in periodic.run_due()
    assert queues.queue("default").count == 1  # the big one only
    run_jobs()
    add_actions(big, org, 1, prefix="later")
    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    html = client.get("/admin/alpha/campaigns/big").get_data(as_text=True)
    assert figure(html, "actions") == "3" and "figures-counted-at" in html  # the worker's count, not the view's
    assert figure(client.get("/admin/alpha/campaigns/small").get_data(as_text=True), "actions") == "2"
    db.session.execute(text("UPDATE periodic_tasks SET next_run_at = :now"), {"now": datetime.now(UTC)})
    db.session.commit()
    assert "dashboard-ready" in periodic.run_due()
    assert queues.queue("default").count == 0  # its copy is still kept: nothing to count again
