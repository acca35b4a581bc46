"""Supporter mail decided by the database: owed rows, leases, a flushed Redis, per-mail isolation,
the unsubscribe scope, and header-safe text."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, Organization, SupporterMail, Suppression
from chorus.models.base import utcnow
from chorus.services import mail, pacing, periodic, supporter_mail
from tests.factories import (
    confirm_link,
    csrf_token,
    letter,
    login,
    make_campaign,
    make_letter_campaign,
    make_org,
    make_user,
    run_jobs,
    session_csrf,
    sign,
    supporter,
)


def owed(status: str) -> int:
    return db.session.scalar(select(func.count()).select_from(SupporterMail).where(SupporterMail.status == status))


def test_a_confirmation_is_owed_by_its_row_and_recorded_as_sent_once_smtp_accepts_it(client, mailbox):
    org = make_org()
    campaign = make_campaign(org)
    sign(client, org.slug, campaign.slug, supporter())
    assert owed("queued") == 1 and not mailbox.messages
    run_jobs()
    [message] = mailbox.messages
    assert message["Message-ID"].startswith("<confirm.")
    row = db.session.scalar(select(SupporterMail))
    assert (row.kind, row.status, row.sent_at is not None) == ("confirm", "sent", True)


def test_mail_goes_from_the_sites_host_or_the_mail_domain_set_for_it(client, mailbox, app):
    org = make_org()
    campaign = make_campaign(org)

    def sender_of(address: str) -> tuple[str, str]:
        sign(client, org.slug, campaign.slug, supporter(address))
        run_jobs()
        [message] = [m for m in mailbox.messages if m["To"].addresses[0].addr_spec == address]
        return message["From"].addresses[0].addr_spec, message["Message-ID"].rsplit("@", 1)[1]

    assert sender_of("first@example.org") == ("no-reply@chorus.test", "chorus.test>")  # CHORUS_BASE_URL's host
    app.config["CHORUS_MAIL_DOMAIN"] = "mail.coalition.example"  # the domain the coalition's relay signs for
    assert sender_of("second@example.org") == ("no-reply@mail.coalition.example", "mail.coalition.example>")


def test_mails_waiting_when_redis_is_flushed_go_out_at_the_tickers_next_look(client, mailbox):
    org = make_org()
    campaign = make_campaign(org)
    for n in range(3):
        sign(client, org.slug, campaign.slug, supporter(f"s{n}@example.org"))
    redis_store.client.flushdb()  # the queued job and every kick are gone
    run_jobs()
    assert not mailbox.messages and owed("queued") == 3
    assert "supporter-mail" in periodic.run_due()
    run_jobs()
    assert sorted(m["To"] for m in mailbox.messages) == [f"s{n}@example.org" for n in range(3)]


def test_a_dead_workers_claimed_mails_go_out_once_its_lease_ends(client, mailbox):
    org = make_org()
    campaign = make_campaign(org)
    for n in range(3):
        sign(client, org.slug, campaign.slug, supporter(f"s{n}@example.org"))
    claimed = supporter_mail.claim()  # a worker takes them, then dies before sending
    assert len(claimed) == 3
    assert supporter_mail.run().sent == 0  # still under its lease
    db.session.execute(update(SupporterMail).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert supporter_mail.run().sent == 3
    assert len(mailbox.messages) == 3 and owed("sent") == 3


def test_smtp_refusing_a_mail_for_now_retries_it_later(client, mailbox, app):
    org = make_org()
    campaign = make_campaign(org)
    sign(client, org.slug, campaign.slug, supporter("later@example.org"))
    mailbox.answers["later@example.org"] = ["451 try again later"]
    report = supporter_mail.run()
    row = db.session.scalar(select(SupporterMail))
    assert report.retrying == 1 and row.status == "queued" and row.last_error.startswith("451")
    db.session.execute(update(SupporterMail).values(next_attempt_at=utcnow()))  # its backoff passed
    db.session.commit()
    assert supporter_mail.run().sent == 1 and len(mailbox.messages) == 1


def test_a_mail_that_cannot_be_built_fails_alone_with_its_reason_shown_and_retried_by_an_admin(client, mailbox):
    org = make_org("alpha")
    campaign = make_campaign(org)
    sign(client, org.slug, campaign.slug, supporter("broken@example.org"))
    sign(client, org.slug, campaign.slug, supporter("fine@example.org"))
    broken = db.session.scalar(
        select(SupporterMail).join(Action).where(Action.email == "broken@example.org").execution_options(all_orgs=True)
    )
    broken.kind = "survey"  # a kind this release cannot compose
    db.session.commit()
    report = supporter_mail.run()
    assert (report.sent, report.failed) == (1, 1)
    assert [m["To"] for m in mailbox.messages] == ["fine@example.org"]
    db.session.refresh(broken)
    assert broken.status == "failed" and "no template for mail kind 'survey'" in broken.last_error

    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    page = client.get(f"/admin/alpha/campaigns/{campaign.slug}").get_data(as_text=True)
    assert "no template for mail kind" in page and "broken@example.org" in page
    broken.kind = "confirm"  # what an edit fixes
    db.session.commit()
    token = session_csrf(client, f"/admin/alpha/campaigns/{campaign.slug}")
    assert client.post(f"/admin/alpha/mails/{broken.id}/retry", data={"csrf_token": token}).status_code == 302
    run_jobs()
    assert sorted(m["To"] for m in mailbox.messages) == ["broken@example.org", "fine@example.org"]


def test_another_members_admin_cannot_retry_a_mail(client, mailbox):
    alpha, beta = make_org("alpha"), make_org("beta")
    campaign = make_campaign(alpha)
    sign(client, "alpha", campaign.slug, supporter())
    mail_id = db.session.scalar(select(SupporterMail.id))
    make_user("admin@beta.example", "org-admin", beta)
    login(client, "admin@beta.example")
    token = session_csrf(client, "/admin/beta/")
    assert client.post(f"/admin/beta/mails/{mail_id}/retry", data={"csrf_token": token}).status_code == 404


def test_a_title_or_member_name_with_a_line_separator_still_sends_every_mail_on_one_header_line(client, mailbox):
    org = make_org("alpha")
    campaign = make_campaign(org)
    for n in range(2):
        sign(client, org.slug, campaign.slug, supporter(f"s{n}@example.org"))
    # Stored before the input rule existed (or by a path that skipped it).
    db.session.execute(update(Campaign).values(title="Clean\u2028Water\u2029Now\x85"))
    db.session.execute(update(Organization).values(name="Alpha\u202eUnion\r\nBcc: x@evil.example"))
    db.session.commit()
    run_jobs()
    assert len(mailbox.messages) == 2
    for raw, message in zip(mailbox.raw, mailbox.messages, strict=True):
        assert message["Subject"].endswith("Clean Water Now ")
        headers = raw.split(b"\r\n\r\n", 1)[0]  # the body may quote the title as it is
        assert "Bcc" not in message and b"\xe2\x80\xa8" not in headers and b"\xe2\x80\xae" not in headers
    assert owed("sent") == 2


def test_the_text_part_reads_a_names_ampersand_as_written_and_the_html_part_escapes_it(client, mailbox):
    org = make_org("alpha", name="Harbor & Warehouse <Local 12>")
    campaign = make_campaign(org, title="Bread & Roses")
    sign(client, org.slug, campaign.slug, supporter())
    run_jobs()
    [message] = mailbox.messages
    text, html = (message.get_body((part,)).get_content() for part in ("plain", "html"))
    assert "“Bread & Roses” on the site of Harbor & Warehouse <Local 12>." in text and "&amp;" not in text
    assert "Harbor &amp; Warehouse &lt;Local 12&gt;" in html


def test_an_international_domain_is_mailed_in_its_ascii_form_and_a_non_ascii_mailbox_is_refused(client, mailbox):
    org = make_org("alpha")
    campaign = make_campaign(org)
    assert sign(client, org.slug, campaign.slug, supporter("Ana@Bücher.example")).status_code == 303
    refused = sign(client, org.slug, campaign.slug, supporter("josé@example.org"))
    assert refused.status_code == 422 and "Enter a valid e-mail address" in refused.get_data(as_text=True)
    run_jobs()
    [message] = mailbox.messages
    assert message["To"] == "Ana@xn--bcher-kva.example" and owed("sent") == 1
    everyone = {"all_orgs": True}
    assert db.session.scalar(select(Action.email_normalized), execution_options=everyone) == "ana@xn--bcher-kva.example"
    again = sign(client, org.slug, campaign.slug, supporter("ana@bücher.EXAMPLE"))
    assert again.status_code == 303  # one person, one action
    assert db.session.scalar(select(func.count(Action.id)), execution_options=everyone) == 1


# -- the unsubscribe scope --------------------------------------------------------------------------


def unsubscribe(client, message, **form) -> int:
    url = message["List-Unsubscribe"].strip("<>").replace("http://chorus.test", "")
    return client.post(url, data=form or {"List-Unsubscribe": "One-Click"}).status_code


def to_ana(mailbox) -> list:
    """The supporter's own mail (the letters themselves go to the targets)."""
    return [m for m in mailbox.messages if m["To"] == "ana@example.org"]


