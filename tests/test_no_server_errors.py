"""Hostile input gets a 4xx with a message, never a 500: control characters anywhere, header
splitting through `next=`, fields sent as file parts or JSON, over-long or doubled invitations, the
first moments after Publish; and a fuzz run over the HTML forms so the next one is found by CI."""

from __future__ import annotations

import io
import threading

import pytest
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from chorus.extensions import db
from chorus.guards import safe_next
from chorus.models import Action, Campaign, Invitation, User
from tests.factories import (
    PASSWORD,
    csrf_token,
    login,
    make_campaign,
    make_org,
    make_user,
    session_csrf,
    supporter,
)


def actions_stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True))


def test_control_characters_in_arguments_or_form_values_are_a_400_with_a_message(client):
    org = make_org("puentes")
    make_campaign(org, slug="petition-a")
    make_user("ana@puentes.example", "org-admin", org)
    page = client.get("/admin/login").get_data(as_text=True)
    nul_login = client.post(
        "/admin/login", data={"email": "ana\x00@puentes.example", "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert nul_login.status_code == 400
    assert "control characters" in nul_login.get_data(as_text=True)
    assert client.get("/admin/login?next=/admin/%0d%0aSet-Cookie:%20x=1").status_code == 400

    login(client, "ana@puentes.example")
    for path in ("/admin/puentes/supporters?q=%00", "/admin/puentes/supporters?campaign=%00"):
        assert client.get(path).status_code == 400
    token = session_csrf(client, "/admin/puentes/campaigns/petition-a")
    hosts = "/admin/puentes/campaigns/petition-a/hosts"
    assert client.post(hosts, data={"csrf_token": token, "remove": "\x00"}).status_code == 400
    assert client.post(hosts, data={"csrf_token": token, "remove": "puentes"}).status_code == 302  # owner: refused
    assert client.post("/admin/puentes/team", data={"csrf_token": token, "email": "x\x00@y.org"}).status_code == 400
    assert client.get("/puentes/petition-a?embed=%00").status_code == 400
    assert client.get("/assets/puentes/x%00.svg").status_code == 404
    assert "ningún campo" in client.get("/puentes/?lang=es&x=%01").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    ["/admin/x\r\nSet-Cookie: a=1", "//evil.example/admin", "https://evil.example/admin", "/admin\\@x", "/x"],
)
def test_next_never_leaves_the_admin_nor_splits_a_header(target):
    assert safe_next(target, "/admin/", prefix="/admin") == "/admin/"


def test_next_keeps_an_admin_path():
    assert safe_next("/admin/puentes/?page=2", "/admin/", prefix="/admin") == "/admin/puentes/?page=2"


def test_public_form_fields_sent_as_file_parts_or_json_are_refused_as_missing(client):
    org = make_org("puentes")
    campaign = make_campaign(org)
    token = csrf_token(client.get(f"/puentes/{campaign.slug}").get_data(as_text=True))
    data = {**supporter(), "csrf_token": token}
    as_file = {**data, "first_name": (io.BytesIO(b"Ana"), "name.txt")}
    response = client.post(f"/puentes/{campaign.slug}", data=as_file, content_type="multipart/form-data")
    assert response.status_code == 422 and "This field is required." in response.get_data(as_text=True)
    as_json = client.post(f"/puentes/{campaign.slug}", json={**data, "first_name": 5, "share_with": [[1]]})
    assert as_json.status_code == 422
    assert actions_stored() == 0


def test_invitation_to_an_overlong_or_broken_address_is_refused(client):
    from chorus.services import accounts

    make_user("root@coalition.example", "platform-admin")
    login(client, "root@coalition.example")
    token = session_csrf(client)
    long_address = "a" * 290 + "@example.org"
    for address in (long_address, "two words@example.org", "nobody"):
        response = client.post("/admin/platform-admins", data={"csrf_token": token, "email": address})
        assert response.status_code == 302
    assert "is not an e-mail address" in client.get("/admin/").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    with pytest.raises(accounts.AccountError):
        accounts.invite("ana\x00@example.org", "platform-admin", None, None)


def test_two_simultaneous_acceptances_of_one_invitation_make_one_account(app, mailbox):
    from chorus.services import accounts

    org = make_org("puentes")
    invitation = accounts.invite("leo@puentes.example", "org-editor", org, None)
    link = f"/admin/invitations/{accounts.invitation_token(invitation)}"
    clients = [app.test_client() for _ in range(2)]
    tokens = [session_csrf(c, link) for c in clients]
    barrier, statuses = threading.Barrier(2), []

    def accept(c, token) -> None:
        barrier.wait(timeout=10)
        form = {"csrf_token": token, "name": "Leo", "password": PASSWORD, "confirm": PASSWORD}
        statuses.append(c.post(link, data=form).status_code)

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(clients, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [302, 422]
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_public_page_answers_at_once_after_publish_while_its_tally_is_polled(client):
    org = make_org("puentes")
    campaign = make_campaign(org, slug="soon", status="draft")
    assert client.get("/puentes/soon/tally.json").status_code == 404
    # Published by another process: this one's caches were not told.
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="live"))
    db.session.commit()
    assert client.get("/puentes/soon").status_code == 200
    assert client.get("/puentes/soon/tally.json").get_json()["campaign"] == "soon"


