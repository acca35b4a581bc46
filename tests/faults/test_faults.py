"""Faults on PostgreSQL and Redis: a killed worker or web process, Redis flushed and stopped,
PostgreSQL unreachable, SMTP down, poison strings. Each proves nothing is lost, at most one message
repeats per kill, the tally ends exact, and no request answers 500."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
from redis import Redis
from sqlalchemy import func, select, update

from chorus.extensions import db
from chorus.models import Action, Campaign, Delivery, Official, Organization, SupporterMail
from chorus.models.base import utcnow
from chorus.services import campaigns, supporter_mail
from tests.factories import add_actions, letter, make_campaign, make_letter_campaign, make_org, sign, supporter
from tests.faults.conftest import ON_POSTGRESQL, wait_for

pytestmark = ON_POSTGRESQL


def count(model, *where) -> int:
    db.session.rollback()  # a fresh snapshot each look
    return db.session.scalar(select(func.count()).select_from(model).where(*where).execution_options(all_orgs=True))


def confirmed_total(campaign) -> int:
    return count(Action, Action.campaign_id == campaign.id, Action.status == "confirmed")


def test_worker_killed_mid_confirmation_batch_loses_no_mail_and_repeats_at_most_one(app, app_env, mailbox, workers):
    org = make_org("alpha")
    campaign = make_campaign(org)
    total = 150
    add_actions(campaign, org, total, status="pending")
    db.session.add_all(
        SupporterMail(action_id=i, kind="confirm")
        for i in db.session.scalars(select(Action.id).execution_options(all_orgs=True))
    )
    db.session.commit()
    mailbox.delay = 0.02

    first = workers(app_env)
    wait_for(lambda: len(mailbox.messages) >= 20, "the first mails")
    first.kill()
    assert 20 <= len(mailbox.messages) < total  # killed mid-batch
    workers(app_env)
    wait_for(lambda: count(SupporterMail, SupporterMail.status == "sent") == total, "every mail recorded sent", 90)
    sent = Counter(m["To"] for m in mailbox.messages)
    assert set(sent) == {f"bulk{i:03d}@example.org" for i in range(1, total + 1)}  # none lost
    assert sum(sent.values()) - total <= 1  # at most the one in flight repeated


def test_web_process_killed_between_commit_and_tally_loses_no_count(app, app_env, client, workers):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("first@example.org"))
    url = f"/alpha/{campaign.slug}/tally.json"
    assert client.get(url).get_json()["total"] == 1
    # A web process that commits a signature and dies (SIGKILL) before its Redis increment.
    script = textwrap.dedent(f"""
        import os, signal
        from chorus.app import create_app
        from chorus.services import tally
        from tests.factories import sign, supporter
        tally._apply = lambda confirmed: os.kill(os.getpid(), signal.SIGKILL)
        app = create_app()
        sign(app.test_client(), "alpha", {campaign.slug!r}, supporter("killed@example.org"))
    """)
    env = {**os.environ, **app_env}
    died = subprocess.run([sys.executable, "-c", script], env=env, cwd=str(_root()), timeout=60)
    assert died.returncode == -9
    assert confirmed_total(campaign) == 2 and client.get(url).get_json()["total"] == 1
    workers(app_env)  # its ticker catches up, no command
    wait_for(lambda: client.get(url).get_json()["total"] == 2, "the tally to catch up", 60)


def test_redis_flushed_then_stopped_loses_nothing_and_the_tally_is_exact_when_it_returns(
    app_env, client, mailbox, redis_server, workers
):
    org = make_org("alpha")
    counted = make_campaign(org, require_confirmation=False, slug="counted")
    confirmed_by_mail = make_campaign(org, slug="by-mail")
    workers(app_env)
    for n in range(5):
        assert sign(client, "alpha", counted.slug, supporter(f"c{n}@example.org")).status_code == 303
        assert sign(client, "alpha", confirmed_by_mail.slug, supporter(f"m{n}@example.org")).status_code == 303
    Redis.from_url(redis_server.url).flushdb()
    for n in range(5, 8):
        assert sign(client, "alpha", counted.slug, supporter(f"c{n}@example.org")).status_code == 303
        assert sign(client, "alpha", confirmed_by_mail.slug, supporter(f"m{n}@example.org")).status_code == 303

    form = {"csrf_token": _token(client.get(f"/alpha/{counted.slug}").get_data(as_text=True))}
    redis_server.stop()
    answers = [
        client.post(f"/alpha/{counted.slug}", data={**form, **supporter(f"down{n}@example.org")}) for n in range(3)
    ]
    assert {r.status_code for r in answers} <= {303, 503}
    assert all(r.headers.get("Retry-After") for r in answers if r.status_code == 503)
    down_page = client.get(f"/alpha/{counted.slug}/tally.json")
    assert down_page.status_code == 503 and down_page.headers["Retry-After"]

    redis_server.start()  # back, empty
    url = f"/alpha/{counted.slug}/tally.json"
    wait_for(lambda: client.get(url).get_json()["total"] == confirmed_total(counted), "an exact tally", 60)
    owed = count(SupporterMail, SupporterMail.kind == "confirm")
    assert owed == 8
    wait_for(lambda: count(SupporterMail, SupporterMail.status == "sent") == owed, "every confirmation sent", 90)
    assert sorted(m["To"] for m in mailbox.messages) == [f"m{n}@example.org" for n in range(8)]


def test_postgresql_unreachable_answers_503_then_everything_resumes(app_env, client, mailbox, pg_proxy, workers):
    org = make_org("alpha")
    campaign = make_campaign(org)
    workers(app_env)
    assert sign(client, "alpha", campaign.slug, supporter("before@example.org")).status_code == 303
    page = client.get(f"/alpha/{campaign.slug}")
    token_page = page.get_data(as_text=True)

    db.session.remove()  # this test's own connection goes back to the pool
    pg_proxy.close()
    campaigns.forget_lookups()  # else this process's copies of member and campaign serve the page up to 1 s more
    try:
        down = client.get(f"/alpha/{campaign.slug}")
        assert down.status_code == 503 and down.headers["Retry-After"]
        assert "try again" in down.get_data(as_text=True)
        posted = client.post(
            f"/alpha/{campaign.slug}", data={"csrf_token": _token(token_page), **supporter("down@example.org")}
        )
        assert posted.status_code == 503 and posted.headers["Retry-After"]
    finally:
        pg_proxy.open()
    assert count(Action, Action.email == "down@example.org") == 0  # nothing half-written

    assert sign(client, "alpha", campaign.slug, supporter("after@example.org")).status_code == 303
    wait_for(lambda: count(SupporterMail, SupporterMail.status == "sent") == 2, "the worker to resume", 60)
    assert sorted(m["To"] for m in mailbox.messages) == ["after@example.org", "before@example.org"]


def test_smtp_down_then_back_sends_every_mail_once(app, client, smtp_server, mailbox):
    org = make_org("alpha")
    campaign = make_campaign(org)
    for n in range(5):
        sign(client, "alpha", campaign.slug, supporter(f"s{n}@example.org"))
    controller, _box = smtp_server
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{_closed_port()}"  # nobody listens there
    report = supporter_mail.run()
    assert report.retrying == 5 and report.sent == 0 and not mailbox.messages
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"  # back
    db.session.execute(update(SupporterMail).values(next_attempt_at=utcnow()))  # its backoff passed
    db.session.commit()
    assert supporter_mail.run().sent == 5
    assert sorted(m["To"] for m in mailbox.messages) == [f"s{n}@example.org" for n in range(5)]


POISON = ["\u2028", "\u2029", "\x85", "\u202e", "\u200b", "\r\n", "\x0b", "\ufeff"]


@pytest.mark.parametrize("poison", POISON, ids=[f"U+{ord(p[0]):04X}" for p in POISON])
def test_poison_in_any_public_field_that_reaches_a_header_is_refused_at_input(client, poison):
    org = make_org("alpha")
    campaign = make_letter_campaign(org, require_confirmation=False)
    for field in ("first_name", "last_name", "subject", "email"):
        response = sign(client, "alpha", campaign.slug, letter(**{field: f"Ana{poison}Bcc: x@evil.example"}))
        assert response.status_code in (400, 422), field  # 400: a control character (chorus.guards)
    assert count(Action) == 0


def test_poison_stored_in_every_header_field_never_stops_a_batch(app, client, mailbox):
    """Text stored before the input rule (or by another path): every mail and letter still goes, on
    one header line each, and nobody else's mail waits behind it."""
    org = make_org("alpha")
    letters_campaign = make_letter_campaign(org, require_confirmation=False)
    petition = make_campaign(org, slug="petition")
    for n in range(3):
        sign(client, "alpha", letters_campaign.slug, letter(f"l{n}@example.org"))
        sign(client, "alpha", petition.slug, supporter(f"p{n}@example.org"))
    poison = "\u2028Bcc: x@evil.example\u2029\x85\u202e"
    db.session.execute(update(Campaign).values(title=f"Title{poison}", letter_subject=f"Subject{poison}"))
    db.session.execute(update(Organization).values(name=f"Alpha{poison}"))
    db.session.execute(update(Official).values(name=f"Elena{poison}", title=f"Gov{poison}"))
    db.session.execute(
        update(Action)
        .values(first_name=f"Ana{poison}", last_name=f"Ruiz{poison}", subject=f"Mine{poison}")
        .execution_options(all_orgs=True)
    )
    db.session.commit()
    from tests.factories import run_deliveries, run_jobs

    run_jobs()
    run_deliveries()
    assert count(SupporterMail, SupporterMail.status != "sent") == 0
    assert count(Delivery, Delivery.status != "sent") == 0
    assert len(mailbox.messages) == 3 + 3 + 3  # confirmations, letter copies, letters
    for message in mailbox.messages:
        assert "Bcc" not in message
        assert not any(ch in str(value) for value in message.values() for ch in "\u2028\u2029\x85\u202e")


