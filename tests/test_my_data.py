"""The supporter's own "manage my data" page, the link in every supporter mail, unsubscribe links
that withdraw "updates" consents, and the platform admins' data-rights page."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from sqlalchemy import func, select, text

from chorus.cli import cli
from chorus.extensions import db
from chorus.models import Action, AuditEntry, Consent, SignOn, SupporterMail, Suppression
from chorus.services import mail, my_data, supporter_mail, supporters
from tests.factories import (
    confirm_link,
    csrf_token,
    letter,
    login,
    make_campaign,
    make_letter_campaign,
    make_org,
    make_statement,
    make_user,
    org_sign_on,
    press,
    run_jobs,
    session_csrf,
    sign,
    supporter,
)

ADDRESS = "itzel.mendoza@example.org"
MANAGE = re.compile(r"https?://[^/\s]+(/my-data/[^\s\"<]+)")


def _ask(client, path: str, address: str):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": address})


def _answer(client, response) -> tuple:
    """What the person at the keyboard sees: status, headers (but the date and cookies), body, and
    the page the answer leads to."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("Date", "Set-Cookie"))
    page = client.get(response.headers["Location"])
    return response.status_code, headers, response.get_data(), page.status_code, page.get_data()


def _manage_link(message) -> str:
    match = MANAGE.search(message.get_body(("plain",)).get_content())
    assert match, message.get_body(("plain",)).get_content()
    return match.group(1)


def _to(mailbox, address: str) -> list:
    return [m for m in mailbox.messages if m["To"].lower() == address]


def _post(client, link: str, **form):
    token = csrf_token(client.get(link).get_data(as_text=True))
    return client.post(link, data={"csrf_token": token, **form})


def _rows_naming(address: str) -> int:
    count = select(func.count(Action.id)).where(Action.email == address)
    return db.session.scalar(count.execution_options(all_orgs=True))


def _link_for(client, mailbox, org_slug: str, address: str = ADDRESS) -> str:
    mailbox.clear()
    _ask(client, f"/{org_slug}/my-data", address)
    run_jobs()
    [message] = _to(mailbox, address)
    return _manage_link(message)


def test_asking_for_the_link_answers_the_same_for_known_and_unknown_addresses(client, mailbox):
    alpha = make_org("alpha", name="Alpha")
    campaign = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter(ADDRESS))
    run_jobs()
    mailbox.clear()

    known = _answer(client, _ask(client, "/alpha/my-data", ADDRESS.upper()))
    unknown = _answer(client, _ask(client, "/alpha/my-data", "nobody@example.org"))
    assert known == unknown
    assert known[0] == 303 and b"If we hold anything for this address" in known[4]
    run_jobs()
    assert [m["To"] for m in mailbox.messages] == [ADDRESS]
    [message] = mailbox.messages
    assert message["Subject"] == "Your data at Alpha" and message["List-Unsubscribe"]
    assert _manage_link(message).startswith("/my-data/")

    # The coalition's root serves the form too; a bad address is a 422 with the form, nothing sent.
    assert _ask(client, "/my-data", "not an address").status_code == 422
    assert client.get("/my-data?lang=es").status_code == 200


def test_the_link_mail_is_rate_limited_per_address(client, mailbox):
    alpha = make_org("alpha")
    campaign = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter(ADDRESS))
    run_jobs()
    mailbox.clear()
    for _ in range(5):
        _ask(client, "/alpha/my-data", ADDRESS)
        run_jobs()
    assert len(_to(mailbox, ADDRESS)) == 3


def test_the_link_shows_what_is_held_and_opening_it_changes_nothing(client, mailbox, app_env):
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    petition = make_campaign(alpha, hosts=[beta], title="Open the shelters", require_confirmation=False)
    person = supporter(ADDRESS, first_name="Itzel", comment="for my cousins")
    sign(client, "beta", petition.slug, {**person, "share_with": "alpha", "updates_from": "beta"})
    run_jobs()
    link = _link_for(client, mailbox, "beta")
    entries = db.session.scalar(select(func.count(AuditEntry.id)))

    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for shown in ("Open the shelters", "Itzel", "for my cousins", "Share my details with: Alpha", "Beta"):
        assert shown in html, shown
    assert "Send me e-mail updates from: Beta" in html
    assert db.session.scalar(select(func.count(AuditEntry.id))) == entries  # a GET records nothing

    spanish = client.get(link + "?lang=es").get_data(as_text=True)
    assert "Tus datos" in spanish

    download = _post(client, link, step="export")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    document = json.loads(download.get_data())
    assert document["email"] == ADDRESS and document["actions"][0]["comment"] == "for my cousins"
    actors = db.session.scalars(select(AuditEntry.actor).where(AuditEntry.event == "supporter.export")).all()
    assert actors == ["supporter"]
    assert json.loads(CliRunner().invoke(cli, ["supporters", "export", ADDRESS], env=app_env).stdout) == document

    assert _post(client, link, step="export", csrf_token="forged").status_code == 422
    assert client.get("/my-data/not-a-token").status_code == 404


