"""Members run their own campaigns: draft, preview, publish, pause, close, share, host."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign
from tests.factories import login, make_campaign, make_org, make_statement, make_user, session_csrf


def test_org_admin_drafts_previews_publishes_pauses_and_closes_a_petition(client):
    org = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", org)
    assert login(client, "admin@puentes.example").status_code == 302

    token = session_csrf(client, "/admin/puentes/campaigns/new")
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    created = client.post(
        "/admin/puentes/campaigns/new",
        content_type="multipart/form-data",
        data={
            "image": (io.BytesIO(png), "river.png"),
            "image_alt": "Families by the river",
            "csrf_token": token,
            "title": "Clean water now",
            "slug": "clean-water",
            "summary": "Short.",
            "body": "**Bold** <script>alert(1)</script>",
            "goal": "300",
            "require_confirmation": "y",
        },
    )
    assert created.status_code == 302
    assert client.get("/puentes/clean-water").status_code == 404  # a draft is not public
    image = db.session.scalar(select(Campaign.image).where(Campaign.slug == "clean-water"))
    assert client.get(f"/assets/puentes/{image}").data == png
    preview = client.get("/admin/puentes/campaigns/clean-water/preview").get_data(as_text=True)
    assert "<strong>Bold</strong>" in preview and "<script>alert" not in preview

    for action, status, public in (("publish", "live", 200), ("pause", "paused", 200), ("close", "closed", 200)):
        response = client.post(
            "/admin/puentes/campaigns/clean-water/status", data={"csrf_token": token, "action": action}
        )
        assert response.status_code == 302
        assert db.session.scalar(select(Campaign.status).where(Campaign.slug == "clean-water")) == status
        assert client.get("/puentes/clean-water").status_code == public
    closed = client.get("/puentes/clean-water").get_data(as_text=True)
    assert "This campaign is closed." in closed and 'alt="Families by the river"' in closed


def test_shared_campaign_appears_on_a_member_site_only_after_it_accepts(client):
    owner, guest = make_org("puentes"), make_org("union")
    make_user("a@puentes.example", "org-admin", owner)
    make_user("b@union.example", "org-admin", guest)
    login(client, "a@puentes.example")
    token = session_csrf(client, "/admin/puentes/campaigns/new")
    client.post("/admin/puentes/campaigns/new", data={"csrf_token": token, "title": "T", "slug": "shared-one"})
    client.post("/admin/puentes/campaigns/shared-one/status", data={"csrf_token": token, "action": "publish"})
    client.post("/admin/puentes/campaigns/shared-one/hosts", data={"csrf_token": token, "hosts": ["union"]})
    assert client.get("/union/shared-one").status_code == 404

    client.post("/admin/logout", data={"csrf_token": token})
    login(client, "b@union.example")
    home = client.get("/admin/union/").get_data(as_text=True)
    assert "Requests to host a campaign" in home
    token = session_csrf(client, "/admin/union/")
    client.post("/admin/union/hosting/shared-one", data={"csrf_token": token, "answer": "accept"})
    assert client.get("/union/shared-one").status_code == 200
    assert client.get("/union/shared-one/tally.json").get_json()["by_org"] == {"puentes": 0, "union": 0}


def test_a_letter_sending_window_needs_both_hours_or_neither(client):
    make_user("admin@puentes.example", "org-admin", make_org("puentes"))
    login(client, "admin@puentes.example")
    token = session_csrf(client, "/admin/puentes/campaigns/new")
    form = {"csrf_token": token, "kind": "letter", "title": "Write", "slug": "write", "targeting": "location"}

    for start, end in (("8", ""), ("", "18")):
        refused = client.post(
            "/admin/puentes/campaigns/new", data={**form, "send_window_start": start, "send_window_end": end}
        )
        assert refused.status_code == 422
        assert "Give both hours of the sending window, or neither." in refused.get_data(as_text=True)
        assert db.session.scalar(select(Campaign.id)) is None

    both = {"send_window_start": "8", "send_window_end": "18"}
    saved = client.post("/admin/puentes/campaigns/new", data={**form, **both})
    assert saved.status_code == 302
    assert db.session.scalar(select(Campaign)).send_window_start == 8


def test_an_end_date_in_the_past_is_refused_but_an_ended_campaign_keeps_its_date_and_stays_editable(client):
    org = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", org)
    login(client, "admin@puentes.example")
    token = session_csrf(client, "/admin/puentes/campaigns/new")
    today = datetime.now(UTC).date()
    form = {"csrf_token": token, "title": "Clean water", "slug": "clean-water"}
    refused = client.post("/admin/puentes/campaigns/new", data={**form, "ends_at": str(today - timedelta(days=1))})
    assert refused.status_code == 422
    assert "This end date has passed: choose today or a later day." in refused.get_data(as_text=True)
    assert db.session.scalar(select(Campaign.id)) is None

    ended = make_campaign(org, slug="ended", title="Old", ends_at=datetime.now(UTC) - timedelta(days=3))
    page = client.get("/admin/puentes/campaigns/ended/edit").get_data(as_text=True)
    kept = re.search(r'id="ends_at"[^>]*value="([^"]+)"', page).group(1)
    edit = {**form, "slug": "ended", "title": "Old, renamed"}
    assert client.post("/admin/puentes/campaigns/ended/edit", data={**edit, "ends_at": kept}).status_code == 302
    db.session.refresh(ended)
    assert ended.title == "Old, renamed"
    earlier = str(today - timedelta(days=5))
    assert client.post("/admin/puentes/campaigns/ended/edit", data={**edit, "ends_at": earlier}).status_code == 422
    assert client.post("/admin/puentes/campaigns/ended/edit", data={**edit, "ends_at": str(today)}).status_code == 302
    db.session.refresh(ended)
    assert ended.accepting_actions


def test_the_pages_of_campaigns_past_their_end_date_say_they_have_ended(client):
    org = make_org("puentes")
    past = datetime.now(UTC) - timedelta(days=1)
    make_campaign(org, slug="over", ends_at=past)
    statement = make_statement(org, slug="said")
    statement.ends_at = past
    db.session.commit()

    petition = client.get("/puentes/over").get_data(as_text=True)
    assert "This campaign has ended." in petition and "paused" not in petition
    page = client.get("/puentes/said").get_data(as_text=True)
    assert page.count("This campaign has ended.") == 2 and "paused" not in page  # sign-ons and endorsements


def test_a_double_click_on_create_makes_one_campaign_and_tells_the_second_request_the_address_is_taken(
    client, monkeypatch
):
    from chorus.services import campaign_admin

    make_user("a@puentes.example", "org-admin", make_org("puentes"))
    login(client, "a@puentes.example")
    token = session_csrf(client, "/admin/puentes/campaigns/new")
    form = {"csrf_token": token, "title": "Clean water", "slug": "clean-water"}
    assert client.post("/admin/puentes/campaigns/new", data=form).status_code == 302
    # The second request checked the address before the first committed it.
    monkeypatch.setattr(campaign_admin, "_slug_taken", lambda slug, campaign_id: False)
    second = client.post("/admin/puentes/campaigns/new", data=form)
    assert second.status_code == 422 and "Another campaign already uses this address." in second.get_data(as_text=True)
    assert db.session.scalars(select(Campaign.slug)).all() == ["clean-water"]