def _token(html: str) -> str:
    from tests.factories import csrf_token

    return csrf_token(html)


def _closed_port() -> int:
    from tests.conftest import _free_port

    return _free_port()


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_threads_whose_first_requests_arrive_together_share_one_redis_client(app_env, monkeypatch):
    """A web process's first requests, in parallel threads, must not each make a Redis client: the
    losers' clients close their connection pools when collected, under another thread's command."""
    import threading
    import time

    from chorus import extensions
    from chorus.app import create_app
    from chorus.extensions import redis_store

    make_client = extensions.Redis.from_url

    def slow_from_url(*args, **kwargs):  # as on a loaded machine: the window between look and store
        time.sleep(0.05)
        return make_client(*args, **kwargs)

    monkeypatch.setattr(extensions.Redis, "from_url", slow_from_url)
    fresh = create_app(app_env)
    start, clients = threading.Barrier(12), []

    def first_request() -> None:
        with fresh.app_context():
            start.wait()
            clients.append(redis_store.client)

    threads = [threading.Thread(target=first_request) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(clients) == 12 and len({id(c) for c in clients}) == 1


def test_a_postgresql_that_accepts_connections_and_never_answers_gets_the_503_page_not_a_hung_site(app_env, backend):
    """A partitioned network or a stalled server: the TCP handshake completes, then nothing. libpq's
    connect_timeout (chorus.config.POSTGRES_CONNECT_ARGS) turns it into the 503 page."""
    import socket
    import threading

    from chorus.app import create_app

    if backend.name != "postgresql":
        pytest.skip("libpq's limits; SQLite has no server")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes handshakes into the backlog; nobody ever reads
    port = silent.getsockname()[1]
    app = create_app({**app_env, "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"})
    answers = []
    request = threading.Thread(target=lambda: answers.append(app.test_client().get("/alpha/")), daemon=True)
    try:
        request.start()
        request.join(120)  # a liveness bound, not a timing: without the limits it never returns
        assert answers, "the request is still waiting for PostgreSQL"
        assert answers[0].status_code == 503 and answers[0].headers["Retry-After"]
    finally:
        silent.close()