def _listed_under(html: str, heading: str) -> str:
    """What the page lists under one of its two consent headings (agreed, not agreed)."""
    return html.split(f"<h3>{heading}</h3>", 1)[1].split("</ul>", 1)[0]


def test_an_expired_link_offers_a_new_one(client, mailbox, monkeypatch):
    alpha = make_org("alpha")
    campaign = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter(ADDRESS))
    run_jobs()
    link = _link_for(client, mailbox, "alpha")
    monkeypatch.setattr(mail, "MANAGE_MAX_AGE", -1)
    page = client.get(link)
    assert page.status_code == 410 and "This link has expired" in page.get_data(as_text=True)


def test_withdrawing_a_share_consent_takes_the_supporter_off_the_owners_list_and_csv(client, mailbox, app_env):
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    petition = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    sign(client, "beta", petition.slug, {**supporter(ADDRESS, first_name="Itzel"), "share_with": "alpha"})
    run_jobs()
    make_user("owner@example.org", "org-admin", alpha)

    def owner_sees() -> tuple[bool, bool]:
        admin = client.application.test_client()
        login(admin, "owner@example.org")
        listed = ADDRESS in admin.get("/admin/alpha/supporters").get_data(as_text=True)
        exported = CliRunner().invoke(cli, ["export", "signatures", petition.slug, "--org", "alpha"], env=app_env)
        assert exported.exit_code == 0, exported.output
        return listed, ADDRESS in exported.stdout

    assert owner_sees() == (True, True)
    link = _link_for(client, mailbox, "beta")
    action_uuid = db.session.scalar(select(Action.uuid).execution_options(all_orgs=True))
    withdrawn = _post(client, link, step="withdraw", action=action_uuid, member="alpha", purpose="share")
    page = withdrawn.get_data(as_text=True)
    assert withdrawn.status_code == 200 and "you withdrew that consent" in page
    assert "Share my details with: Alpha" in _listed_under(page, "What you did not agree to")
    assert "What you agreed to" not in page  # nothing else was agreed
    assert owner_sees() == (False, False)
    record = db.session.scalar(select(Consent).where(Consent.purpose == "share"))
    assert record.withdrawn_at is not None

    granted = _post(client, link, step="grant", action=action_uuid, member="alpha", purpose="share")
    assert granted.status_code == 200 and owner_sees() == (True, True)
    page = granted.get_data(as_text=True)
    assert "Share my details with: Alpha" in _listed_under(page, "What you agreed to")
    assert "Share my details with: Alpha" not in _listed_under(page, "What you did not agree to")
    events = db.session.scalars(
        select(AuditEntry.event).where(AuditEntry.event.like("consent.%")).order_by(AuditEntry.id)
    ).all()
    assert events == ["consent.withdraw", "consent.grant"]
    # A member the campaign never offered, or another address's action: refused, nothing changes.
    make_org("gamma")
    assert _post(client, link, step="grant", action=action_uuid, member="gamma", purpose="share").status_code == 400
    assert _post(client, link, step="grant", action="nope", member="alpha", purpose="share").status_code == 400


def test_erasing_through_the_page_keeps_tallies_and_leaves_no_address(client, mailbox):
    alpha, beta = make_org("alpha"), make_org("beta")
    petition = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    sign(client, "beta", petition.slug, {**supporter(ADDRESS, first_name="Itzel"), "share_with": "alpha"})
    sign(client, "alpha", petition.slug, supporter("other@example.org"))
    run_jobs()
    before = client.get(f"/alpha/{petition.slug}/tally.json").get_json()["by_org"]
    link = _link_for(client, mailbox, "alpha")

    asked = _post(client, link, step="erase")  # the first press only asks to confirm
    assert asked.status_code == 200 and "Yes, erase everything" in asked.get_data(as_text=True)
    assert _rows_naming(ADDRESS)

    erased = _post(client, link, step="erase", confirm="yes")
    assert erased.status_code == 200 and "Your data is erased" in erased.get_data(as_text=True)
    dump = "\n".join(
        repr(tuple(row))
        for table in db.metadata.sorted_tables
        for row in db.session.execute(text(f"SELECT * FROM {table.name}"))
    )
    assert ADDRESS not in dump and "Itzel" not in dump and "other@example.org" in dump
    assert client.get(f"/alpha/{petition.slug}/tally.json").get_json()["by_org"] == before
    assert "We hold nothing about this address" in client.get(link).get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.event == "supporter.erase")) == "supporter"


