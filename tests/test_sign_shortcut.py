"""The sign path in front of Flask (chorus.public.sign_shortcut) and the per-process copies of members
and campaigns (chorus.services.campaigns): the same answers and rows as the view, never stale for long."""

from __future__ import annotations

import time

import pytest
from flask import request
from sqlalchemy import func, insert, select, text

from chorus.extensions import csrf, db
from chorus.models import Action, Campaign, CampaignHost, Consent, SupporterMail
from chorus.public.sign_shortcut import SignShortcut
from chorus.services import campaigns
from tests.factories import csrf_token, make_campaign, make_org, supporter

HEADERS = ("Location", "Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Vary")


def _token(client, org, campaign) -> str:
    return csrf_token(client.get(f"/{org}/{campaign}").get_data(as_text=True))


def _post(client, org, campaign, token=None, **changes):
    form = {"csrf_token": token or _token(client, org, campaign), **supporter(), **changes}
    return client.post(f"/{org}/{campaign}", data=form)


def _view_answers_instead(app) -> None:
    """The Flask view answers POSTs with a marker: a POST that reaches it gets 299 and stores nothing."""
    view = app.view_functions["public.campaign"]

    @csrf.exempt  # as the view is (its form checks its own token)
    def marker(**kwargs):
        return ("the view", 299) if request.method == "POST" else view(**kwargs)

    app.view_functions["public.campaign"] = marker


def _rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True))


def test_plain_signature_is_stored_with_its_mail_before_the_same_303_as_the_view(app, client, monkeypatch):
    puentes, union = make_org("puentes"), make_org("union")
    petition = make_campaign(puentes, hosts=[union], slug="fair-rent")

    monkeypatch.setattr(SignShortcut, "_sign", lambda *_: None)  # the view alone
    by_view = _post(client, "union", "fair-rent", email="view@example.org")
    monkeypatch.undo()
    _view_answers_instead(app)  # from here on the view cannot have answered
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es-ES,es;q=0.9"
    fast = _post(client, "union", "fair-rent", email="Fast@Example.org")

    assert fast.status_code == by_view.status_code == 303
    assert {h: fast.headers.get(h) for h in HEADERS} == {h: by_view.headers.get(h) for h in HEADERS}
    assert fast.headers["Location"] == "/union/fair-rent/thanks"
    assert fast.get_data() == by_view.get_data()
    found = select(Action).where(Action.email_normalized == "fast@example.org").execution_options(all_orgs=True)
    action = db.session.scalar(found)
    assert (action.campaign_id, action.org.slug) == (petition.id, "union")
    assert (action.status, action.language) == ("pending", "es")
    assert (action.postal_code, action.country, action.email) == ("94110", "US", "Fast@Example.org")
    mail = db.session.scalar(select(SupporterMail).where(SupporterMail.action_id == action.id))
    assert (mail.kind, mail.status, mail.attempts) == ("confirm", "queued", 0)


def test_a_repeat_gets_the_same_answer_and_stores_nothing_more(app, client):
    make_campaign(make_org("puentes"), slug="fair-rent")
    _view_answers_instead(app)
    first = _post(client, "puentes", "fair-rent")
    again = _post(client, "puentes", "fair-rent", email="ANA@example.org")
    assert (first.status_code, first.headers["Location"]) == (again.status_code, again.headers["Location"])
    assert _rows() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"share_with": "union"},  # a box ticked: consents are the view's
        {"csrf_token": "forged"},
        {"email": "not-an-address"},
        {"first_name": ""},
        {"country": "XX"},
        {"comment": "x" * 1001},
        {"subject": "A letter field on a petition"},
    ],
)
def test_anything_but_a_plain_valid_form_reaches_the_view_with_nothing_stored(app, client, changes):
    make_campaign(make_org("puentes"), hosts=[make_org("union")], slug="fair-rent")
    _view_answers_instead(app)
    response = _post(client, "puentes", "fair-rent", **changes)
    assert (response.status_code, response.get_data(as_text=True)) == (299, "the view")
    assert _rows() == 0


def test_a_control_character_still_meets_the_guard(app, client):
    make_campaign(make_org("puentes"), slug="fair-rent", ask_location=False)
    response = _post(client, "puentes", "fair-rent", country="U\x00S")  # a field this campaign ignores
    assert response.status_code == 400
    assert _rows() == 0


def test_a_body_that_is_not_utf8_reaches_the_view(app, client):
    make_campaign(make_org("puentes"), slug="fair-rent")
    page = client.get("/puentes/fair-rent").get_data(as_text=True)
    _view_answers_instead(app)
    body = f"csrf_token={csrf_token(page)}&first_name=%FF&last_name=Ruiz&email=ana%40example.org".encode()
    response = client.post("/puentes/fair-rent", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 299
    assert _rows() == 0


def test_a_consent_sent_to_the_view_is_stored_as_before(app, client):
    make_campaign(make_org("puentes"), hosts=[make_org("union")], slug="fair-rent")
    assert _post(client, "puentes", "fair-rent", share_with="union").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 1


def test_a_pause_in_this_process_refuses_the_next_signature_at_once(app, client):
    petition = make_campaign(make_org("puentes"), slug="fair-rent")
    token = _token(client, "puentes", "fair-rent")
    assert _post(client, "puentes", "fair-rent", token).status_code == 303  # the campaign is now in the copies
    petition.status = "paused"
    db.session.commit()
    assert _post(client, "puentes", "fair-rent", token, email="late@example.org").status_code == 409
    assert _rows() == 1


def test_another_process_pause_is_seen_within_the_copies_lifetime(app, client, monkeypatch):
    monkeypatch.setattr(campaigns, "LOOKUP_TTL", 0.3)
    make_campaign(make_org("puentes"), slug="fair-rent")
    token = _token(client, "puentes", "fair-rent")
    assert _post(client, "puentes", "fair-rent", token).status_code == 303
    with db.engine.begin() as other:  # as another node would: no commit in this process's sessions
        other.execute(text("UPDATE campaigns SET status = 'paused' WHERE slug = 'fair-rent'"))
    time.sleep(0.4)
    assert _post(client, "puentes", "fair-rent", token, email="late@example.org").status_code == 409
    assert _rows() == 1


def test_a_campaign_missing_a_moment_ago_is_found_at_once(app, client):
    puentes = make_org("puentes")
    assert client.get("/puentes/fair-rent").status_code == 404  # "not found" is never kept
    with db.engine.begin() as other:  # Core on its own connection: no session of this process sees it
        created = other.execute(
            insert(Campaign.__table__).values(slug="fair-rent", owner_org_id=puentes.id, title="Fair rent")
        ).inserted_primary_key[0]
        other.execute(insert(CampaignHost.__table__).values(campaign_id=created, org_id=puentes.id, accepted=True))
    assert client.get("/puentes/fair-rent").status_code == 200
