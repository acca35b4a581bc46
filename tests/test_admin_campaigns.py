"""Members run their own campaigns: draft, preview, publish, pause, close, share, host."""

from __future__ import annotations

import base64
import io

from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign
from tests.factories import login, make_org, make_user, session_csrf


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