def test_platform_admin_exports_and_erases_an_address_with_a_confirmation_step(client):
    alpha = make_org("alpha")
    petition = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", petition.slug, supporter(ADDRESS, first_name="Itzel"))
    statement = make_statement(alpha)
    sign(client, "alpha", statement.slug, org_sign_on("Colectivo Garza", ADDRESS, contact_name="Itzel Mendoza"))
    admin = make_user("secretariat@example.org", "platform-admin")
    login(client, "secretariat@example.org")
    token = session_csrf(client, "/admin/data-rights")

    download = client.post("/admin/data-rights", data={"csrf_token": token, "email": ADDRESS, "step": "export"})
    document = json.loads(download.get_data())
    assert download.status_code == 200 and document["email"] == ADDRESS
    assert [(s["organization"], s["contact_name"]) for s in document["sign_ons"]] == [
        ("Colectivo Garza", "Itzel Mendoza")
    ]
    unknown = client.post("/admin/data-rights", data={"csrf_token": token, "email": "no@example.org", "step": "export"})
    assert unknown.status_code == 422 and "Nothing is held" in unknown.get_data(as_text=True)

    asked = client.post("/admin/data-rights", data={"csrf_token": token, "email": ADDRESS, "step": "erase"})
    assert asked.status_code == 200 and "Yes, erase" in asked.get_data(as_text=True)
    assert _rows_naming(ADDRESS)
    done = client.post(
        "/admin/data-rights", data={"csrf_token": token, "email": ADDRESS, "step": "erase", "confirm": "yes"}
    )
    assert done.status_code == 302
    assert not _rows_naming(ADDRESS)
    sign_on = db.session.scalar(select(SignOn))
    assert (sign_on.organization_name, sign_on.contact_name, sign_on.email) == ("Colectivo Garza", "", "")
    entries = db.session.execute(select(AuditEntry.event, AuditEntry.actor).order_by(AuditEntry.id)).all()
    assert [tuple(e) for e in entries] == [
        ("supporter.export", f"user:{admin.id}"),
        ("supporter.erase", f"user:{admin.id}"),
    ]


def test_unsubscribe_links_withdraw_updates_consents_in_the_scope_of_the_unsubscribe(client, mailbox):
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    petition = make_campaign(alpha, hosts=[beta])
    other = make_campaign(beta, slug="beta-petition")
    sign(client, "alpha", petition.slug, {**supporter(ADDRESS), "updates_from": ["alpha", "beta"]})
    sign(client, "beta", other.slug, {**supporter(ADDRESS), "updates_from": "beta"})
    run_jobs()

    def active() -> list[str]:
        rows = db.session.scalars(
            select(Consent).where(Consent.purpose == "updates", Consent.withdrawn_at.is_(None))
        ).all()
        return sorted(c.org.slug for c in rows)

    assert active() == ["alpha", "beta", "beta"]
    alpha_mail = next(m for m in _to(mailbox, ADDRESS) if m["From"].startswith("Alpha"))
    unsubscribe = alpha_mail["List-Unsubscribe"].strip("<>").replace("http://chorus.test", "")
    client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})  # RFC 8058: alpha's mail only
    db.session.expire_all()
    assert active() == ["beta", "beta"]
    client.post(unsubscribe, data={"scope": "coalition"})  # no mail from this coalition: all of them
    db.session.expire_all()
    assert active() == []

    # Asked for after leaving everything, the link still comes; a consent given again on the page is
    # withdrawn again by the next unsubscribe link.
    link = _link_for(client, mailbox, "alpha")
    first = db.session.scalar(
        select(Action.uuid).where(Action.campaign_id == petition.id).execution_options(all_orgs=True)
    )
    _post(client, link, step="grant", action=first, member="alpha", purpose="updates")
    assert active() == ["alpha"]
    client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    db.session.expire_all()
    assert active() == []
    audited = db.session.scalars(select(AuditEntry).where(AuditEntry.event == "consent.withdraw")).all()
    assert [e.actor for e in audited] == ["supporter"] * 3 and all("@" not in e.subject for e in audited)


