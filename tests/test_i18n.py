"""English and Spanish: gettext catalogues read from the .po files, plural forms, language per job."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from flask import g

from chorus.config import PROJECT_ROOT
from chorus.i18n import CATALOGUES, gettext, ngettext
from tests.factories import (
    add_actions,
    confirm_link,
    make_campaign,
    make_letter_campaign,
    make_org,
    run_jobs,
    sign,
    supporter,
)


def _strings_in_the_code() -> set[str]:
    """What `make i18n` extracts (the same babel.cfg and keywords)."""
    with open(PROJECT_ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_string_in_the_code_has_a_spanish_translation():
    from babel.messages.pofile import read_po

    with open(CATALOGUES / "es/LC_MESSAGES/messages.po", "rb") as po:
        catalogue = read_po(po)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalogue
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = _strings_in_the_code() - translated
    assert not missing, f"run `make i18n` and translate in es/messages.po: {sorted(missing)}"


def test_plural_forms_in_english_and_spanish(app):
    g.lang = "es"
    assert [ngettext("signature", "signatures", n) for n in (1, 2)] == ["firma", "firmas"]
    assert [ngettext("letter sent", "letters sent", n) for n in (1, 0)] == ["carta enviada", "cartas enviadas"]
    g.lang = "en"
    assert [ngettext("letter sent", "letters sent", n) for n in (1, 2)] == ["letter sent", "letters sent"]


def test_counters_say_letters_for_letter_campaigns_with_the_right_plural(client):
    org = make_org("riverside")
    campaign = make_letter_campaign(org)
    petition = make_campaign(org, slug="petition-two")
    add_actions(campaign, org, 1)
    add_actions(petition, org, 2, prefix="two")
    text = lambda path: re.sub(r"\s+", " ", client.get(path).get_data(as_text=True))  # noqa: E731
    assert "1</span> letter sent" in text(f"/riverside/{campaign.slug}?lang=en")
    assert "1</span> carta enviada" in text(f"/riverside/{campaign.slug}?lang=es")
    member_site = text("/riverside/")
    assert "<strong>1</strong> cartas enviadas" not in member_site and "<strong>1</strong> carta enviada" in member_site
    assert "<strong>2</strong> firmas" in member_site


def test_a_job_switches_language_between_supporters(app):
    for lang, text in [("es", "Confirmar"), ("en", "Confirm"), ("es", "Confirmar")]:
        g.lang = lang  # what the mail job does for each supporter
        assert gettext("Confirm") == text


def test_a_confirmation_link_opens_in_the_language_the_supporter_signed_in(app, client, mailbox):
    org = make_org("alpha")
    campaign = make_campaign(org)
    client.get(f"/alpha/{campaign.slug}?lang=es")  # the supporter reads the page in Spanish
    assert sign(client, "alpha", campaign.slug, supporter()).status_code == 303
    run_jobs()
    link = confirm_link(mailbox.messages[-1])
    page = app.test_client().get(link)  # another browser (the mail app's), preferring nothing
    assert page.status_code == 200 and "Confirmar" in page.get_data(as_text=True)