def test_a_members_unsubscribe_link_stops_that_members_non_transactional_mail_only(client, mailbox):
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    first = make_letter_campaign(alpha, hosts=[beta], require_confirmation=False)
    sign(client, "alpha", first.slug, letter("ana@example.org"))
    run_jobs()
    [copy] = to_ana(mailbox)
    assert unsubscribe(client, copy) == 200

    second = make_letter_campaign(
        alpha, [{"name": "Rosa Diaz", "email": "mayor@example.org"}], hosts=[beta], require_confirmation=False
    )
    sign(client, "alpha", second.slug, letter("ana@example.org"))  # alpha's copy: stopped
    third = make_letter_campaign(beta, [{"name": "Li Wei", "email": "senator@example.org"}], require_confirmation=False)
    sign(client, "beta", third.slug, letter("ana@example.org"))  # beta's copy: goes
    petition = make_campaign(alpha, slug="alpha-petition")
    sign(client, "alpha", petition.slug, supporter("ana@example.org"))  # a confirmation: transactional
    mailbox.clear()
    run_jobs()
    mine = {m["Message-ID"].split(".")[0]: m for m in to_ana(mailbox)}
    assert sorted(mine) == ["<confirm", "<copy"]
    assert mine["<copy"]["From"].startswith("Beta via Chorus")
    assert owed("skipped") == 1


