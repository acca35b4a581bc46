"""Staff accounts: sign in and out, throttling, idle timeout, invitations, two-factor, and one table of
permissions checked route by route."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from chorus.app import create_app
from chorus.extensions import db
from chorus.models import Invitation, User
from chorus.models.base import utcnow
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD, login, make_campaign, make_org, make_user, run_jobs, session_csrf


def test_password_is_stored_as_argon2id_and_logout_ends_the_session_everywhere(client):
    org = make_org("puentes")
    user = make_user("ana@puentes.example", "org-admin", org)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    assert login(client, "ana@puentes.example").headers["Location"] == "/admin/"
    assert client.get("/admin/").headers["Location"] == "/admin/puentes/"  # their only member
    stolen = client.get_cookie("session").value
    assert client.get("/admin/puentes/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": session_csrf(client, "/admin/puentes/")})
    assert client.get("/admin/puentes/").status_code == 302

    client.set_cookie("session", stolen)  # a copy of the old cookie is worthless after logout
    assert client.get("/admin/puentes/").headers["Location"].startswith("/admin/login")


def test_login_starts_a_fresh_session(client):
    make_user("root@coalition.example", "platform-admin")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "root@coalition.example")
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"].startswith(str(1))


def test_failed_logins_are_throttled_per_account_and_address(client):
    make_user("root@coalition.example", "platform-admin")
    statuses = [login(client, "root@coalition.example", "wrong password!").status_code for _ in range(5)]
    assert statuses == [422] * 5
    blocked = login(client, "root@coalition.example")  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)


def test_idle_session_expires_after_thirty_minutes(client):
    make_user("root@coalition.example", "platform-admin")
    login(client, "root@coalition.example")
    with client.session_transaction() as session:
        session["seen"] = time.time() - 31 * 60
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_org_admin_invites_an_editor_who_joins_once_by_the_emailed_link(client, mailbox):
    org = make_org("puentes")
    make_user("ana@puentes.example", "org-admin", org)
    login(client, "ana@puentes.example")
    token = session_csrf(client, "/admin/puentes/team")
    sent = client.post(
        "/admin/puentes/team", data={"csrf_token": token, "email": "Leo@Puentes.example", "role": "org-editor"}
    )
    assert sent.status_code == 302
    run_jobs()
    [message] = mailbox.messages
    assert message["To"] == "leo@puentes.example"
    link = message.get_body(("plain",)).get_content().split("http://chorus.test", 1)[1].split()[0]

    client.post("/admin/logout", data={"csrf_token": token})
    form = client.get(link)
    assert form.status_code == 200
    accept = client.post(
        link, data={"csrf_token": session_csrf(client, link), "name": "Leo", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert accept.status_code == 302
    leo = db.session.scalar(select(User).where(User.email == "leo@puentes.example"))
    assert leo.role_in(org) == "org-editor"
    assert client.get("/admin/puentes/").status_code == 200
    assert client.get(link).status_code == 404  # used once


def test_invitations_carry_the_inviters_language_to_the_mail_and_the_new_account(client, mailbox):
    org = make_org("puentes", name="Puentes")
    ana = make_user("ana@puentes.example", "org-admin", org)
    login(client, "ana@puentes.example")
    page = client.get("/admin/puentes/team?lang=es").get_data(as_text=True)  # the language link
    assert ana.language == "es"
    assert '<option selected value="es">' in page or '<option value="es" selected>' in page
    token = session_csrf(client, "/admin/puentes/team")
    invite = {"csrf_token": token, "email": "leo@puentes.example", "role": "org-editor"}
    assert client.post("/admin/puentes/team", data=invite).status_code == 302
    english = {**invite, "email": "kim@puentes.example", "language": "en"}  # chosen for this one
    assert client.post("/admin/puentes/team", data=english).status_code == 302
    refused = client.post("/admin/puentes/team", data={**invite, "email": "x@puentes.example", "language": "xx"})
    assert refused.status_code == 422
    assert db.session.scalar(select(Invitation).where(Invitation.email == "x@puentes.example")) is None
    run_jobs()
    mails = {m["To"]: m for m in mailbox.messages}
    spanish = mails["leo@puentes.example"]
    assert spanish["Subject"] == "Tu invitación a Chorus para Puentes"
    body = spanish.get_body(("plain",)).get_content()
    assert "te invita a unirte a Chorus" in body and "Editor de la organización" in body
    assert "Abre este enlace" in body and "invites you" not in body
    assert mails["kim@puentes.example"]["Subject"] == "Your invitation to Chorus for Puentes"

    link = body.split("http://chorus.test", 1)[1].split()[0]
    client.post("/admin/logout", data={"csrf_token": token})
    accept = {"csrf_token": session_csrf(client, link), "name": "Leo", "password": PASSWORD, "confirm": PASSWORD}
    assert client.post(link, data=accept).status_code == 302
    assert db.session.scalar(select(User.language).where(User.email == "leo@puentes.example")) == "es"


def test_expired_or_forged_invitation_links_lead_nowhere(client, mailbox):
    from chorus.services import accounts

    org = make_org("puentes")
    invitation = accounts.invite("new@puentes.example", "org-admin", org, None)
    link = f"/admin/invitations/{accounts.invitation_token(invitation)}"
    assert client.get(link).status_code == 200
    db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(link).status_code == 404
    assert client.get("/admin/invitations/forged.token").status_code == 404


def test_two_factor_login_needs_a_fresh_code(client):
    make_user("root@coalition.example", "platform-admin")
    login(client, "root@coalition.example")
    setup = client.get("/admin/account/two-factor").get_data(as_text=True)
    assert "<svg" in setup
    with client.session_transaction() as session:
        secret = session["totp_pending"]
    token = session_csrf(client, "/admin/account/two-factor")
    code = pyotp.TOTP(secret).now()
    enrol = {"csrf_token": token, "code": code, "password": PASSWORD}
    assert client.post("/admin/account/two-factor", data=enrol).status_code == 302
    client.post("/admin/logout", data={"csrf_token": token})

    step = login(client, "root@coalition.example")
    assert step.headers["Location"].startswith("/admin/login/code")
    assert client.get("/admin/").status_code == 302  # password alone is not enough
    token = session_csrf(client, "/admin/login/code")
    assert client.post("/admin/login/code", data={"csrf_token": token, "code": code}).status_code == 422  # replay
    fresh = pyotp.TOTP(secret).at(time.time() + 30)
    assert client.post("/admin/login/code", data={"csrf_token": token, "code": fresh}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_platform_admin_must_set_up_two_factor_in_production(app_env):
    app = create_app({**app_env, "CHORUS_ENV": "production"})
    app.test_client_class = IsolatedClient
    with app.app_context():
        make_user("root@coalition.example", "platform-admin")
        client = app.test_client()
        page = client.get("/admin/login", base_url="https://localhost").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/admin/login",
            base_url="https://localhost",
            headers={"Referer": "https://localhost/admin/login"},
            data={"csrf_token": token, "email": "root@coalition.example", "password": PASSWORD},
        )
        response = client.get("/admin/", base_url="https://localhost")
        assert response.status_code == 302 and response.headers["Location"] == "/admin/account/two-factor"
        db.session.remove()
        db.engine.dispose()


# The permission table, route by route: who gets what for member A's pages.
ROUTES = {
    "home": ("GET", "/admin/alpha/"),
    "new campaign": ("GET", "/admin/alpha/campaigns/new"),
    "dashboard": ("GET", "/admin/alpha/campaigns/petition-a"),
    "edit": ("GET", "/admin/alpha/campaigns/petition-a/edit"),
    "publish": ("POST", "/admin/alpha/campaigns/petition-a/status"),
    "share": ("POST", "/admin/alpha/campaigns/petition-a/hosts"),
    "team": ("GET", "/admin/alpha/team"),
    "branding": ("GET", "/admin/alpha/branding"),
    "supporters": ("GET", "/admin/alpha/supporters"),
    "export": ("POST", "/admin/alpha/campaigns/petition-a/exports"),
    "outbox": ("GET", "/admin/outbox"),
    "supporters' data": ("GET", "/admin/data-rights"),
}
# "ok" is 200 for pages and 302 (done, redirected) for forms.
EXPECTED = {
    "platform-admin": dict.fromkeys(ROUTES, "ok"),
    "org-admin": {**dict.fromkeys(ROUTES, "ok"), "outbox": 404, "supporters' data": 404},
    "org-editor": {
        **dict.fromkeys(ROUTES, 403),
        "home": "ok",
        "new campaign": "ok",
        "dashboard": "ok",
        "edit": "ok",
        "supporters": "ok",
        "outbox": 404,
        "supporters' data": 404,
    },
    "admin of another member": dict.fromkeys(ROUTES, 404),
    "signed out": {**dict.fromkeys(ROUTES, "login"), "publish": 400, "share": 400, "export": 400},  # no CSRF token
}


@pytest.mark.parametrize("who", EXPECTED)
def test_every_admin_route_answers_each_role_as_the_permission_table_says(client, who):
    alpha, beta = make_org("alpha"), make_org("beta")
    make_campaign(alpha, slug="petition-a", status="draft")
    if who != "signed out":
        role, org = {"admin of another member": ("org-admin", beta)}.get(who, (who, alpha))
        make_user("person@example.org", role, None if role in ("platform-admin", "moderator") else org)
        login(client, "person@example.org")
        token = session_csrf(client, "/admin/account/two-factor")
    else:
        token = ""
    answers = {}
    for name, (method, path) in ROUTES.items():
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, "action": "publish", "hosts": ["beta"]})
        if response.status_code == 302 and "/admin/login" in response.headers["Location"]:
            answers[name] = "login"
        elif response.status_code == (200 if method == "GET" else 302):
            answers[name] = "ok"
        else:
            answers[name] = response.status_code
    assert answers == EXPECTED[who]


def test_cli_creates_the_first_platform_admin_from_stdin(app_env):
    from click.testing import CliRunner

    from chorus.cli import cli

    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["admin", "create", "Root@Coalition.example", "--role", "platform-admin", "--password-stdin"],
        input=PASSWORD + "\n",
        env=app_env,
    )
    assert result.exit_code == 0, result.output
    short = runner.invoke(
        cli,
        ["admin", "create", "x@coalition.example", "--role", "platform-admin", "--password-stdin"],
        input="short\n",
        env=app_env,
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    no_org = runner.invoke(
        cli,
        ["admin", "create", "x@coalition.example", "--role", "org-admin", "--org", "nope", "--password-stdin"],
        input=PASSWORD + "\n",
        env=app_env,
    )
    assert no_org.exit_code == 1 and "no organization 'nope'" in no_org.output