def test_every_supporter_mail_carries_the_link_to_manage_its_data(client, mailbox):
    alpha = make_org("alpha", name="Alpha")
    petition = make_campaign(alpha)
    sign(client, "alpha", petition.slug, supporter(ADDRESS))  # confirmation (text and HTML)
    sign(client, "alpha", petition.slug, supporter(ADDRESS))  # the confirmation again
    counted = make_campaign(alpha, slug="counted", require_confirmation=False)
    sign(client, "alpha", counted.slug, supporter(ADDRESS))
    sign(client, "alpha", counted.slug, supporter(ADDRESS))  # "you already signed"
    letters = make_letter_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", letters.slug, letter(ADDRESS))  # the copy of the letter
    statement = make_statement(alpha)
    page = client.get(f"/alpha/{statement.slug}")
    client.post(
        f"/alpha/{statement.slug}",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), **org_sign_on(email=ADDRESS)},
    )  # an organization's sign-on
    run_jobs()
    kinds = set()
    for message in _to(mailbox, ADDRESS):
        kinds.add(message["Message-ID"].split(".")[0])
        link = _manage_link(message)
        assert client.get(link).status_code == 200, message["Subject"]
        html = message.get_body(("html",))
        if html is not None:
            assert MANAGE.search(html.get_content()), message["Subject"]
    assert kinds >= {"<confirm", "<repeat", "<copy", "<signon-confirm"}


def test_an_address_known_only_by_an_unsubscribe_or_a_sign_on_gets_the_link_too(client, mailbox):
    alpha = make_org("alpha", name="Alpha")
    statement = make_statement(alpha, title="Families together")
    db.session.add_all(
        [
            Suppression(email_normalized="left@example.org", org_id=alpha.id),
            Suppression(email_normalized="gone@example.org"),
        ]
    )
    db.session.commit()
    sign(client, "alpha", statement.slug, org_sign_on("Colectivo Garza", ADDRESS, message="With you"))
    run_jobs()

    left = _link_for(client, mailbox, "alpha", "left@example.org")  # from the member it left
    page = client.get(left).get_data(as_text=True)
    assert "Unsubscribed" in page and "Alpha" in page and "We hold nothing" not in page
    document = json.loads(_post(client, left, step="export").get_data())
    assert document["unsubscribes"][0]["member"] == "alpha"
    assert [(m["kind"], m.get("unsubscribed_address")) for m in document["mails_sent"]] == [("my_data", True)]
    mailbox.clear()
    _ask(client, "/my-data", "gone@example.org")  # left every member: the coalition's own site sends it
    run_jobs()
    [message] = _to(mailbox, "gone@example.org")
    assert message["Subject"] == "Your data at Chorus" and "Every member of the coalition" in client.get(
        _manage_link(message)
    ).get_data(as_text=True)

    link = _link_for(client, mailbox, "alpha")  # the contact of an organization's sign-on
    page = client.get(link).get_data(as_text=True)
    for shown in (
        "Families together",
        "Colectivo Garza",
        "Rosa Díaz",
        ADDRESS,
        "With you",
        "waiting for your confirmation",
    ):
        assert shown in page, shown
    document = json.loads(_post(client, link, step="export").get_data())
    assert [(s["organization"], s["contact_name"], s["message"]) for s in document["sign_ons"]] == [
        ("Colectivo Garza", "Rosa Díaz", "With you")
    ]
    assert "Your data is erased" in _post(client, link, step="erase", confirm="yes").get_data(as_text=True)
    sign_on = db.session.scalar(select(SignOn))
    assert (sign_on.organization_name, sign_on.contact_name, sign_on.email, sign_on.message) == (
        "Colectivo Garza",
        "",
        "",
        "",
    )
    assert "@" not in sign_on.email_normalized
    assert "We hold nothing about this address" in client.get(link).get_data(as_text=True)


