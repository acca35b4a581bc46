"""The moderation queue and its permission table: who decides what, comments held until approved,
"hide without telling", and the insert-only audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import ModerationDecision, PublicMessage, SignOn, StatementVersion
from chorus.services import statements
from tests.factories import (
    confirm_link,
    login,
    make_campaign,
    make_org,
    make_statement,
    make_user,
    org_sign_on,
    press,
    run_jobs,
    session_csrf,
    sign,
    signon_link,
    supporter,
)
from tests.test_statements import moderate, text_of

pytestmark = pytest.mark.usefixtures("cheap_hashing")


# The permission table for statements and moderation, route by route (member "alpha" owns the
# statement; its version 2 was written by the org admin of alpha and waits in the queue).
ROUTES = {
    "new statement": ("GET", "/admin/alpha/statements/new"),
    "statement": ("GET", "/admin/alpha/statements/statement-a"),
    "propose version": ("POST", "/admin/alpha/statements/statement-a/versions"),
    "signatories csv": ("GET", "/admin/alpha/campaigns/statement-a/signatories.csv"),
    "delivery document": ("GET", "/admin/alpha/campaigns/statement-a/delivery"),
    "queue": ("GET", "/admin/moderation/"),
    "approve version": ("POST", "/admin/moderation/decide"),
    "audit log": ("GET", "/admin/moderation/log"),
}
EXPECTED = {
    "platform-admin": dict.fromkeys(ROUTES, "ok"),
    "moderator": {**dict.fromkeys(ROUTES, "ok"), **dict.fromkeys(list(ROUTES)[:5], 404)},
    "author (org-admin)": {**dict.fromkeys(ROUTES, "ok"), "approve version": 403, "audit log": 404},
    "org-editor": {
        **dict.fromkeys(ROUTES, 404),
        "new statement": 403,
        "statement": "ok",
        "propose version": 403,
        "signatories csv": "ok",
        "delivery document": "ok",
    },
    "admin of another member": {**dict.fromkeys(ROUTES, 404), "queue": "ok", "approve version": 403},
    "signed out": {**dict.fromkeys(ROUTES, "login"), "propose version": 400, "approve version": 400},
}


def test_statement_and_moderation_routes_answer_each_role_as_the_permission_table_says(app):
    alpha, beta = make_org("alpha"), make_org("beta")
    author = make_user("author@alpha.example", "org-admin", alpha)
    statement = make_statement(alpha, slug="statement-a", author=author)
    pending = statements.propose(statement, author, statements.Draft("New title", "New text", ""))
    accounts = {
        "platform-admin": ("admin@example.org", "platform-admin", None),
        "moderator": ("mod@example.org", "moderator", None),
        "org-editor": ("editor@alpha.example", "org-editor", alpha),
        "admin of another member": ("admin@beta.example", "org-admin", beta),
    }
    for email, role, org in accounts.values():
        make_user(email, role, org)
    accounts["author (org-admin)"] = ("author@alpha.example", "", None)
    answers = {}
    for who in EXPECTED:
        client = app.test_client()  # one browser per person
        token = ""
        if who != "signed out":
            login(client, accounts[who][0])
            token = session_csrf(client, "/admin/account/two-factor")
        answers[who] = {}
        for name, (method, path) in ROUTES.items():
            if method == "GET":
                response = client.get(path)
            else:
                data = {"csrf_token": token, "kind": "version", "ids": [str(pending.id)], "decision": "reject"}
                response = client.post(path, data={**data, "title": "T", "body": "B"})
            if response.status_code == 302 and "/admin/login" in response.headers["Location"]:
                answers[who][name] = "login"
            elif response.status_code in ((200,) if method == "GET" else (302, 303)):
                answers[who][name] = "ok"
            else:
                answers[who][name] = response.status_code
    assert answers == EXPECTED


def test_public_comments_wait_for_the_owning_members_admin_and_other_members_cannot_decide(app, client, mailbox):
    alpha, beta = make_org("alpha"), make_org("beta")
    petition = make_campaign(alpha, [beta], slug="petition", public_comments=True)
    quiet = make_campaign(alpha, slug="quiet")  # comments stay private there
    make_user("admin@alpha.example", "org-admin", alpha)
    make_user("admin@beta.example", "org-admin", beta)
    sign(client, "beta", "petition", supporter(comment="Count me in <b>now</b>"))
    sign(client, "alpha", "quiet", supporter("bo@example.org", comment="Private note"))
    run_jobs()
    for message in mailbox.messages:
        press(client, confirm_link(message))
    comment = db.session.scalar(select(PublicMessage))
    assert db.session.scalar(select(PublicMessage).where(PublicMessage.campaign_id == quiet.id)) is None
    assert "Count me in" not in text_of(client.get("/alpha/petition"))

    other = app.test_client()
    login(other, "admin@beta.example")  # hosts the petition, does not own it
    assert "Count me in" not in text_of(other.get("/admin/moderation/"))
    assert moderate(other, "comment", [comment.id], "approve").status_code == 403

    login(client, "admin@alpha.example")
    assert "Count me in &lt;b&gt;now&lt;/b&gt;" in text_of(client.get("/admin/moderation/?kind=comment"))
    mailbox.clear()
    assert moderate(client, "comment", [comment.id], "approve").status_code == 303
    run_jobs()
    assert "published" in mailbox.messages[0].get_body(("plain",)).get_content()
    page = text_of(client.get("/beta/petition"))
    assert "Count me in &lt;b&gt;now&lt;/b&gt;" in page and "Ana R." in page
    entry = db.session.scalar(select(ModerationDecision))
    assert (entry.kind, entry.decision, entry.before, entry.after, entry.moderator_email) == (
        "comment",
        "approve",
        "pending",
        "approved",
        "admin@alpha.example",
    )
    assert petition.public_comments


def test_hide_without_telling_keeps_the_signer_seeing_pending_and_every_decision_is_logged(app, client, mailbox):
    alpha = make_org("alpha")
    statement = make_statement(alpha, slug="together")
    make_user("mod@coalition.example", "moderator")
    sign(client, "alpha", "together", org_sign_on("Spam Corp"))
    sign(client, "alpha", "together", org_sign_on("Real Union", email="real@union.example"))
    run_jobs()
    links = {
        m.get_body(("plain",)).get_content().split(" was signed")[0].split("\n")[-1]: signon_link(m)
        for m in mailbox.messages
    }
    for link in links.values():
        press(client, link, step="confirm")
    spam = db.session.scalar(select(SignOn).where(SignOn.organization_name == "Spam Corp"))
    real = db.session.scalar(select(SignOn).where(SignOn.organization_name == "Real Union"))

    login(client, "mod@coalition.example")
    mailbox.clear()
    assert moderate(client, "sign_on", [spam.id], "hide", "spam", "bulk mailer").status_code == 303
    assert moderate(client, "sign_on", [real.id], "reject", "not-an-organization").status_code == 303
    assert moderate(client, "sign_on", [real.id], "approve", "bogus-reason").status_code == 303  # refused
    run_jobs()
    assert [m["To"] for m in mailbox.messages] == ["real@union.example"]  # nobody tells the hidden one
    signer = app.test_client()
    assert 'data-status="pending"' in text_of(signer.get(links["Spam Corp"]))

    log = text_of(client.get("/admin/moderation/log"))
    assert "Spam or advertising: bulk mailer" in log and "Not an organization" in log
    entries = db.session.scalars(select(ModerationDecision).order_by(ModerationDecision.id)).all()
    assert [(e.kind, e.object_id, e.decision, e.before, e.after) for e in entries] == [
        ("version", db.session.scalar(select(StatementVersion.id)), "approve", "pending", "approved"),
        ("sign_on", spam.id, "hide", "pending", "hidden"),
        ("sign_on", real.id, "reject", "pending", "rejected"),
    ]
    entries[1].reason = "rewritten"
    with pytest.raises(RuntimeError, match="insert-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(entries[1])
    with pytest.raises(RuntimeError, match="insert-only"):
        db.session.commit()
    db.session.rollback()
    assert statement.kind == "statement"


def test_a_bulk_decision_on_statement_texts_that_includes_ones_own_changes_nothing(app, client, mailbox):
    alpha = make_org("alpha")
    admin = make_user("sec@coalition.example", "platform-admin")
    first, second = make_statement(alpha, slug="first"), make_statement(alpha, slug="second")
    others = statements.propose(first, statements.versions(first)[0].author, statements.Draft("New", "New text", ""))
    own = statements.propose(second, admin, statements.Draft("Mine", "My own text", ""))
    decided_before = db.session.scalar(select(func.count(ModerationDecision.id)))
    login(client, "sec@coalition.example")

    refused = moderate(client, "version", [others.id, own.id], "approve")

    assert refused.status_code == 403 and "You wrote this version" in text_of(refused)
    db.session.expire_all()
    assert (others.status, own.status) == ("pending", "pending")
    assert "New text" not in text_of(client.get("/alpha/first"))
    assert db.session.scalar(select(func.count(ModerationDecision.id))) == decided_before
    assert moderate(client, "version", [others.id], "approve").status_code == 303
    assert "New text" in text_of(client.get("/alpha/first"))


def test_public_comments_turned_on_in_the_campaign_form_wait_for_moderation_then_show(app, client, mailbox):
    alpha = make_org("alpha")
    make_campaign(alpha, slug="petition", title="Clean water")
    make_user("admin@alpha.example", "org-admin", alpha)
    login(client, "admin@alpha.example")
    assert 'name="public_comments"' in text_of(client.get("/admin/alpha/campaigns/petition/edit"))
    token = session_csrf(client, "/admin/alpha/campaigns/petition/edit")
    form = {"title": "Clean water", "slug": "petition", "require_confirmation": "y", "ask_location": "y"}
    saved = client.post(
        "/admin/alpha/campaigns/petition/edit", data={"csrf_token": token, **form, "public_comments": "y"}
    )
    assert saved.status_code == 302

    signer = app.test_client()
    sign(signer, "alpha", "petition", supporter(comment="Water is a right"))
    run_jobs()
    press(signer, confirm_link(mailbox.messages[0]))
    assert "Water is a right" in text_of(client.get("/admin/moderation/?kind=comment"))
    assert "Water is a right" not in text_of(signer.get("/alpha/petition"))
    comment = db.session.scalar(select(PublicMessage))
    assert moderate(client, "comment", [comment.id], "approve").status_code == 303
    assert "Water is a right" in text_of(signer.get("/alpha/petition"))


def test_a_decision_changes_only_what_is_still_as_the_moderator_saw_it_and_hidden_items_can_be_decided_later(
    app, client, mailbox, monkeypatch
):
    from chorus.services import moderation
    from tests.test_statements import signed_list

    make_statement(make_org("alpha"), slug="together")
    for name, email in (("First Union", "a@first.example"), ("Second Union", "b@second.example")):
        sign(client, "alpha", "together", org_sign_on(name, email=email))
    sign(client, "alpha", "together", org_sign_on("Quiet Union", email="c@quiet.example"))
    run_jobs()
    for message in mailbox.messages:
        press(client, signon_link(message), step="confirm")
    first_union, second_union, quiet = db.session.scalars(select(SignOn).order_by(SignOn.id)).all()
    one, two = app.test_client(), app.test_client()
    for moderator, email in ((one, "one@coalition.example"), (two, "two@coalition.example")):
        make_user(email, "moderator")
        login(moderator, email)

    # Both looked at the same queue; the second decides from the older page.
    moderate(one, "sign_on", [first_union.id], "approve")
    answer = moderate(two, "sign_on", [first_union.id, second_union.id], "reject")
    page = text_of(two.get(answer.headers["Location"]))
    assert "1 item decided." in page and "1 item had been decided meanwhile, by another moderator" in page
    db.session.expire_all()
    assert (first_union.status, second_union.status) == ("approved", "rejected")
    decisions = select(ModerationDecision.decision).where(ModerationDecision.object_id == first_union.id)
    assert db.session.scalars(decisions.where(ModerationDecision.kind == "sign_on")).all() == ["approve"]

    # Hidden without telling is not final: the hidden view lists it, and it is decided from there.
    moderate(one, "sign_on", [quiet.id], "hide")
    assert "Quiet Union" not in text_of(one.get("/admin/moderation/"))
    assert "Quiet Union" in text_of(one.get("/admin/moderation/?view=hidden"))
    token = session_csrf(one, "/admin/moderation/?view=hidden")
    decide = {"csrf_token": token, "kind": "sign_on", "ids": [str(quiet.id)], "decision": "approve", "seen": "hidden"}
    one.post("/admin/moderation/decide", data=decide)
    assert signed_list(text_of(client.get("/alpha/together"))) == ["First Union", "Quiet Union"]

    # Two entries of one name approved at the same moment: the database keeps the first, and the
    # second moderator is told, with nothing decided (as if the first approval were not committed
    # when the second looked for it).
    sign(client, "alpha", "together", org_sign_on("first union", email="d@first.example"))
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    late = db.session.scalar(select(SignOn).where(SignOn.email_normalized == "d@first.example"))
    monkeypatch.setattr(moderation.statements, "listed_under", lambda campaign_id, name: None)
    answer = moderate(two, "sign_on", [late.id], "approve")
    assert "listed an organization of the same name meanwhile" in text_of(two.get(answer.headers["Location"]))
    db.session.expire_all()
    assert late.status == "pending"
