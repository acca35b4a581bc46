"""Letter campaigns: personalized letters to decision makers, delivered by RQ workers over SMTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from chorus.cli import cli
from chorus.extensions import db
from chorus.models import Action, Delivery, Official
from chorus.models.base import utcnow
from chorus.services import delivery, outbox
from tests.factories import (
    add_actions,
    confirm_link,
    csrf_token,
    letter,
    make_letter_campaign,
    make_org,
    run_deliveries,
    run_jobs,
    sign,
)


def deliveries(**where) -> list[Delivery]:
    return db.session.scalars(select(Delivery).filter_by(**where).order_by(Delivery.id)).all()


def letters_to(mailbox, address: str):
    return [m for m in mailbox.messages if address in m["To"]]


def test_confirmed_letter_reaches_each_target_personalized_with_tracking_headers(client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(
        org,
        targets=[
            {"name": "Elena Alvarez", "email": "governor@example.org"},
            {"name": "Samuel Okafor", "title": "Attorney General", "email": "ag@example.org"},
        ],
    )
    page = client.get(f"/riverside/{campaign.slug}").get_data(as_text=True)
    assert "Governor Elena Alvarez" in page and "Attorney General Samuel Okafor" in page

    assert sign(client, "riverside", campaign.slug, letter(first_name='Marta "Mía"')).status_code == 303
    run_jobs()
    assert deliveries() == []  # nothing goes out before the e-mail is confirmed
    link = confirm_link(mailbox.messages[0])
    client.post(link, data={"csrf_token": csrf_token(client.get(link).get_data(as_text=True))})
    assert {d.status for d in deliveries()} == {"queued"}  # the outbox rows committed with the confirmation

    run_jobs()
    for address in ("governor@example.org", "ag@example.org"):
        [message] = letters_to(mailbox, address)
        delivery = db.session.scalar(select(Delivery).join(Official).where(Official.email == address))
        assert message["X-Chorus-Delivery"] == delivery.uuid
        assert message["Message-ID"] == f"<letter.{delivery.uuid}@chorus.test>"
        assert message["Subject"] == "My own subject"
        assert message["Reply-To"] == "ana@example.org"
        [sender] = message["From"].addresses  # the supporter's name, encoded as RFC 2047 asks
        assert (sender.display_name, sender.addr_spec) == ("Marta 'Mía' Ruiz via Chorus", "letters@chorus.test")
        assert message["To"].addresses[0].addr_spec == address
        text = message.get_body(("plain",)).get_content()
        assert text.index("Dear Governor,") < text.index("As a parent I ask you to act.") < text.index("Respectfully,")
        assert 'Marta "Mía" Ruiz' in text
        assert delivery.status == "sent" and [e.status for e in delivery.events] == ["queued", "sent"]
    [copy] = letters_to(mailbox, "ana@example.org")[1:]
    assert copy["Subject"].startswith("Your letter") and copy["List-Unsubscribe-Post"]
    assert "As a parent I ask you to act." in copy.get_body(("plain",)).get_content()
    assert client.get(f"/riverside/{campaign.slug}/tally.json").get_json()["total"] == 1


def test_text_typed_like_an_encoded_header_reaches_the_target_as_typed(client, mailbox):
    """A mail reader decodes "=?charset?q?...?=" wherever it stands: typed into a subject or a name, it
    could smuggle a line break or a bidi override past the header rule. It is encoded itself instead."""
    campaign = make_letter_campaign(make_org("riverside"), require_confirmation=False)
    subject, name = "=?utf-8?q?URGENT_=E2=80=AEcod.exe?=", "=?utf-8?q?Gov=0D=0ABcc=3A_x=40evil.example?="
    assert sign(client, "riverside", campaign.slug, letter(subject=subject, first_name=name)).status_code == 303
    run_jobs()
    [message] = letters_to(mailbox, "governor@example.org")
    [sender] = message["From"].addresses
    assert (message["Subject"], sender.display_name, message["Bcc"]) == (subject, f"{name} Ruiz via Chorus", None)


def test_preview_shows_the_letter_and_stores_nothing(client):
    org = make_org("riverside")
    campaign = make_letter_campaign(org)
    response = sign(client, "riverside", campaign.slug, {**letter(), "preview": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This is how your letter will read." in html and "As a parent I ask you to act." in html
    assert db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True)) == 0
    [previewed] = re.findall(r'<pre class="letter">(.*?)</pre>', html, re.S)
    assert previewed.endswith("Ana Ruiz\n94110 US")  # signed as the letter that goes out
    placeless = make_letter_campaign(org, [{"name": "Ruth Chen", "email": "ruth@example.org"}], ask_location=False)
    html = sign(client, "riverside", placeless.slug, {**letter(), "preview": "1"}).get_data(as_text=True)
    [previewed] = re.findall(r'<pre class="letter">(.*?)</pre>', html, re.S)
    assert previewed.endswith("Respectfully,\n\nAna Ruiz")  # a campaign asking no place: the name alone


def test_forged_post_changing_the_fixed_greeting_or_closing_is_refused(client):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    for forged in ({"greeting": "Hey you,"}, {"closing": "Whatever."}):
        response = sign(client, "riverside", campaign.slug, {**letter(), **forged})
        assert response.status_code == 422
        assert "cannot be changed" in response.get_data(as_text=True)
    too_long = sign(client, "riverside", campaign.slug, letter(body="x" * 5001))
    assert too_long.status_code == 422 and "at most 5000 characters" in too_long.get_data(as_text=True)
    assert deliveries() == []
    assert db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True)) == 0


OFFICIALS_CSV = """name,title,office,email,country,region,district,postal_prefixes
Ruth Chen,Representative,District 12,chen@example.org,US,CA,12,941
Omar Haddad,Representative,District 13,haddad@example.org,US,CA,13,946 945
Lena Ortiz,Senator,State Senate,ortiz@example.org,US,CA,,94 95
"""


def test_letter_goes_to_the_officials_of_the_supporters_postal_code_from_an_imported_csv(
    client, app_env, mailbox, tmp_path
):
    path = tmp_path / "officials.csv"
    path.write_text(OFFICIALS_CSV)
    result = CliRunner().invoke(cli, ["targets", "import", str(path)], env=app_env)
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output
    org = make_org("riverside")
    campaign = make_letter_campaign(org, targets=[], targeting="location", require_confirmation=False)

    nobody = sign(client, "riverside", campaign.slug, letter(postal_code="10001"))
    assert nobody.status_code == 422 and "no decision maker for this postal code" in nobody.get_data(as_text=True)
    preview = sign(client, "riverside", campaign.slug, {**letter(postal_code="94110"), "preview": "1"})
    assert "Representative Ruth Chen" in preview.get_data(as_text=True)
    assert sign(client, "riverside", campaign.slug, letter(postal_code="94110")).status_code == 303
    run_jobs()
    assert sorted(m["To"].addresses[0].addr_spec for m in mailbox.messages if m["X-Chorus-Delivery"]) == [
        "chen@example.org",
        "ortiz@example.org",
    ]


def test_csv_import_with_bad_rows_reports_each_and_imports_nothing(app_env, tmp_path, app):
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,email,country\nGood Person,good@example.org,US\n,noname@example.org,US\nBad Mail,not-an-email,US\n"
        "Bad Country,c@example.org,USA\n"
    )
    result = CliRunner().invoke(cli, ["targets", "import", str(path)], env=app_env)
    assert result.exit_code == 1
    assert "line 3: name is empty" in result.output
    assert "line 4: email 'not-an-email'" in result.output
    assert "line 5: country must be two letters" in result.output
    assert "nothing imported: 3 problems (listed above)" in result.output
    assert db.session.scalar(select(func.count()).select_from(Official)) == 0
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("who,where\nA,B\n")
    result = CliRunner().invoke(cli, ["targets", "import", str(wrong)], env=app_env)
    assert result.exit_code == 1 and "missing column(s): name, email" in result.output


def test_digest_campaign_sends_one_message_per_target_a_day_with_the_letters_attached(client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, delivery_mode="digest", require_confirmation=False)
    for n in range(3):
        sign(client, "riverside", campaign.slug, letter(f"p{n}@example.org", body=f"Letter number {n}."))
    run_jobs()
    assert letters_to(mailbox, "governor@example.org") == []  # not before the day's digest time
    assert all(d.next_attempt_at.hour == 17 for d in deliveries())

    db.session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    run_deliveries()
    [digest] = letters_to(mailbox, "governor@example.org")
    assert digest["Subject"].startswith("3 new letters")
    attachments = [part.get_content() for part in digest.iter_attachments()]
    assert len(attachments) == 3 and any("Letter number 2." in a for a in attachments)
    assert sorted(digest["X-Chorus-Delivery"].split(", ")) == sorted(d.uuid for d in deliveries())
    assert {d.status for d in deliveries()} == {"sent"}


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-command-at-a-time"])
def test_temporary_failure_is_retried_and_permanent_failure_is_shown_for_retry(client, mailbox, pipelining):
    from tests.factories import login, make_user, session_csrf

    mailbox.pipelining = pipelining
    org = make_org("riverside")
    campaign = make_letter_campaign(
        org,
        targets=[
            {"name": "Slow Server", "email": "slow@example.org"},
            {"name": "Gone Away", "email": "gone@example.org"},
        ],
        require_confirmation=False,
    )
    mailbox.answers["slow@example.org"] = ["451 4.3.0 try again later"]
    mailbox.answers["gone@example.org"] = ["550 5.1.1 no such mailbox"]
    sign(client, "riverside", campaign.slug, letter())
    run_jobs()
    slow, gone = deliveries()
    assert (slow.status, slow.attempts, slow.last_error) == ("queued", 1, "451 4.3.0 try again later")
    assert slow.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None) + timedelta(seconds=20)
    assert (gone.status, gone.last_error) == ("failed", "550 5.1.1 no such mailbox")

    db.session.execute(update(Delivery).where(Delivery.id == slow.id).values(next_attempt_at=utcnow()))
    db.session.commit()
    run_deliveries()
    db.session.refresh(slow)
    assert slow.status == "sent" and len(letters_to(mailbox, "slow@example.org")) == 1

    make_user("admin@riverside.example", "org-admin", org)
    login(client, "admin@riverside.example")
    page = client.get(f"/admin/riverside/campaigns/{campaign.slug}").get_data(as_text=True)
    assert "550 5.1.1 no such mailbox" in page and "gone@example.org" in page
    token = session_csrf(client, f"/admin/riverside/campaigns/{campaign.slug}")
    retried = client.post(f"/admin/riverside/deliveries/{gone.uuid}/retry", data={"csrf_token": token})
    assert retried.status_code == 302
    run_deliveries()
    db.session.refresh(gone)
    assert gone.status == "sent" and [e.status for e in gone.events][-2:] == ["queued", "sent"]


def test_worker_killed_mid_batch_loses_no_letter_and_repeats_at_most_one(client, app_env, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    total = 120
    add_actions(campaign, org, total)
    for action in db.session.scalars(select(Action).execution_options(all_orgs=True)):
        db.session.add(
            Delivery(action_id=action.id, official_id=campaign.targets[0].official_id, campaign_id=campaign.id)
        )
    db.session.commit()
    mailbox.delay = 0.02
    # A short lease and tick, and no domain pacing, so the second worker takes over within seconds.
    env = {
        **os.environ,
        **app_env,
        "CHORUS_DELIVERY_LEASE": "3",
        "CHORUS_TICK": "1",
        "CHORUS_EVERY_LETTER_DELIVERY": "1",
        "CHORUS_DOMAIN_RATE": "100000",
    }
    worker = [os.path.join(os.path.dirname(sys.executable), "chorus"), "worker"]

    first = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(mailbox.messages) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 20 <= len(mailbox.messages) < total  # killed mid-batch

    second = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            db.session.rollback()  # a fresh snapshot each look
            if db.session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent")) == total:
                break
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()  # never leave a worker behind
            second.wait()
    assert second.returncode == 0  # SIGTERM stops an idle worker by itself (not the kill above)
    delivered = [m["X-Chorus-Delivery"] for m in mailbox.messages]
    assert set(delivered) == {d.uuid for d in deliveries()}  # none lost
    assert len(delivered) - len(set(delivered)) <= 1  # at most the one in flight repeated


def test_org_admin_creates_a_letter_campaign_with_fixed_targets_and_flood_limits(client):
    from chorus.models import Campaign
    from tests.factories import login, make_user, session_csrf

    org = make_org("riverside")
    official = Official(name="Elena Alvarez", title="Governor", email="governor@example.org")
    db.session.add(official)
    db.session.commit()
    make_user("admin@riverside.example", "org-admin", org)
    login(client, "admin@riverside.example")
    token = session_csrf(client, "/admin/riverside/campaigns/new")
    form = {
        "csrf_token": token,
        "kind": "letter",
        "title": "Write to the Governor",
        "slug": "governor",
        "letter_subject": "Act now",
        "letter_greeting": "Dear Governor,",
        "letter_body": "Please act.",
        "letter_closing": "Sincerely,",
        "targeting": "fixed",
        "delivery_mode": "individual",
        "daily_cap_per_target": "50",
        "send_window_start": "9",
        "send_window_end": "17",
    }
    refused = client.post("/admin/riverside/campaigns/new", data=form)  # fixed targeting, no target
    assert refused.status_code == 422 and "needs at least one target" in refused.get_data(as_text=True)
    created = client.post("/admin/riverside/campaigns/new", data={**form, "targets": [str(official.id)]})
    assert created.status_code == 302
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == "governor"))
    assert (campaign.kind, campaign.letter_greeting, campaign.daily_cap_per_target) == ("letter", "Dear Governor,", 50)
    assert [t.official_id for t in campaign.targets] == [official.id]
    preview = client.get("/admin/riverside/campaigns/governor/preview").get_data(as_text=True)
    assert "Governor Elena Alvarez" in preview and "Please act." in preview


def test_daily_cap_and_window_pace_letters_to_one_target(client, app, mailbox):
    org = make_org("riverside")
    now = utcnow()
    campaign = make_letter_campaign(
        org,
        require_confirmation=False,
        daily_cap_per_target=4,
        send_window_start=now.hour,
        send_window_end=(now.hour + 1) % 24,
    )
    for n in range(3):
        sign(client, "riverside", campaign.slug, letter(f"p{n}@example.org"))
    run_jobs()
    sent, waiting = deliveries(status="sent"), deliveries(status="queued")
    # A one-hour window and four letters a day: one now, the next one 15 minutes later.
    assert len(sent) == 1 and len(waiting) == 2
    assert all(
        d.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None) + timedelta(minutes=14) for d in waiting
    )


def _queue_letters(campaign, org, count: int) -> None:
    add_actions(campaign, org, count)
    for action in db.session.scalars(select(Action).execution_options(all_orgs=True)):
        db.session.add(
            Delivery(action_id=action.id, official_id=campaign.targets[0].official_id, campaign_id=campaign.id)
        )
    db.session.commit()


def test_one_recipient_domain_gets_at_most_its_rate_a_minute_and_the_rest_waits_for_the_next(app, client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    _queue_letters(campaign, org, 5)
    app.config["CHORUS_DOMAIN_RATE"] = 3

    report = run_deliveries()

    assert (report.sent, report.deferred) == (3, 2)
    assert len(mailbox.messages) == 3
    waiting = deliveries(status="queued")
    next_minute = (int(utcnow().timestamp() // 60) + 1) * 60
    assert len(waiting) == 2 and all(d.next_attempt_at.timestamp() in (next_minute, next_minute + 60) for d in waiting)
    assert all(d.attempts == 0 for d in waiting)  # waiting for the rate spends no attempt


def test_send_slower_than_the_lease_is_not_taken_over_by_a_second_worker(app, client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    _queue_letters(campaign, org, 2)
    app.config["CHORUS_DELIVERY_LEASE"] = 1
    mailbox.delay = 1.6  # each send outlasts the whole lease

    first = threading.Thread(target=lambda: app.app_context().push() or run_deliveries())
    first.start()
    while first.is_alive() and {d.status for d in deliveries()} != {"sending"}:
        db.session.rollback()  # a fresh look: the first worker has not claimed them yet
        time.sleep(0.05)
    taken_by_second = []
    while first.is_alive():
        with app.app_context():
            second = delivery.claim()  # another worker looking for expired leases
            taken_by_second += second.ids
            db.session.remove()
        time.sleep(0.2)
    first.join()

    assert taken_by_second == []
    db.session.rollback()
    assert {d.status for d in deliveries()} == {"sent"}
    sent = [m["X-Chorus-Delivery"] for m in mailbox.messages]
    assert sorted(sent) == sorted(d.uuid for d in deliveries())  # each letter exactly once


def test_worker_whose_claim_was_taken_over_neither_sends_nor_records(app, client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    _queue_letters(campaign, org, 3)
    stalled = delivery.claim()
    # The stalled worker's lease ran out and another worker claimed the letters and sent them.
    db.session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    second = delivery.claim()
    assert sorted(second.ids) == sorted(stalled.ids)

    stalled.keep()  # the stalled worker resumes: its renewal finds no row still its own
    try:
        report = delivery.Report()
        with stalled.recording():
            delivery._send_batch(stalled, report)
            assert (report.sent, report.lost_claims, mailbox.messages) == (0, 3, [])
            assert {(d.status, d.claim_token) for d in deliveries()} == {("sending", second.token)}
            delivery._sent(stalled, stalled.ids)  # a late record under the old token changes nothing
    finally:
        stalled.release()
    assert {(d.status, d.claim_token) for d in deliveries()} == {("sending", second.token)}


def test_a_worker_resumed_before_its_keeper_renews_sends_none_of_the_letters_it_lost(app, client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False)
    _queue_letters(campaign, org, 3)
    stalled = delivery.claim()
    stalled.keep()  # renewed once, then the process is frozen (SIGSTOP) for longer than the lease
    try:
        db.session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        second = delivery.claim()
        stalled.renewed = 0.0  # resumed: its last renewal is a lease ago, and its keeper has not run yet
        report = delivery.Report()
        with stalled.recording():
            delivery._send_batch(stalled, report)
        assert (report.sent, report.lost_claims, mailbox.messages) == (0, 3, [])
        assert {(d.status, d.claim_token) for d in deliveries()} == {("sending", second.token)}
    finally:
        stalled.release()


def test_a_results_connection_that_breaks_mid_batch_is_replaced_and_fails_the_run_with_the_database_error(app):
    """Letters and supporter mails mark "sent" straight on the driver (outbox.execute_prepared): a
    connection that breaks there must be replaced by the pool, not handed out again, and the error
    must be the database's (the run fails, its letters' leases end and they go out again)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    with pytest.raises(psycopg.OperationalError):
        with outbox.results_connection() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with db.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
                other.commit()
            outbox.execute_prepared(connection, outbox.for_psycopg("SELECT :value"), {"value": 1})
    with outbox.results_connection() as again:
        assert again.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
