"""Coalition statements over HTTP: drafting and moderation of the text, organizations' sign-ons with
confirmation, approval and retraction, new versions, endorsements and what every host shows."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Campaign, ModerationDecision, PublicMessage, SignOn, StatementVersion
from tests.factories import (
    confirm_link,
    csrf_token,
    login,
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


def moderate(client, kind: str, ids: list[int], decision: str, reason_code: str = "", reason: str = ""):
    token = session_csrf(client, "/admin/moderation/")
    data = {"csrf_token": token, "kind": kind, "ids": [str(i) for i in ids], "decision": decision}
    return client.post("/admin/moderation/decide", data={**data, "reason_code": reason_code, "reason": reason})


def draft_statement(client, org_slug: str, **fields):
    token = session_csrf(client, f"/admin/{org_slug}/statements/new")
    data = {
        "csrf_token": token,
        "title": "Solidarity with families",
        "slug": "solidarity",
        "body": "We stand with **families**.",
        "call_to_action": "Sign on today.",
        "order": "alphabetical",
        **fields,
    }
    return client.post(f"/admin/{org_slug}/statements/new", data=data)


pytestmark = pytest.mark.usefixtures("cheap_hashing")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def signed_list(html: str) -> list[str]:
    found = re.search(r'<ol class="signatories">(.*?)</ol>', html, re.S)
    return (
        re.findall(r"<li>.*?(?:<a [^>]*>)?([^<]+?)(?:</a>)?\s*(?:<span|</li>)", found.group(1), re.S) if found else []
    )


def test_statement_goes_from_draft_to_queue_to_rejection_then_approval_and_is_published_on_every_host(
    app, client, mailbox
):
    puentes = make_org("puentes")
    make_org("union"), make_org("other")
    make_user("author@puentes.example", "org-admin", puentes)
    make_user("mod@coalition.example", "moderator")
    login(client, "author@puentes.example")

    assert draft_statement(client, "puentes", hosts=["union"]).status_code == 302
    assert client.get("/puentes/solidarity").status_code == 404  # a draft is nowhere public
    # Neither the campaign editor nor the publish button bypasses the moderators.
    assert client.get("/admin/puentes/campaigns/solidarity/edit").headers["Location"].endswith("/statements/solidarity")
    token = session_csrf(client, "/admin/puentes/campaigns/solidarity")
    client.post("/admin/puentes/campaigns/solidarity/status", data={"csrf_token": token, "action": "publish"})
    assert client.get("/puentes/solidarity").status_code == 404
    version = db.session.scalar(select(StatementVersion))
    assert version.status == "pending"
    # The author cannot approve their own text (nor can a member admin who is no moderator).
    assert moderate(client, "version", [version.id], "approve").status_code == 403

    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    queue = text_of(moderator.get("/admin/moderation/"))
    assert "Solidarity with families" in queue
    assert moderate(moderator, "version", [version.id], "reject", "text", "Name the governments.").status_code == 303
    run_jobs()
    rejection = next(m for m in mailbox.messages if m["To"] == "author@puentes.example")
    assert "Name the governments." in rejection.get_body(("plain",)).get_content()
    assert "Name the governments." in text_of(client.get("/admin/puentes/statements/solidarity"))
    assert client.get("/puentes/solidarity").status_code == 404

    token = session_csrf(client, "/admin/puentes/statements/solidarity")
    edit = {
        "csrf_token": token,
        "title": "Solidarity with families",
        "body": "Governments must act.",
        "call_to_action": "",
    }
    assert client.post("/admin/puentes/statements/solidarity/versions", data=edit).status_code == 302
    second = db.session.scalar(select(StatementVersion).where(StatementVersion.number == 2))
    assert moderate(moderator, "version", [second.id], "approve").status_code == 303

    for host in ("puentes", "union"):
        page = client.get(f"/{host}/solidarity")
        assert page.status_code == 200 and "Governments must act." in text_of(page)
        assert "Sign on as an organization" in text_of(page)
    assert client.get("/other/solidarity").status_code == 404
    decisions = db.session.scalars(select(ModerationDecision).order_by(ModerationDecision.id)).all()
    assert [(d.kind, d.decision, d.before, d.after, d.moderator_email) for d in decisions] == [
        ("version", "reject", "pending", "rejected", "mod@coalition.example"),
        ("version", "approve", "pending", "approved", "mod@coalition.example"),
    ]
    assert decisions[0].reason_code == "text" and decisions[0].reason == "Name the governments."


def test_organization_signs_on_confirms_by_mail_and_is_listed_on_every_host_once_approved(app, client, mailbox):
    puentes, union = make_org("puentes"), make_org("union")
    statement = make_statement(puentes, [union], slug="together")
    make_user("mod@coalition.example", "moderator")

    response = sign(client, "union", "together", org_sign_on("Acme  Workers", website="https://www.acme.example"))
    assert response.status_code == 303 and response.headers["Location"].endswith("status=sign_on")
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "confirm your organization's signature" in thanks and "only confirmed signatures count" not in thanks
    run_jobs()
    sign_on = db.session.scalar(select(SignOn))
    assert (sign_on.status, sign_on.organization_name, sign_on.verified_domain) == (
        "pending-confirmation",
        "Acme Workers",
        True,
    )
    link = signon_link(mailbox.messages[-1])
    assert "Acme Workers" not in text_of(client.get("/puentes/together"))  # nothing listed before approval

    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    assert "Acme Workers" not in text_of(moderator.get("/admin/moderation/"))  # unconfirmed: not queued yet
    client.get(link)  # a mail scanner opening the link confirms nothing
    db.session.refresh(sign_on)
    assert sign_on.status == "pending-confirmation"
    assert "waiting for review" in text_of(press(client, link, step="confirm"))
    queue = text_of(moderator.get("/admin/moderation/?kind=sign_on"))
    assert "Acme Workers" in queue and "verified domain" in queue

    mailbox.clear()
    assert moderate(moderator, "sign_on", [sign_on.id], "approve").status_code == 303
    run_jobs()
    assert "is now listed" in mailbox.messages[0].get_body(("plain",)).get_content()
    for host in ("puentes", "union"):
        html = text_of(client.get(f"/{host}/together"))
        assert signed_list(html) == ["Acme Workers"]
        assert 'href="https://www.acme.example"' in html
        assert "1 organization and 0 people" in html
    tally = client.get("/puentes/together/tally.json").get_json()
    assert (tally["kind"], tally["organizations"], tally["total"]) == ("statement", 1, 0)
    assert statement.kind == "statement"


def test_repeat_sign_on_changes_nothing_and_a_claim_on_a_listed_name_is_merged_without_changing_it(
    app, client, mailbox
):
    puentes = make_org("puentes", name="Puentes Network")
    make_statement(puentes, slug="together")
    moderator_user = make_user("mod@coalition.example", "moderator")

    first = sign(client, "puentes", "together", org_sign_on("Acme Workers"))
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    mailbox.clear()
    # The same contact again (other case and spacing): the same answer, and only a mail to the owner.
    again = sign(client, "puentes", "together", org_sign_on(" ACME   workers ", email="Contact@Acme.example"))
    assert again.status_code == first.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    run_jobs()
    assert db.session.scalar(select(func.count(SignOn.id))) == 1
    assert "Nothing changed" in mailbox.messages[0].get_body(("plain",)).get_content()

    # A member's own name is marked as a member on the list.
    sign(client, "puentes", "together", org_sign_on("Puentes network", email="info@puentes.example"))
    # Someone else claims the name once approved: a second row in the queue, never a change to the first.
    run_jobs()
    for message in mailbox.messages:
        if "/signon/" in message.get_body(("plain",)).get_content():
            press(client, signon_link(message), step="confirm")
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    ids = db.session.scalars(select(SignOn.id).order_by(SignOn.id)).all()
    assert moderate(moderator, "sign_on", ids, "approve").status_code == 303  # bulk
    claim = sign(
        client,
        "puentes",
        "together",
        org_sign_on("acme workers.", email="impostor@evil.example", website="https://evil.example"),
    )
    assert claim.headers["Location"] == first.headers["Location"]
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    claim_row = db.session.scalar(select(SignOn).where(SignOn.email_normalized == "impostor@evil.example"))
    assert claim_row.claim_of_id == ids[0]
    assert "claim" in text_of(moderator.get("/admin/moderation/?kind=sign_on"))
    moderate(moderator, "sign_on", [claim_row.id], "approve")
    db.session.expire_all()
    assert claim_row.status == "merged"
    listed = db.session.get(SignOn, ids[0])
    assert (listed.status, listed.email_normalized, listed.website) == (
        "approved",
        "contact@acme.example",
        "https://acme.example",
    )
    html = text_of(client.get("/puentes/together"))
    assert signed_list(html) == ["Puentes network", "Acme Workers"]  # members first, then alphabetical
    assert "evil.example" not in html and "coalition member" in html
    assert moderator_user.is_moderator


def test_retraction_link_takes_the_organization_off_every_host_at_once(app, client, mailbox):
    puentes, union = make_org("puentes"), make_org("union")
    make_statement(puentes, [union], slug="together")
    make_user("mod@coalition.example", "moderator")
    sign(client, "puentes", "together", org_sign_on())
    run_jobs()
    link = signon_link(mailbox.messages[-1])
    press(client, link, step="confirm")
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    moderate(moderator, "sign_on", [db.session.scalar(select(SignOn.id))], "approve")
    assert signed_list(text_of(client.get("/union/together"))) == ["Acme Workers"]
    assert client.get("/union/together/tally.json").get_json()["organizations"] == 1

    assert "withdrawn" in text_of(press(client, link, step="retract"))
    for host in ("puentes", "union"):
        assert signed_list(text_of(client.get(f"/{host}/together"))) == []
    assert client.get("/union/together/tally.json").get_json()["organizations"] == 0
    assert client.post(link, data={"step": "retract"}).status_code == 422  # no token: nothing happens


def test_new_text_waits_for_approval_then_signatories_are_mailed_and_may_keep_or_withdraw(app, client, mailbox):
    puentes = make_org("puentes")
    author = make_user("author@puentes.example", "org-admin", puentes)
    statement = make_statement(puentes, author=author, slug="together", body="The first text.")
    make_user("mod@coalition.example", "moderator")
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    for name in ("Acme Workers", "Bakers Union"):
        sign(client, "puentes", "together", org_sign_on(name, email=f"contact@{name[:4].lower()}.example"))
    run_jobs()
    links = [signon_link(m) for m in mailbox.messages]
    for link in links:
        press(client, link, step="confirm")
    moderate(moderator, "sign_on", list(db.session.scalars(select(SignOn.id))), "approve")

    login(client, "author@puentes.example")
    token = session_csrf(client, "/admin/puentes/statements/together")
    edit = {"csrf_token": token, "title": "We stand together", "body": "The second text.", "call_to_action": ""}
    client.post("/admin/puentes/statements/together/versions", data=edit)
    assert "The first text." in text_of(client.get("/puentes/together"))  # the approved text stays meanwhile
    new = db.session.scalar(select(StatementVersion).where(StatementVersion.number == 2))
    run_jobs()
    mailbox.clear()
    moderate(moderator, "version", [new.id], "approve")
    run_jobs()
    assert sorted(m["To"] for m in mailbox.messages) == ["contact@acme.example", "contact@bake.example"]
    assert "version 2" in mailbox.messages[0].get_body(("plain",)).get_content()

    html = text_of(client.get("/puentes/together"))
    assert "The second text." in html and "signed version 1" in html
    old = client.get("/puentes/together/versions/1")
    assert old.status_code == 200 and "The first text." in text_of(old)
    assert client.get("/puentes/together/versions/9").status_code == 404
    assert "now stands on the current version" in text_of(press(client, links[0], step="keep"))
    press(client, links[1], step="retract")
    html = text_of(client.get("/puentes/together"))
    assert signed_list(html) == ["Acme Workers"] and "signed version 1" not in html
    assert statement.signatory_order == "alphabetical"


def test_endorsement_counts_people_and_its_solidarity_message_shows_only_once_approved(app, client, mailbox):
    puentes, union = make_org("puentes"), make_org("union")
    make_statement(puentes, [union], slug="together")
    make_user("mod@coalition.example", "moderator")
    endorse = sign(client, "union", "together", supporter(comment="Fuerza from Oakland!"))
    assert endorse.status_code == 303
    # A contact may endorse as a person too: the sign-on is the organization's act.
    sign(client, "union", "together", org_sign_on(email="ana@example.org"))
    run_jobs()
    action_mail = next(m for m in mailbox.messages if "/confirm/" in m.get_body(("plain",)).get_content())
    press(client, confirm_link(action_mail))
    tally = client.get("/puentes/together/tally.json").get_json()
    assert (tally["total"], tally["by_org"]["union"], tally["organizations"]) == (1, 1, 0)
    assert "Fuerza from Oakland!" not in text_of(client.get("/puentes/together"))

    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    message = db.session.scalar(select(PublicMessage))
    assert "Fuerza from Oakland!" in text_of(moderator.get("/admin/moderation/?kind=message"))
    moderate(moderator, "message", [message.id], "approve")
    html = text_of(client.get("/puentes/together"))
    assert "Fuerza from Oakland!" in html and "Ana R." in html and "ana@example.org" not in html
    assert "0 organizations and 1 person" in html


def test_html_and_scripts_in_every_field_are_shown_as_text(app, client, mailbox):
    puentes = make_org("puentes")
    make_statement(puentes, slug="together", body="Hello <script>alert(1)</script> [x](javascript:alert(2))")
    make_user("mod@coalition.example", "moderator")
    evil = "<img src=x onerror=alert(3)>"
    sign(client, "puentes", "together", org_sign_on(evil, contact_name=evil, message=f"<script>{evil}</script>"))
    rejected = sign(client, "puentes", "together", org_sign_on("X", email="x@x.example", website="javascript:alert(4)"))
    assert rejected.status_code == 422 and "https://" in text_of(rejected)
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    queue = text_of(moderator.get("/admin/moderation/"))
    assert evil not in queue and "&lt;img src=x onerror=alert(3)&gt;" in queue
    moderate(moderator, "sign_on", [db.session.scalar(select(SignOn.id))], "approve")
    html = text_of(client.get("/puentes/together"))
    assert "<script>" not in html and evil not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    assert db.session.scalar(select(func.count(SignOn.id))) == 1  # the bad website stored nothing


def test_logos_are_checked_by_content_and_svg_loses_its_scripts(app, client, mailbox):
    from PIL import Image

    puentes = make_org("puentes")
    make_statement(puentes, slug="together")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    png = buffer.getvalue()

    def post_logo(name: str, data: bytes, filename: str, email: str):
        page = client.get("/puentes/together")
        form = {"csrf_token": csrf_token(text_of(page)), **org_sign_on(name, email=email)}
        form["logo"] = (io.BytesIO(data), filename)
        return client.post("/puentes/together", data=form, content_type="multipart/form-data")

    assert (
        post_logo("Fake", b"\x89PNG\r\n\x1a\n<script>alert(1)</script>", "logo.png", "a@a.example").status_code == 422
    )
    assert post_logo("Huge", png + b"\0" * 256 * 1024, "logo.png", "b@b.example").status_code == 422
    assert post_logo("Real", png, "logo.svg", "c@c.example").status_code == 303
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
        b'<script>alert(2)</script><circle cx="5" cy="5" r="4" fill="red"/>'
        b'<a href="javascript:alert(3)"><rect width="1" height="1"/></a></svg>'
    )
    assert post_logo("Drawn", svg, "logo.svg", "d@d.example").status_code == 303
    logos = dict(db.session.execute(select(SignOn.organization_name, SignOn.logo)).all())
    assert set(logos) == {"Real", "Drawn"} and logos["Real"].endswith(".png") and logos["Drawn"].endswith(".svg")
    served = client.get(f"/assets/puentes/{logos['Drawn']}")
    assert served.status_code == 200
    assert b"circle" in served.data and b"script" not in served.data and b"onload" not in served.data
    assert b"javascript" not in served.data


def test_bad_sign_ons_get_422_with_each_field_and_a_flood_from_one_address_is_limited(app, client):
    puentes = make_org("puentes")
    make_statement(puentes, slug="together")
    bad = sign(client, "puentes", "together", {"organization_name": "", "contact_name": "", "email": "nope"})
    assert bad.status_code == 422
    html = text_of(bad)
    assert html.count("This field is required.") >= 2 and "Enter a valid e-mail address." in html
    assert db.session.scalar(select(func.count(SignOn.id))) == 0
    answers = [
        sign(client, "puentes", "together", org_sign_on(f"Org {i}", email=f"c{i}@flood.example")).status_code
        for i in range(11)
    ]
    assert answers == [303] * 9 + [429, 429]  # ten tries an hour from one address, the bad one included
    assert db.session.scalar(select(func.count(SignOn.id))) == 9


def test_signatories_export_and_printable_delivery_document_for_statements_and_petitions(app, client):
    from tests.factories import make_campaign

    puentes = make_org("puentes")
    make_user("admin@puentes.example", "org-admin", puentes)
    statement = make_statement(puentes, slug="together", title="Our statement")
    db.session.add(
        SignOn(
            campaign_id=statement.id,
            org_id=puentes.id,
            organization_name="=cmd|evil",
            name_normalized="=cmd|evil",
            contact_name="C",
            email="c@c.example",
            email_normalized="c@c.example",
            status="approved",
            version_id=statement_version_id(statement),
        )
    )
    db.session.commit()
    petition = make_campaign(puentes, slug="petition", title="Our petition")
    login(client, "admin@puentes.example")
    csv_text = text_of(client.get("/admin/puentes/campaigns/together/signatories.csv"))
    assert csv_text.splitlines()[1].startswith("'=cmd|evil,") and "c@c.example" not in csv_text
    document = text_of(client.get("/admin/puentes/campaigns/together/delivery"))
    assert "Our statement" in document and "Version 1" in document and "=cmd|evil" in document
    document = text_of(client.get("/admin/puentes/campaigns/petition/delivery"))
    assert "Our petition" in document and "0</strong> signatures" in document
    assert client.get("/admin/puentes/campaigns/petition/signatories.csv").status_code == 404
    assert petition.kind == "petition"


def statement_version_id(campaign: Campaign) -> int:
    return db.session.scalar(select(StatementVersion.id).where(StatementVersion.campaign_id == campaign.id))


def test_a_host_stops_showing_a_statement_without_changing_the_text(app, client):
    puentes, union = make_org("puentes"), make_org("union")
    make_statement(puentes, [union], slug="together", body="Unchanged text.")
    make_user("admin@union.example", "org-admin", union)
    login(client, "admin@union.example")
    token = session_csrf(client, "/admin/union/campaigns/together")
    assert client.post("/admin/union/hosting/together", data={"csrf_token": token, "answer": "stop"}).status_code == 302
    assert client.get("/union/together").status_code == 404
    assert "Unchanged text." in text_of(client.get("/puentes/together"))


def test_statement_mails_are_owed_by_rows_so_a_flushed_redis_loses_none_and_unsubscribes_are_obeyed(
    app, client, mailbox
):
    from chorus.extensions import redis_store
    from chorus.models import SupporterMail
    from chorus.services import periodic

    puentes = make_org("puentes")
    make_statement(puentes, slug="together")
    make_user("mod@coalition.example", "moderator")
    sign(client, "puentes", "together", org_sign_on())
    redis_store.client.flushdb()  # the kicked job is gone before any worker took it
    run_jobs()
    assert not mailbox.messages
    assert "supporter-mail" in periodic.run_due()  # the ticker's next look
    run_jobs()
    [confirmation] = mailbox.messages
    assert "Please confirm" in confirmation["Subject"] and confirmation["List-Unsubscribe-Post"]
    press(client, signon_link(confirmation), step="confirm")

    # The contact leaves the member's mail: the moderators' decision is not mailed, the row says why.
    unsubscribe = confirmation["List-Unsubscribe"].strip("<>").replace("http://chorus.test", "")
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    mailbox.clear()
    assert moderate(moderator, "sign_on", [db.session.scalar(select(SignOn.id))], "approve").status_code == 303
    run_jobs()
    assert not mailbox.messages
    decision = db.session.scalar(select(SupporterMail).where(SupporterMail.kind == "decision"))
    assert (decision.status, decision.last_error) == ("skipped", "unsubscribed")


def test_a_sign_on_confirmation_to_an_address_that_left_the_coalition_carries_nothing_typed(app, client, mailbox):
    from chorus.services import supporter_mail

    puentes = make_org("puentes")
    make_statement(puentes, slug="together")
    supporter_mail.unsubscribe("contact@acme.example", None)  # "no mail from this coalition", earlier
    sign(client, "puentes", "together", org_sign_on("Mallory Front", contact_name="Mallory"))
    run_jobs()
    [confirmation] = mailbox.messages
    body = confirmation.get_body(("plain",)).get_content()
    assert "Mallory" not in body and "Hello," in body and "An organization was signed on" in body
    assert signon_link(confirmation)


def test_a_failed_sign_on_mail_shows_on_the_host_members_dashboard_only_and_its_retry_sends_it(app, client, mailbox):
    from chorus.models import SupporterMail

    puentes, union = make_org("puentes"), make_org("union")
    make_statement(puentes, [union], slug="together")
    sign(client, "union", "together", org_sign_on())
    row = db.session.scalar(select(SupporterMail))
    row.kind = "survey"  # a kind this release cannot compose
    db.session.commit()
    run_jobs()
    db.session.refresh(row)
    assert row.status == "failed" and not mailbox.messages

    make_user("admin@puentes.example", "org-admin", puentes)
    login(client, "admin@puentes.example")  # the owner, but not the site the contact used
    assert "contact@acme.example" not in text_of(client.get("/admin/puentes/campaigns/together"))
    token = session_csrf(client, "/admin/puentes/campaigns/together")
    assert client.post(f"/admin/puentes/mails/{row.id}/retry", data={"csrf_token": token}).status_code == 404

    union_admin = app.test_client()
    make_user("admin@union.example", "org-admin", union)
    login(union_admin, "admin@union.example")
    page = text_of(union_admin.get("/admin/union/campaigns/together"))
    assert "contact@acme.example" in page and "survey" in page
    row.kind = "confirm"  # what an edit fixes
    db.session.commit()
    token = session_csrf(union_admin, "/admin/union/campaigns/together")
    assert union_admin.post(f"/admin/union/mails/{row.id}/retry", data={"csrf_token": token}).status_code == 302
    run_jobs()
    assert [m["To"] for m in mailbox.messages] == ["contact@acme.example"]


def test_a_notice_about_a_new_text_is_skipped_when_the_organization_withdrew_before_it_went_out(app, client, mailbox):
    from chorus.models import SupporterMail
    from chorus.services import moderation, statements

    puentes = make_org("puentes")
    author = make_user("author@puentes.example", "org-admin", puentes)
    statement = make_statement(puentes, author=author, slug="together")
    moderator = make_user("mod@coalition.example", "moderator")
    sign(client, "puentes", "together", org_sign_on())
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    sign_on = db.session.scalar(select(SignOn))
    moderation.decide(moderator, "sign_on", [sign_on.id], "approve")
    run_jobs()
    version = statements.propose(statement, author, statements.Draft("We stand together", "Other words.", ""))
    moderation.decide(moderator, "version", [version.id], "approve")
    statements.retract(sign_on)  # before the sweep sent the notice
    mailbox.clear()
    run_jobs()
    assert not mailbox.messages
    notice = db.session.scalar(select(SupporterMail).where(SupporterMail.kind == "new_version"))
    assert (notice.ref, notice.status, notice.last_error) == (version.id, "skipped", "now retracted")


def test_a_sign_on_mail_job_queued_before_the_outbox_still_gets_its_mail_sent(app, client, mailbox):
    from sqlalchemy import delete

    from chorus import queues
    from chorus.models import SupporterMail

    make_statement(make_org("puentes"), slug="together")
    sign(client, "puentes", "together", org_sign_on())
    db.session.execute(delete(SupporterMail))  # as before this release: no row, only the job
    db.session.commit()
    queues.enqueue(queues.SEND_SIGN_ON_MAIL, "confirm", db.session.scalar(select(SignOn.id)), queue_name="mail")
    run_jobs()
    assert [m["To"] for m in mailbox.messages] == ["contact@acme.example"]


def test_an_author_who_uses_the_admin_in_spanish_gets_the_rejection_in_spanish(app, client, mailbox):
    puentes = make_org("puentes")
    author = make_user("autora@puentes.example", "org-admin", puentes)
    make_user("mod@coalition.example", "moderator")
    login(client, "autora@puentes.example")
    client.get("/admin/?lang=es")  # the admin's language link: remembered on the account
    assert author.language == "es"
    assert draft_statement(client, "puentes").status_code == 302
    version = db.session.scalar(select(StatementVersion))

    moderator = app.test_client()
    login(moderator, "mod@coalition.example")  # who moderates in English
    assert moderate(moderator, "version", [version.id], "reject", "text", "Nombrad a los gobiernos.").status_code == 303
    run_jobs()
    rejection = next(m for m in mailbox.messages if m["To"] == "autora@puentes.example")
    body = rejection.get_body(("plain",)).get_content()
    assert rejection["Subject"] == "Tu declaración no fue aprobada: Solidarity with families"
    assert "La versión 1 de la declaración «Solidarity with families» no fue aprobada." in body
    assert "Motivo: El texto" in body and "Nombrad a los gobiernos." in body
    assert "Edítala y vuelve a enviarla a moderación" in body
    assert "was not approved" not in body


def _signed_on_and_confirmed(client, mailbox, org_slug: str, slug: str, name: str, email: str) -> SignOn:
    sign(client, org_slug, slug, org_sign_on(name, email=email))
    run_jobs()
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    return db.session.scalar(select(SignOn).where(SignOn.email_normalized == email))


def test_one_organization_typed_many_ways_is_listed_once_and_a_name_without_letters_is_refused(app, client, mailbox):
    puentes = make_org("puentes")
    make_statement(puentes, slug="together")
    make_user("mod@coalition.example", "moderator")
    moderator = app.test_client()
    login(moderator, "mod@coalition.example")
    typed = [
        ("Café Unido", "a@cafe.example"),
        ("Cafe\u0301 Unido", "b@cafe.example"),  # the same letters, the accent decomposed
        ("Workers\u2019 Union of the Valley", "c@union.example"),  # a phone's apostrophe
        ("Workers' Union of the Valley", "d@union.example"),
        ("ＡＣＭＥ-Solidarity Fund", "e@acme.example"),  # full-width letters, a dash
        ("Acme Solidarity Fund", "f@acme.example"),
        ("कोमल संघ", "g@hi.example"),  # two organizations whose names differ only in a vowel sign
        ("कीमल संघ", "h@hi.example"),
        ("سازمان\u200cهای مردمی", "i@fa.example"),  # Persian needs its zero-width non-joiner
    ]
    for name, email in typed:
        _signed_on_and_confirmed(client, mailbox, "puentes", "together", name, email)
    ids = db.session.scalars(select(SignOn.id).order_by(SignOn.id)).all()
    assert len(ids) == len(typed)
    moderate(moderator, "sign_on", ids, "approve")
    assert signed_list(text_of(client.get("/puentes/together"))) == [  # the first of each, alphabetically
        "ＡＣＭＥ-Solidarity Fund",
        "Café Unido",
        "Workers\u2019 Union of the Valley",
        "سازمان\u200cهای مردمی",
        "कीमल संघ",
        "कोमल संघ",
    ]
    tally = client.get("/puentes/together/tally.json").get_json()
    last_decided = max(db.session.scalars(select(SignOn.decided_at))).isoformat(timespec="seconds")
    assert (tally["organizations"], tally["updated_at"]) == (6, last_decided)  # the list's change dates it

    for nameless in ("***", "«»", "&"):
        data = org_sign_on(nameless, email="x@nameless.example")
        refused = sign(client, "puentes", "together", data, environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert refused.status_code == 422 and "at least one letter or digit" in text_of(refused)
    assert db.session.scalar(select(func.count(SignOn.id))) == len(typed)


def test_a_contact_who_posts_twice_gets_one_mail_and_one_who_withdrew_can_sign_on_again(app, client, mailbox):
    make_statement(make_org("puentes"), slug="together")
    sign(client, "puentes", "together", org_sign_on())
    sign(client, "puentes", "together", org_sign_on())  # the back button, a double click
    run_jobs()
    assert len(mailbox.messages) == 1
    link = signon_link(mailbox.messages[0])
    press(client, link, step="confirm")
    press(client, link, step="retract")

    sign(client, "puentes", "together", org_sign_on(message="We are back."))
    run_jobs()
    assert len(mailbox.messages) == 2 and "/signon/" in mailbox.messages[1].get_body(("plain",)).get_content()
    row = db.session.scalar(select(SignOn))
    assert (row.status, row.message, row.decided_at) == ("pending-confirmation", "We are back.", None)
    assert "waiting for review" in text_of(press(client, signon_link(mailbox.messages[1]), step="confirm"))

    # A contact who signed in Spanish opens every mailed link in Spanish, on whatever host it points to.
    sign(client, "puentes", "together?lang=es", org_sign_on("Unión Sur", email="sur@union.example"))
    run_jobs()
    spanish = signon_link(mailbox.messages[-1])
    assert spanish.endswith("?lang=es") and 'lang="es"' in text_of(client.get(spanish))


def test_a_paused_statement_confirms_no_sign_on(app, client, mailbox):
    statement = make_statement(make_org("puentes"), slug="together")
    sign(client, "puentes", "together", org_sign_on())
    run_jobs()
    statement.status = "paused"
    db.session.commit()
    link = signon_link(mailbox.messages[0])
    assert "not taking sign-ons now" in text_of(client.get(link))
    refused = client.post(link, data={"csrf_token": csrf_token(text_of(client.get(link))), "step": "confirm"})
    assert refused.status_code == 409 and "was not confirmed" in text_of(refused)
    db.session.expire_all()
    assert db.session.scalar(select(SignOn.status)) == "pending-confirmation"


def test_a_version_that_only_adds_translations_keeps_the_signed_text_whatever_line_endings_the_browser_sent(app):
    from chorus.services import statements

    statement = make_statement(make_org("puentes"), slug="together", body="One line.\nAnother line.")
    current = statements.current_version(statement)
    typed = statements.Draft(current.title, "One line.\r\nAnother line.", current.call_to_action)
    assert statements.propose(statement, None, typed).same_text(current)