def test_granting_updates_again_lifts_that_members_unsubscribe(client, mailbox):
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    petition = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    sign(client, "alpha", petition.slug, {**supporter(ADDRESS), "updates_from": ["alpha", "beta"]})
    run_jobs()
    unsubscribe = mail.unsubscribe_url(ADDRESS, "alpha").replace("http://chorus.test", "")
    client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})  # alpha's mail only
    action_uuid = db.session.scalar(select(Action.uuid).execution_options(all_orgs=True))

    link = _link_for(client, mailbox, "alpha")
    assert "Receive mail again" in client.get(link).get_data(as_text=True)
    granted = _post(client, link, step="grant", action=action_uuid, member="alpha", purpose="updates")
    assert "your unsubscribe is lifted" in granted.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Suppression.id))) == 0
    events = db.session.scalars(select(AuditEntry.event).order_by(AuditEntry.id)).all()
    assert events[-2:] == ["consent.grant", "unsubscribe.lift"]
    mailbox.clear()
    sign(client, "alpha", petition.slug, supporter(ADDRESS))  # alpha's "you already signed" reaches them again
    run_jobs()
    assert [m["Subject"] for m in _to(mailbox, ADDRESS)] == [f"You already signed: {petition.title}"]

    # After leaving every member, a "yes" to one member's news is recorded, and the page says no news
    # goes while that unsubscribe stands; lifting it is the supporter's own button.
    client.post(unsubscribe, data={"scope": "coalition"})
    _post(client, link, step="grant", action=action_uuid, member="beta", purpose="updates")
    page = client.get(link).get_data(as_text=True)
    assert "No news is sent while you are unsubscribed from every member" in page
    lifted = _post(client, link, step="resubscribe", member="")
    assert "your unsubscribe is lifted" in lifted.get_data(as_text=True)
    assert "No news is sent" not in lifted.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Suppression.id))) == 0
    assert _post(client, link, step="resubscribe", member="nobody").status_code == 400


def test_after_erasure_an_old_confirmation_link_confirms_nothing_and_signing_again_starts_afresh(client, mailbox):
    alpha = make_org("alpha")
    petition = make_campaign(alpha)  # confirmation by mail
    sign(client, "alpha", petition.slug, supporter(ADDRESS, first_name="Itzel"))
    run_jobs()
    old_link = confirm_link(_to(mailbox, ADDRESS)[-1])
    _post(client, _link_for(client, mailbox, "alpha"), step="erase", confirm="yes")

    assert client.get(old_link).status_code == 404  # an unconfirmed action goes entirely
    assert db.session.scalar(select(func.count(Action.id)).execution_options(all_orgs=True)) == 0
    assert client.get(f"/alpha/{petition.slug}/tally.json").get_json()["total"] == 0

    mailbox.clear()
    assert sign(client, "alpha", petition.slug, supporter(ADDRESS, first_name="Itzel")).status_code == 303
    run_jobs()
    [message] = _to(mailbox, ADDRESS)  # a new confirmation, to the address just typed
    assert "Itzel" in message.get_body(("plain",)).get_content()
    press(client, confirm_link(message))
    assert client.get(f"/alpha/{petition.slug}/tally.json").get_json()["total"] == 1


def test_acting_again_after_erasure_counts_once_and_mails_no_one(client, mailbox):
    alpha = make_org("alpha")
    petition = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", petition.slug, supporter(ADDRESS))
    _post(client, _link_for(client, mailbox, "alpha"), step="erase", confirm="yes")
    mailbox.clear()

    again = sign(client, "alpha", petition.slug, supporter(ADDRESS))
    run_jobs()
    assert again.status_code == 303  # the page answers as for a first signature
    assert client.get(f"/alpha/{petition.slug}/tally.json").get_json()["total"] == 1
    assert mailbox.messages == []  # the erased action has no address: nobody to tell
    assert db.session.scalar(select(func.count(SupporterMail.id)).where(SupporterMail.kind == "repeat")) == 0


def test_an_unsubscribe_outlives_erasure_as_a_keyed_hash_and_can_still_be_lifted(client, mailbox):
    alpha = make_org("alpha")
    petition = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", petition.slug, supporter(ADDRESS))
    supporter_mail.unsubscribe(ADDRESS, None)  # "no mail from this coalition"
    assert supporters.erase(ADDRESS, "test") is not None

    [kept] = db.session.scalars(select(Suppression))
    assert kept.org_id is None and "@" not in kept.email_normalized  # the objection, not the address
    assert supporters.erase(ADDRESS, "test") is None  # nothing personal left to erase
    # Someone types the address again, on a letter: its copy (not transactional) is still stopped.
    writing = make_letter_campaign(alpha, require_confirmation=False, slug="a-letter")
    mailbox.clear()
    sign(client, "alpha", writing.slug, letter(ADDRESS))
    run_jobs()
    assert _to(mailbox, ADDRESS) == []
    copy = db.session.scalar(select(SupporterMail).where(SupporterMail.kind == "copy"))
    assert (copy.status, copy.last_error) == ("skipped", "unsubscribed")
    assert supporter_mail.unsubscribed([ADDRESS], alpha.id) == {ADDRESS}  # what the API reports too
    # The owner, back on their page, sees the unsubscribe and may lift it.
    assert my_data.holdings(ADDRESS).unsubscribes == [(None, kept.created_at)]
    assert my_data.lift_unsubscribe(ADDRESS, "")
    assert db.session.scalar(select(func.count(Suppression.id))) == 0