def test_no_mail_from_the_coalition_stops_all_but_the_nameless_confirmation_of_a_later_action(client, mailbox):
    alpha, beta = make_org("alpha"), make_org("beta")
    earlier = make_campaign(alpha, slug="earlier")
    sign(client, "alpha", earlier.slug, supporter("ana@example.org", first_name="Mallory"))
    run_jobs()
    [first] = to_ana(mailbox)
    page = client.get(first["List-Unsubscribe"].strip("<>").replace("http://chorus.test", ""))
    assert "No mail from this coalition" in page.get_data(as_text=True)
    assert unsubscribe(client, first, scope="coalition") == 200
    [suppression] = db.session.scalars(select(Suppression))
    assert suppression.org_id is None

    supporter_mail.owe_now("confirm", action_id=db.session.scalar(select(Action.id).execution_options(all_orgs=True)))
    db.session.commit()
    letters_campaign = make_letter_campaign(beta, require_confirmation=False, slug="a-letter")
    sign(client, "beta", letters_campaign.slug, letter("ana@example.org"))  # its copy: stopped
    later = make_campaign(beta, slug="later")
    sign(client, "beta", later.slug, supporter("ana@example.org", first_name="Mallory", comment="typed by a stranger"))
    mailbox.clear()
    run_jobs()
    [confirmation] = to_ana(mailbox)  # only the later action's confirmation
    body = confirmation.get_body(("plain",)).get_content()
    assert "Mallory" not in body and "stranger" not in body and "Hello," in body
    assert confirm_link(confirmation)
    assert owed("skipped") == 2


