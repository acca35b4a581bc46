"""Staff screens: contrast-checked branding, members added in the admin, own hosts approved by
platform admins, slugs proposed and reserved names refused."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign, MemberHost, Organization
from chorus.services import campaigns, theme
from tests.factories import login, make_org, make_statement, make_user, session_csrf


def test_contrast_of_every_pair_the_theme_draws():
    assert round(theme.contrast("#ffffff", "#000000"), 1) == 21.0
    assert theme.problems("#1f4e79", "#f2a900", "primary") == []
    assert theme.problems("#1f4e79", "#f2a900", "accent") == []
    light = theme.problems("#f4b942", "#1d3557", "primary")
    assert len(light) == 2 and light[0].startswith("Not enough contrast for white text on the main colour")
    assert theme.problems("#1f4e79", "#1d3557", "accent")[0].startswith(
        "Not enough contrast for black text on the accent colour (campaign labels): 1.7:1"
    )
    adjusted = theme.variables("#f4b942", "#1d3557")  # colours from tenants/ are adjusted, never shipped as is
    assert adjusted["--brand-ink"] == "#000000" and adjusted["--accent-ink"] == "#ffffff"
    assert theme.contrast(adjusted["--brand-text"], theme.PAGE) >= theme.AA


def test_branding_with_unreadable_colours_is_refused_naming_the_pair(client):
    make_user("ed@union.example", "org-admin", make_org("union", name="Local 12"))
    login(client, "ed@union.example")
    token = session_csrf(client, "/admin/union/branding")
    page = client.get("/admin/union/branding").get_data(as_text=True)
    assert "data-theme-preview" in page and "Your own domain" in page
    refused = client.post(
        "/admin/union/branding",
        data={"csrf_token": token, "name": "Local 12", "primary_color": "#ffd166", "accent_color": "#f2a900"},
    )
    assert refused.status_code == 422
    message = "Not enough contrast for white text on the main colour (page header, buttons)"
    assert message in refused.get_data(as_text=True)
    db.session.expire_all()
    assert campaigns.get_org("union").primary_color == "#1f4e79"


def test_the_colour_preview_script_gets_its_texts_in_the_admins_language(client):
    make_user("ed@union.example", "org-admin", make_org("union", name="Local 12"))
    login(client, "ed@union.example")
    page = client.get("/admin/union/branding?lang=es").get_data(as_text=True)
    texts = json.loads(html.unescape(re.search(r"data-contrast-texts='([^']*)'", page).group(1)))
    assert texts["pairs"][0] == "el texto blanco sobre el color principal (cabecera, botones)"
    assert texts["passes"] == "{pair}: {ratio}:1 (suficiente)"
    assert texts["fails"] == "{pair}: {ratio}:1 (insuficiente: hace falta al menos 4,5:1)"


def test_platform_admin_adds_a_member_and_approves_its_own_host(client):
    make_user("sec@coalition.example", "platform-admin")
    login(client, "sec@coalition.example")
    token = session_csrf(client, "/admin/organizations/new")
    form = {"csrf_token": token, "name": "Café Solidario", "slug": "", "primary_color": "#3d348b"}
    added = client.post("/admin/organizations/new", data={**form, "accent_color": "#f18701"})
    assert added.status_code == 302 and added.headers["Location"] == "/admin/cafe-solidario/"
    assert campaigns.get_org("cafe-solidario").edited_in_admin
    reserved = client.post("/admin/organizations/new", data={**form, "slug": "thanks", "accent_color": "#f18701"})
    assert reserved.status_code == 422
    assert "a name the platform uses for its own pages" in reserved.get_data(as_text=True)

    make_user("ana@cafe.example", "org-admin", campaigns.get_org("cafe-solidario"))
    client.post("/admin/logout", data={"csrf_token": token})
    login(client, "ana@cafe.example")
    token = session_csrf(client, "/admin/cafe-solidario/branding")
    asked = client.post("/admin/cafe-solidario/hosts", data={"csrf_token": token, "host": "Act.Cafe.example"})
    assert asked.status_code == 302
    bad = client.post("/admin/cafe-solidario/hosts", data={"csrf_token": token, "host": "not a host"})
    assert bad.status_code == 422 and "is not a host name" in bad.get_data(as_text=True)
    before = client.get("/", base_url="http://act.cafe.example").get_data(as_text=True)
    assert "Members of the coalition</h2>" in before  # not the member's site before approval

    client.post("/admin/logout", data={"csrf_token": token})
    login(client, "sec@coalition.example")
    assert "act.cafe.example" in client.get("/admin/").get_data(as_text=True)
    host_id = db.session.scalar(select(MemberHost.id))
    token = session_csrf(client, "/admin/")
    client.post(f"/admin/member-hosts/{host_id}", data={"csrf_token": token, "answer": "approve"})
    own = client.get("/", base_url="http://act.cafe.example").get_data(as_text=True)
    assert "Café Solidario" in own and "Members of the coalition</h2>" not in own


def test_a_colour_or_address_ending_in_a_line_break_is_refused_not_stored(client):
    make_user("sec@coalition.example", "platform-admin")
    login(client, "sec@coalition.example")
    token = session_csrf(client, "/admin/organizations/new")
    form = {"csrf_token": token, "name": "Café", "slug": "cafe", "primary_color": "#3d348b", "accent_color": "#f18701"}

    for colour in ("primary_color", "accent_color"):
        refused = client.post("/admin/organizations/new", data={**form, colour: form[colour] + "\n"})
        assert refused.status_code == 422 and "A colour like #1f4e79." in refused.get_data(as_text=True)
    assert client.post("/admin/organizations/new", data={**form, "slug": "cafe\n"}).status_code == 422
    assert db.session.scalar(select(Organization.id).where(Organization.slug == "cafe")) is None


def test_ids_no_row_can_have_are_answered_4xx_never_a_server_error(client):
    make_statement(make_org("alpha"), slug="together")
    make_user("sec@coalition.example", "platform-admin")
    login(client, "sec@coalition.example")
    token = session_csrf(client, "/admin/moderation/")
    huge = "99999999999999999999999"

    for ids in ([huge], ["\u00b2"], ["1", huge]):  # "²" is a digit to str.isdigit(), not to int()
        decide = {"csrf_token": token, "kind": "version", "ids": ids, "decision": "approve"}
        answer = client.post("/admin/moderation/decide", data=decide)
        assert answer.status_code == 400 and "not in the queue" in answer.get_data(as_text=True)
    for name in ("campaign", "member"):
        assert client.get(f"/admin/moderation/?{name}={huge}").status_code == 400
    assert client.get("/admin/moderation/?campaign=1&member=1").status_code == 200
    assert client.post(f"/admin/alpha/mails/{huge}/retry", data={"csrf_token": token}).status_code == 404
    approve = {"csrf_token": token, "answer": "approve"}
    assert client.post(f"/admin/member-hosts/{huge}", data=approve).status_code == 404
    assert client.get(f"/alpha/together/versions/{huge}").status_code == 404
    assert client.get("/alpha/together/versions/1").status_code == 200


@pytest.mark.parametrize(
    ("title", "slug", "stored"), [("¡Agua limpia ya!", "", "agua-limpia-ya"), ("T", "embed", None)]
)
def test_campaign_slug_is_proposed_from_the_title_and_reserved_names_are_refused(client, title, slug, stored):
    make_user("ed@union.example", "org-admin", make_org("union"))
    login(client, "ed@union.example")
    token = session_csrf(client, "/admin/union/campaigns/new")
    response = client.post("/admin/union/campaigns/new", data={"csrf_token": token, "title": title, "slug": slug})
    assert db.session.scalar(select(Campaign.slug)) == stored
    if stored is None:
        assert response.status_code == 422 and "a name the platform uses" in response.get_data(as_text=True)
