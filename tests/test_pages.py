"""Member branding, per-member template overrides without cache leaks, and Spanish."""

from __future__ import annotations

from flask import Flask

from chorus.services import demo
from tests.factories import sign, supporter


def test_each_member_site_shows_its_own_branding(client, app: Flask):
    demo.load()
    puentes = client.get("/puentes/keep-families-together").get_data(as_text=True)
    union = client.get("/harbor-workers/keep-families-together").get_data(as_text=True)
    assert "--brand: #0b6e4f" in puentes and "Puentes Migrant Justice Network" in puentes
    assert "--brand: #8c1c13" in union and "Harbor &amp; Warehouse Workers Local 12" in union
    assert client.get("/assets/puentes/logo.svg").status_code == 200
    assert client.get("/assets/puentes/tenant.toml").status_code == 404
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