def test_unsubscribe_page_in_spanish_offers_both_choices(client, mailbox):
    org = make_org("alpha", name="Alpha")
    campaign = make_campaign(org)
    sign(client, "alpha", campaign.slug, supporter())
    run_jobs()
    url = mailbox.messages[0]["List-Unsubscribe"].strip("<>").replace("http://chorus.test", "")
    page = client.get(url + "?lang=es").get_data(as_text=True)
    assert "los correos de campañas de Alpha" in page and "Ningún correo de esta coalición" in page


def test_a_batch_of_confirmations_gives_each_supporter_their_own_name_and_link_whatever_a_member_template_does(
    client, app, mailbox, tmp_path
):
    """A batch renders each template once for many mails (chorus.services.mail_merge): each mail must
    still read as if rendered alone, escaped where HTML, and a member's template that transforms a
    value (a case, a slice) is rendered per mail."""
    own = tmp_path / "members" / "harbor" / "templates" / "mail"
    own.mkdir(parents=True)
    (own / "confirm.txt").write_text(
        '{{ _("Hello %(name)s,", name=action.first_name|upper) }} ({{ action.last_name[:1] }}.)\n{{ confirm_url }}\n'
    )
    more = tmp_path / "members" / "delta" / "templates" / "mail"
    more.mkdir(parents=True)
    (more / "confirm.txt").write_text("Hi {{ action.first_name }} of {{ action.postal_code }}\n{{ confirm_url }}\n")
    app.jinja_loader.tenants = tmp_path / "members"
    harbor, river, delta = make_org("harbor"), make_org("river"), make_org("delta")
    campaign = make_campaign(harbor, hosts=[river, delta])
    people = [("Ana <b>&", "Pérez"), ("Bo", "Li"), ("Chen", "Wu")]
    for site in ("harbor", "river", "delta"):
        for n, (first, last) in enumerate(people):
            fields = {"first_name": first, "last_name": last, "postal_code": f"9411{n}"}
            sign(client, site, campaign.slug, supporter(f"{site}{n}@example.org", **fields))
    run_jobs()
    assert len(mailbox.messages) == 9
    links = set()
    for message in mailbox.messages:
        site, n = message["To"][:-len("@example.org")][:-1], int(message["To"][-len("0@example.org")])
        first, last = people[n]
        text = message.get_body(("plain",)).get_content()
        if site == "harbor":
            assert f"Hello {first.upper()}, ({last[0]}.)" in text, text
        elif site == "delta":  # a field that is not merged
            assert f"Hi {first} of 9411{n}" in text, text
        else:
            assert f"Hello {first}," in text, text
            html = message.get_body(("html",)).get_content()
            assert f"Hello {escape(first)}," in html and first not in html.replace(escape(first), ""), html
            assert f'href="http://chorus.test{confirm_link(message)}"' in html
        links.add(confirm_link(message))
    assert len(links) == 9
    for link in links:  # each link confirms its own supporter's action
        page = client.get(link).get_data(as_text=True)
        assert client.post(link, data={"csrf_token": csrf_token(page)}).status_code == 200
    confirmed = select(func.count()).select_from(Action).where(Action.status == "confirmed")
    assert db.session.scalar(confirmed.execution_options(all_orgs=True)) == 9


def test_a_server_offering_pipelining_gets_each_mail_in_two_writes_and_one_without_in_four(
    client, mailbox, monkeypatch
):
    org = make_org()
    campaign = make_campaign(org)
    writes = []
    send = smtplib.SMTP.send
    monkeypatch.setattr(smtplib.SMTP, "send", lambda self, data: (writes.append(data), send(self, data))[1])
    for pipelining in (True, False):
        mailbox.pipelining, writes[:] = pipelining, []
        for n in range(3):
            sign(client, org.slug, campaign.slug, supporter(f"{pipelining}-{n}@example.org"))
        assert supporter_mail.run().sent == 3
        # EHLO and QUIT, then per mail: MAIL+RCPT+DATA together and the message, or each apart.
        assert len(writes) == 2 + 3 * (2 if pipelining else 4)
    expected = [f"{pipelining}-{n}@example.org" for pipelining in (True, False) for n in range(3)]
    assert sorted(m["To"] for m in mailbox.messages) == sorted(expected)


