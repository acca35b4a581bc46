"""Supporters' pages that convert: whom a petition addresses, a short form, a goal bar that reads at low
counts, right plurals, and a clear next step after signing and confirming."""

from __future__ import annotations

import re

from chorus.templating import milestone
from tests.factories import add_actions, confirm_link, csrf_token, make_campaign, make_org, run_jobs, sign, supporter


def test_petition_says_whom_it_addresses_and_asks_for_location_only_when_needed(client):
    org = make_org("union", name="Local 12")
    make_campaign(org, slug="shifts", addressee="The Port Employers' Association", ask_location=False)
    make_campaign(org, slug="district", ask_location=True)
    page = client.get("/union/shifts").get_data(as_text=True)
    assert "<strong>To:</strong> <span>The Port Employers&#39; Association</span>" in page
    assert 'name="postal_code"' not in page and 'name="country"' not in page
    assert 'href="#act"' in page  # the phone's jump to the form
    assert 'name="postal_code"' in client.get("/union/district").get_data(as_text=True)
    assert sign(client, "union", "shifts", supporter(country="XX")).status_code == 303  # not asked, not checked


def test_goal_bar_measures_the_next_milestone_at_low_counts(client):
    assert (milestone(0, 10_000), milestone(12, 10_000), milestone(3_000, 10_000), milestone(4, 20)) == (
        10, 25, 10_000, 10,
    )  # fmt: skip
    org = make_org("union")
    campaign = make_campaign(org, slug="shifts", goal=10_000)
    add_actions(campaign, org, 1)
    page = client.get("/union/shifts").get_data(as_text=True)
    assert 'aria-valuemax="10"' in page and 'style="width: 10%"' in page and "Next milestone: 10" in page
    assert re.search(r"data-tally-total>1</span>\s*signature</p>", page)  # singular


def test_home_lists_single_member_campaigns_apart_from_shared_ones(client):
    owner, guest = make_org("puentes", name="Puentes"), make_org("union", name="Local 12")
    make_campaign(owner, hosts=[guest], title="Shared petition")
    make_campaign(guest, title="Only ours")
    home = client.get("/").get_data(as_text=True)
    shared, single = home.index("<h2>Shared campaigns</h2>"), home.index("<h2>Campaigns of one member</h2>")
    assert shared < home.index("Shared petition") < single < home.index("Only ours")
    assert "A coalition campaign hosted by 2 members" in home and "Hosted by 1 member: Local 12" in home


def test_after_signing_and_confirming_a_success_state_share_links_and_more_campaigns(client, mailbox):
    org = make_org("union", name="Local 12")
    make_campaign(org, slug="shifts", title="Fair shifts")
    make_campaign(org, slug="pensions", title="Safe pensions")
    thanks = client.get(sign(client, "union", "shifts", supporter()).headers["Location"]).get_data(as_text=True)
    assert 'class="success" role="status"' in thanks and "Check your inbox" in thanks
    share = "https://wa.me/?text=I%20just%20signed%20%E2%80%9CFair%20shifts%E2%80%9D."
    assert share in thanks and "http%3A//localhost/union/shifts" in thanks
    assert 'href="/union/pensions">Safe pensions</a>' in thanks
    assert 'data-tally-url="/union/shifts/tally.json"' in thanks
    run_jobs()
    link = confirm_link(mailbox.messages[0])
    confirmed = client.post(link, data={"csrf_token": csrf_token(client.get(link).get_data(as_text=True))})
    html = confirmed.get_data(as_text=True)
    assert '<p class="success" role="status">Confirmed. Thank you!</p>' in html
    assert "Ask your friends to join you" in html and "Safe pensions" in html
