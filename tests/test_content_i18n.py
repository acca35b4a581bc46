"""Campaign content in the supporter's language: translated titles, texts, letters, thanks messages,
members' taglines and statements (per version), the fallback notice, the mails, and the admin side."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign, Organization, SignOn, StatementVersion
from chorus.services import moderation, statements
from tests.factories import (
    confirm_link,
    login,
    make_campaign,
    make_letter_campaign,
    make_org,
    make_statement,
    make_user,
    press,
    run_jobs,
    session_csrf,
    sign,
    supporter,
)

pytestmark = pytest.mark.usefixtures("cheap_hashing")

SPANISH = {
    "title": "Familias unidas",
    "summary": "Resumen en español.",
    "body": "Las familias deben estar **juntas**.",
    "thanks_text": "¡Gracias por sumarte!",
}
NOT_YET = "Esta campaña aún no está disponible en español; se muestra en inglés."


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_a_spanish_reader_sees_the_translated_campaign_without_a_fallback_notice(client):
    org = make_org("puentes", tagline="Bridges for families", translations={"es": {"tagline": "Puentes para familias"}})
    make_campaign(org, slug="families", title="Families together", body="Families belong together.",
                  summary="English summary.", addressee="The city council",
                  translations={"es": {**SPANISH, "addressee": "El concejo municipal"}})  # fmt: skip

    page = text_of(client.get("/puentes/families?lang=es"))
    assert "<h1>Familias unidas</h1>" in page and "<strong>juntas</strong>" in page
    assert "<strong>Para:</strong> <span>El concejo municipal</span>" in page and "The city council" not in page
    assert "Resumen en español." in page and "Puentes para familias" in page
    assert "Families together" not in page and "disponible en español" not in page
    english = text_of(client.get("/puentes/families?lang=en"))
    assert "<h1>Families together</h1>" in english and "Familias unidas" not in english
    # The member's page lists it in Spanish too, and the thanks page carries the translated message.
    assert "Familias unidas" in text_of(client.get("/puentes/?lang=es"))
    assert "¡Gracias por sumarte!" in text_of(client.get("/puentes/families/thanks?lang=es"))


def test_an_untranslated_campaign_shows_english_marked_as_such_with_the_notice_in_spanish(client):
    org = make_org("harbor")
    make_campaign(org, slug="fair-shifts", title="Fair shifts", body="Schedules two weeks ahead.")

    page = text_of(client.get("/harbor/fair-shifts?lang=es"))
    assert NOT_YET in page
    assert '<h1 lang="en">Fair shifts</h1>' in page and '<div lang="en"><p>Schedules two weeks ahead.</p>' in page
    assert "Firma la petición" in page or "Firmar" in page  # the interface around it stays Spanish
    assert NOT_YET in text_of(client.get("/harbor/fair-shifts/embed?lang=es"))
    assert "not yet available" not in text_of(client.get("/harbor/fair-shifts?lang=en"))


def test_a_partly_translated_campaign_says_which_parts_fall_back(client):
    org = make_org("puentes")
    make_campaign(org, slug="half", title="Half", body="Only in English.", addressee="The landlords",
                  translations={"es": {"title": "Mitad"}})  # fmt: skip

    page = text_of(client.get("/puentes/half?lang=es"))
    assert "<h1>Mitad</h1>" in page and '<div lang="en"><p>Only in English.</p>' in page
    assert '<span lang="en">The landlords</span>' in page
    assert "Partes de esta campaña aún no están disponibles en español" in page


def test_a_spanish_supporters_confirmation_mail_carries_the_spanish_title(client, mailbox):
    org = make_org("puentes")
    make_campaign(org, slug="families", title="Families together", translations={"es": SPANISH})

    client.get("/puentes/families?lang=es")  # the cookie remembers the language, as for a browser
    assert sign(client, "puentes", "families", supporter("ana@example.org")).status_code == 303
    run_jobs()
    [message] = mailbox.messages
    assert "Familias unidas" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "Familias unidas" in body and "Families together" not in body


def test_a_spanish_letter_is_prefilled_sent_and_copied_in_spanish(client, mailbox):
    org = make_org("riverside")
    make_letter_campaign(
        org,
        slug="write",
        require_confirmation=True,
        translations={
            "es": {
                "title": "Escribe al gobernador",
                "letter_subject": "Financie la defensa legal",
                "letter_greeting": "Estimado gobernador:",
                "letter_body": "Le pido que financie abogados para cada niño.",
                "letter_closing": "Atentamente,",
            }
        },
    )
    form = text_of(client.get("/riverside/write?lang=es"))
    assert 'value="Financie la defensa legal"' in form and "Le pido que financie abogados" in form
    assert "Estimado gobernador:" in form and "Dear Governor," not in form

    data = supporter("ana@example.org", subject="Financie la defensa legal", body="Mi carta.")
    assert sign(client, "riverside", "write", data).status_code == 303
    thanks = text_of(client.get("/riverside/write/thanks?lang=es"))  # a letter is a letter, not a signature
    assert "Acabo%20de%20enviar%20mi%20carta" in thanks and not re.search(r"\bfirm", thanks.lower())
    run_jobs()
    press(client, confirm_link(mailbox.messages[0]))
    run_jobs()
    copy = next(m for m in mailbox.messages if "Escribe al gobernador" in m["Subject"] and m is not mailbox.messages[0])
    letter = copy.get_body(("plain",)).get_content()
    assert "Estimado gobernador:" in letter and "Atentamente," in letter and "Dear Governor," not in letter


def test_a_statement_translation_belongs_to_its_version_and_adding_one_does_not_ask_signatories_again(
    app, client, mailbox
):
    puentes = make_org("puentes")
    author = make_user("author@puentes.example", "org-admin", puentes)
    statement = make_statement(puentes, author=author, slug="together", title="We stand together")
    first = statements.current_version(statement)
    signed = SignOn(campaign_id=statement.id, org_id=puentes.id, version_id=first.id, organization_name="Acme",
                    name_normalized="acme", contact_name="Rosa", email="rosa@acme.example",
                    email_normalized="rosa@acme.example", status="approved")  # fmt: skip
    db.session.add(signed)
    db.session.commit()
    assert "Esta declaración aún no está disponible en español" in text_of(client.get("/puentes/together?lang=es"))

    login(client, "author@puentes.example")
    token = session_csrf(client, "/admin/puentes/statements/together")
    edit = {"csrf_token": token, "title": first.title, "body": first.body, "call_to_action": first.call_to_action}
    spanish = {"title_es": "Estamos juntos", "body_es": "Las familias **juntas**.", "call_to_action_es": "Firme."}
    assert client.post("/admin/puentes/statements/together/versions", data={**edit, **spanish}).status_code == 302
    second = db.session.scalar(select(StatementVersion).where(StatementVersion.number == 2))
    assert second.translations == {"es": {"title": "Estamos juntos", "body": "Las familias **juntas**.",
                                          "call_to_action": "Firme."}}  # fmt: skip
    moderator = make_user("mod@coalition.example", "moderator")
    moderator_client = app.test_client()
    login(moderator_client, "mod@coalition.example")
    queue = text_of(moderator_client.get("/admin/moderation/"))  # moderators read the Spanish they publish
    assert '<details lang="es">' in queue and "Estamos juntos" in queue and "only translations change" in queue
    moderation.decide(moderator, "version", [second.id], "approve")
    run_jobs()
    assert not [m for m in mailbox.messages if m["To"] == "rosa@acme.example"]  # nobody asked again
    db.session.expire_all()
    assert db.session.get(SignOn, signed.id).version_id == second.id  # the same text: the signature stands on it

    page = text_of(client.get("/puentes/together?lang=es"))
    assert "<h1>Estamos juntos</h1>" in page and "Firme." in page and "disponible en español" not in page
    # Version 1 had no Spanish: it stays as it was, in English, marked as such.
    assert '<h1 lang="en">We stand together</h1>' in text_of(client.get("/puentes/together/versions/1?lang=es"))

    # A change of the source text asks the signatories again, as before.
    token = session_csrf(client, "/admin/puentes/statements/together")
    changed = {**edit, "csrf_token": token, "body": "A new text.", **spanish}
    assert client.post("/admin/puentes/statements/together/versions", data=changed).status_code == 302
    third = db.session.scalar(select(StatementVersion).where(StatementVersion.number == 3))
    moderation.decide(moderator, "version", [third.id], "approve")
    run_jobs()
    assert [m for m in mailbox.messages if m["To"] == "rosa@acme.example"]


def test_the_admin_lists_missing_translations_and_saves_them_from_the_spanish_fields(client):
    org = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", org)
    make_campaign(org, slug="families", title="Families together", summary="Short.", body="Text.", status="draft",
                  addressee="The city council")  # fmt: skip
    login(client, "admin@puentes.example")

    dashboard = text_of(client.get("/admin/puentes/campaigns/families"))
    missing = re.search(r'<li data-translation="es" data-missing="(\d+)">(.*?)</li>', dashboard, re.S)
    assert missing.group(1) == "4" and "Title" in missing.group(2) and "Addressed to" in missing.group(2)

    form = text_of(client.get("/admin/puentes/campaigns/families/edit"))
    assert 'name="title_es"' in form and 'lang="es"' in form
    token = session_csrf(client, "/admin/puentes/campaigns/families/edit")
    data = {"csrf_token": token, "title": "Families together", "slug": "families", "summary": "Short.",
            "body": "Text.", "addressee": "The city council", "title_es": "  Familias unidas ", "body_es": "Texto.",
            "addressee_es": "El concejo municipal"}  # fmt: skip
    assert client.post("/admin/puentes/campaigns/families/edit", data=data).status_code == 302
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "families"))
    assert campaign.translations == {
        "es": {"title": "Familias unidas", "addressee": "El concejo municipal", "body": "Texto."}
    }
    dashboard = text_of(client.get("/admin/puentes/campaigns/families"))
    assert re.search(r'data-translation="es" data-missing="1">.*?Summary', dashboard, re.S)
    assert 'value="Familias unidas"' in text_of(client.get("/admin/puentes/campaigns/families/edit"))


def test_bad_input_in_the_translation_fields_is_a_form_error_and_nothing_is_saved(client):
    org = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", org)
    make_campaign(org, slug="families", title="Families together", status="draft")
    login(client, "admin@puentes.example")

    token = session_csrf(client, "/admin/puentes/campaigns/families/edit")
    base = {"csrf_token": token, "title": "Families together", "slug": "families"}
    for bad in ({"title_es": "x" * 201}, {"title_es": "a\u2028b"}, {"summary_es": "s" * 501}):
        response = client.post("/admin/puentes/campaigns/families/edit", data={**base, **bad})
        assert response.status_code == 422 and 'class="error"' in text_of(response)
    # A control character is refused before any form reads it.
    response = client.post("/admin/puentes/campaigns/families/edit", data={**base, "summary_es": "a\x07b"})
    assert response.status_code == 400
    assert db.session.scalar(select(Campaign.translations).where(Campaign.slug == "families")) == {}
    targets = [str(t.official_id) for t in make_letter_campaign(org, slug="write", status="draft").targets]
    token = session_csrf(client, "/admin/puentes/campaigns/write/edit")
    letter = {"csrf_token": token, "title": "Write", "slug": "write", "letter_subject": "S", "letter_greeting": "G",
              "letter_body": "B", "letter_closing": "C", "targeting": "fixed", "delivery_mode": "individual",
              "targets": targets}  # fmt: skip
    response = client.post("/admin/puentes/campaigns/write/edit", data={**letter, "letter_greeting_es": "y" * 201})
    assert response.status_code == 422 and 'id="letter_greeting_es-error"' in text_of(response)
    response = client.post("/admin/puentes/campaigns/write/edit", data={**letter, "letter_greeting_es": "Hola:"})
    assert response.status_code == 302
    assert db.session.scalar(select(Campaign.translations).where(Campaign.slug == "write")) == {
        "es": {"letter_greeting": "Hola:"}
    }

    token = session_csrf(client, "/admin/puentes/branding")
    branding = {"csrf_token": token, "name": "Puentes", "primary_color": "#1f4e79", "accent_color": "#f2a900"}
    response = client.post("/admin/puentes/branding", data={**branding, "tagline_es": "z" * 301})
    assert response.status_code == 422
    assert client.post("/admin/puentes/branding", data={**branding, "tagline_es": "Puentes"}).status_code == 302
    assert db.session.scalar(select(Organization.translations).where(Organization.slug == "puentes")) == {
        "es": {"tagline": "Puentes"}
    }

    token = session_csrf(client, "/admin/puentes/statements/new")
    statement = {"csrf_token": token, "title": "T", "slug": "t", "body": "B", "order": "alphabetical"}
    response = client.post("/admin/puentes/statements/new", data={**statement, "call_to_action_es": "w" * 501})
    assert response.status_code == 422 and db.session.scalar(select(Campaign.id).where(Campaign.slug == "t")) is None


def test_the_demo_shows_its_shared_petition_and_statement_in_spanish_and_one_campaign_falling_back(client):
    from chorus.services import demo

    demo.load()
    demo.load()  # idempotent, translations included
    petition = text_of(client.get("/open-table/keep-families-together?lang=es"))
    assert "<h1>Que las familias sigan juntas en la frontera</h1>" in petition and "disponible en" not in petition
    assert "El Congreso de los Estados Unidos" in petition
    assert "Congregaciones que acogen al forastero" in petition  # the member's tagline
    statement = text_of(client.get("/puentes/no-child-in-detention?lang=es"))
    assert "<h1>Ningún niño debe estar detenido: declaración de la coalición</h1>" in statement
    letter = text_of(client.get("/riverside-legal/write-to-the-governor?lang=es"))
    assert "Estimados Gobernadora Alvarez y Fiscal General Okafor:" in letter
    assert NOT_YET in text_of(client.get("/harbor-workers/fair-shifts?lang=es"))


def test_tenant_toml_carries_the_members_texts_per_language_and_refuses_unknown_ones(tmp_path):
    from chorus.services import tenants

    folder = tmp_path / "harbor"
    folder.mkdir()
    (folder / "tenant.toml").write_text('name = "Harbor"\ntagline = "Dock workers"\n[es]\ntagline = "Estibadores"\n')
    assert tenants.read_tenant(folder)["translations"] == {"es": {"tagline": "Estibadores"}}
    for bad in ('[es]\nslogan = "x"\n', 'es = "x"\n', "[es]\ntagline = 3\n"):
        (folder / "tenant.toml").write_text(f'name = "Harbor"\n{bad}')
        with pytest.raises(tenants.TenantError):
            tenants.read_tenant(folder)


def test_the_admin_speaks_spanish_to_an_admin_who_chose_it(client):
    org = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", org)
    make_campaign(org, slug="families", title="Families together", status="draft")
    login(client, "admin@puentes.example")

    home = text_of(client.get("/admin/puentes/?lang=es"))
    assert '<html lang="es">' in home and "Nuestras campañas" in home and "Nueva campaña" in home
    dashboard = text_of(client.get("/admin/puentes/campaigns/families"))  # the cookie keeps the choice
    assert "Traducciones" in dashboard and "Publicar" in dashboard and "borrador" in dashboard
    form = text_of(client.get("/admin/puentes/campaigns/families/edit"))
    assert "Título (Español)" in form and "Deja un campo vacío" in form and "Guardar" in form
    token = session_csrf(client, "/admin/puentes/campaigns/families/edit")
    refused = client.post(
        "/admin/puentes/campaigns/families/edit", data={"csrf_token": token, "title": "", "slug": "families"}
    )
    assert refused.status_code == 422 and "Título" in text_of(refused)
    assert "Marca al menos un elemento." not in home  # flash messages come translated when they come