def test_a_pipelined_mail_is_not_taken_by_the_server_when_the_previous_result_cannot_be_recorded(app, mailbox):
    message = mail.plain_message(
        {"From": "chorus@chorus.test", "To": "ana@example.org", "Subject": "Hello", "Message-ID": "<1@chorus.test>"},
        "Hello Ana",
        None,
    )

    def database_gone():
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError), mail.transport().connect() as connection:
        connection.send(message, to="ana@example.org", before_accept=database_gone)
    assert mailbox.messages == []
    with mail.transport().connect() as connection:  # the server is fine: a new connection sends it
        connection.send(message, to="ana@example.org")
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]


def test_while_a_surge_keeps_the_machine_busy_a_niced_worker_sends_only_mails_that_waited_then_the_rest(
    app, client, mailbox, monkeypatch
):
    org = make_org()
    campaign = make_campaign(org)
    for address in ("early@example.org", "during@example.org"):
        sign(client, org.slug, campaign.slug, supporter(address))
    early = db.session.scalar(select(func.min(SupporterMail.id)))
    db.session.execute(
        update(SupporterMail)
        .where(SupporterMail.id == early)
        .values(next_attempt_at=utcnow() - timedelta(seconds=31))
    )
    db.session.commit()
    app.config["CHORUS_MAIL_SURGE_WAIT"] = 30
    monkeypatch.setattr(os, "getpriority", lambda which, who: 10)  # as `chorus worker` runs (CHORUS_WORKER_NICE)
    monkeypatch.setattr(pacing.MachineLoad, "share", lambda self: 0.99)  # the web signing on every core
    for name in queues.QUEUES:
        queues.queue(name).empty()  # this run is the worker's only job
    assert supporter_mail.run(max_seconds=1).sent == 1  # then it waits for the other, its time out
    assert [m["To"] for m in mailbox.messages] == ["early@example.org"] and owed("queued") == 1
    queues.enqueue(queues.DELIVER_LETTERS, queue_name="delivery")  # other work for the worker
    queues.started(queues.SEND_SUPPORTER_MAILS)
    assert supporter_mail.run().sent == 0  # it leaves the worker to that at once...
    assert not queues.kick_supporter_mail()  # ...and the next kick in a moment starts another run
    monkeypatch.setattr(pacing.MachineLoad, "share", lambda self: 0.3)  # the surge is over
    assert supporter_mail.run().sent == 1
    assert sorted(m["To"] for m in mailbox.messages) == ["during@example.org", "early@example.org"]


def test_the_machine_reading_counts_normal_priority_work_and_not_niced_work():
    def share_while_spinning(*prefix: str) -> float:
        spin = [*prefix, sys.executable, "-c", "while True: pass"]
        spinners = [subprocess.Popen(spin) for _ in range(os.cpu_count() or 1)]
        try:
            load = pacing.MachineLoad()
            time.sleep(1.5)
            return load.share()
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()

    assert share_while_spinning() >= pacing.BUSY_SHARE  # a surge's web processes on every core
    assert share_while_spinning("nice", "-n", "19") <= share_while_spinning() - 0.5  # workers below them


def test_a_run_frozen_past_its_lease_sends_none_of_the_mails_another_worker_claimed(app, client, mailbox, monkeypatch):
    org = make_org()
    campaign = make_campaign(org)
    for n in range(3):
        sign(client, org.slug, campaign.slug, supporter(f"signer{n}@example.org"))
    frozen = supporter_mail.claim()  # this run is stopped (SIGSTOP, a paused machine) right after
    db.session.execute(update(SupporterMail).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    supporter_mail.run()  # the lease ran out: another worker claims and sends them
    assert len(mailbox.messages) == 3

    # The frozen run resumes: however little time it measures, it is past the point of renewing.
    monkeypatch.setattr(supporter_mail, "lease_seconds", lambda: 0)
    supporter_mail._send_batch(frozen, supporter_mail.Report())
    monkeypatch.undo()
    assert len(mailbox.messages) == 3
    assert set(db.session.scalars(select(SupporterMail.status))) == {"sent"}
