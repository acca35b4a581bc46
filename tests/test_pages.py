"""Member branding, per-member template overrides without cache leaks, and Spanish."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action
from chorus.services import campaigns, demo
from tests.factories import make_campaign, make_org, sign, supporter


def test_each_member_site_shows_its_own_branding(client, app: Flask):
    demo.load()
    puentes = client.get("/puentes/keep-families-together").get_data(as_text=True)
    union = client.get("/harbor-workers/keep-families-together").get_data(as_text=True)
    assert "--brand: #0b6e4f" in puentes and "Puentes Migrant Justice Network" in puentes
    assert "--brand: #8c1c13" in union and "Harbor &amp; Warehouse Workers Local 12" in union
    logo = campaigns.get_org("harbor-workers").logo
    assert re.fullmatch(r"logo-[0-9a-f]{12}\.svg", logo) and f'src="/assets/harbor-workers/{logo}"' in union
    served = client.get(f"/assets/harbor-workers/{logo}")
    assert served.status_code == 200 and b"Harbor &amp; Warehouse" in served.data  # valid XML, re-serialized
    assert client.get("/assets/puentes/tenant.toml").status_code == 404
    assert client.get("/favicon.ico").status_code == 200
    coalition = client.get("/").get_data(as_text=True)
    for name in ("Puentes", "Local 12", "Open Table", "Riverside"):
        assert name in coalition
    single = client.get("/harbor-workers/").get_data(as_text=True)
    assert "Fair shifts" in single and "Fair shifts" not in client.get("/puentes/").get_data(as_text=True)


def test_member_template_override_never_leaks_to_another_member(client, app: Flask):
    demo.load()
    slug = "keep-families-together"
    for first, second in (("open-table", "puentes"), ("puentes", "open-table")):
        for org in (first, second):
            location = sign(client, org, slug, supporter(f"{first}-{org}@example.org")).headers["Location"]
            page = client.get(location).get_data(as_text=True)
            assert ("Join us at the table" in page) == (org == "open-table"), org
            assert "Check your inbox" in page


def test_pages_and_errors_in_spanish(client, app: Flask):
    demo.load()
    page = client.get("/puentes/keep-families-together?lang=es")
    assert 'lang="es"' in page.get_data(as_text=True) and "Firma la petición" in page.get_data(as_text=True)
    assert "lang=es" in page.headers["Set-Cookie"]
    refused = sign(client, "puentes", "keep-families-together", supporter(email=""))
    assert "Este campo es obligatorio." in refused.get_data(as_text=True)
    assert client.get("/nadie/").get_data(as_text=True).count("Página no encontrada") >= 1
    wrong_method = client.put("/puentes/keep-families-together")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert "Esta página no acepta ese tipo de solicitud." in wrong_method.get_data(as_text=True)
    no_token = client.post("/admin/login", data={"email": "a@example.org", "password": "x"})
    assert no_token.status_code == 400 and "Vuelve atrás, recarga la página" in no_token.get_data(as_text=True)
    assert "CSRF" not in no_token.get_data(as_text=True)


def test_branding_edited_in_the_admin_shows_on_the_member_site(client, app: Flask):
    import io

    from tests.factories import login, make_org, make_user, session_csrf

    make_user("ed@union.example", "org-admin", make_org("union", name="Local 12"))
    login(client, "ed@union.example")
    token = session_csrf(client, "/admin/union/branding")
    logo = (io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'), "mark.svg")
    saved = client.post(
        "/admin/union/branding",
        data={
            "csrf_token": token,
            "name": "Local 12 United",
            "tagline": "Dock and warehouse workers",
            "primary_color": "#123456",
            "accent_color": "#abcdef",
            "intro": "We **organize**.",
            "logo": logo,
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    site = client.get("/union/").get_data(as_text=True)
    assert "--brand: #123456" in site and "Local 12 United" in site and "<strong>organize</strong>" in site
    logo = campaigns.get_org("union").logo
    assert client.get(f"/assets/union/{logo}").status_code == 200

    bad = client.post(
        "/admin/union/branding",
        data={"csrf_token": token, "name": "", "primary_color": "red", "accent_color": "#abcdef"},
    )
    assert bad.status_code == 422 and "A colour like #1f4e79." in bad.get_data(as_text=True)
    assert "Local 12 United" in client.get("/union/").get_data(as_text=True)  # nothing half-saved


def test_only_the_embed_flow_may_be_framed_by_other_sites(client, app: Flask):
    demo.load()
    embed = client.get("/harbor-workers/fair-shifts/embed").headers["Content-Security-Policy"]
    page = client.get("/harbor-workers/fair-shifts").headers["Content-Security-Policy"]
    assert "frame-ancestors *" in embed and "frame-ancestors 'self'" in page


def test_head_answers_as_get_on_action_pages_without_taking_an_action(client, app: Flask):
    org = make_org("alpha")
    campaign = make_campaign(org)
    for path in (f"/alpha/{campaign.slug}", "/my-data", "/alpha/my-data"):
        head, get = client.head(path), client.get(path)
        assert (head.status_code, head.headers["Content-Type"]) == (200, get.headers["Content-Type"]), path
        assert head.get_data() == b""
    assert db.session.scalar(select(func.count(Action.id))) == 0


def test_counts_are_written_the_way_the_pages_language_writes_numbers(client, app: Flask):
    org = make_org("alpha")
    campaign = make_campaign(org, goal=25000)
    assert "Goal: 25,000" in client.get(f"/alpha/{campaign.slug}").get_data(as_text=True)
    assert "Meta: 25.000" in client.get(f"/alpha/{campaign.slug}?lang=es").get_data(as_text=True)