# -- Fuzzing the HTML forms: whatever arrives, the answer is never a 5xx. --------------------------

NASTY = st.sampled_from(
    ["", " ", "\x00", "\r\n", "\u2028", "\ufffd", "a" * 300, "ñandú", "0", "-1", "9" * 40, "2024-02-30", "//x", "US"]
)
VALUE = st.one_of(st.text(max_size=60), NASTY)
FUZZ = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fields(names: list[str]):
    return st.dictionaries(st.sampled_from(names), st.one_of(VALUE, st.lists(VALUE, max_size=3)), max_size=len(names))


def _post(client, path: str, token: str, data: dict, as_files: bool):
    body = {"csrf_token": token}
    for name, value in data.items():
        body[name] = (io.BytesIO(str(value).encode()), "f.txt") if as_files else value
    return client.post(path, data=body, content_type="multipart/form-data" if as_files else None)


@given(data=fields(["first_name", "last_name", "email", "postal_code", "country", "comment", "share_with", "x"]))
@FUZZ
def test_fuzzed_action_form_never_answers_5xx(client, data):
    if not db.session.scalar(select(Campaign.id).where(Campaign.slug == "fuzzed")):
        make_campaign(make_org("fuzz"), slug="fuzzed")
    token = csrf_token(client.get("/fuzz/fuzzed").get_data(as_text=True))
    response = _post(client, "/fuzz/fuzzed", token, {**supporter(), **data}, as_files=False)
    assert response.status_code < 500


@given(data=fields(["email", "password", "next"]), as_files=st.booleans())
@FUZZ
def test_fuzzed_login_never_answers_5xx(client, data, as_files):
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    assert _post(client, "/admin/login", token, data, as_files).status_code < 500


CAMPAIGN_FIELDS = [
    "kind", "title", "slug", "summary", "body", "goal", "require_confirmation", "ends_at", "image", "image_alt",
    "letter_subject", "letter_greeting", "letter_body", "letter_closing", "letter_max_length", "targeting",
    "targets", "delivery_mode", "daily_cap_per_target", "send_window_start", "send_window_end",
]  # fmt: skip


@given(data=fields(CAMPAIGN_FIELDS), as_files=st.booleans())
@FUZZ
def test_fuzzed_admin_campaign_form_never_answers_5xx(client, data, as_files):
    app = current_app._get_current_object()
    if not db.session.scalar(select(User.id).where(User.email == "fuzz@example.org")):
        make_user("fuzz@example.org", "org-admin", make_org("fuzzers"))
        login(client, "fuzz@example.org")
        app.config["FUZZ_TOKEN"] = session_csrf(client, "/admin/fuzzers/campaigns/new")
    path = "/admin/fuzzers/campaigns/new"
    assert _post(client, path, app.config["FUZZ_TOKEN"], data, as_files).status_code < 500
