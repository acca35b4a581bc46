"""The live tally lives in Redis, is rebuilt from the database by itself, and reconciles on demand."""

from __future__ import annotations

import threading

from click.testing import CliRunner
from flask import request
from sqlalchemy import update

from chorus.cli import cli
from chorus.extensions import db, redis_store
from chorus.models import Action
from chorus.services import periodic, tally
from tests.factories import make_campaign, make_org, sign, supporter


def test_tally_rebuilds_itself_after_redis_is_flushed(client):
    a, b = make_org("alpha"), make_org("beta")
    campaign = make_campaign(a, hosts=[b], require_confirmation=False)
    for n in range(3):
        sign(client, "alpha", campaign.slug, supporter(f"a{n}@example.org"))
    sign(client, "beta", campaign.slug, supporter("b@example.org"))

    redis_store.client.flushdb()
    document = client.get(f"/beta/{campaign.slug}/tally.json").get_json()
    assert (document["total"], document["by_org"]) == (4, {"alpha": 3, "beta": 1})
    sign(client, "beta", campaign.slug, supporter("b2@example.org"))
    assert client.get(f"/alpha/{campaign.slug}/tally.json").get_json()["by_org"] == {"alpha": 3, "beta": 2}


def test_reconcile_command_makes_the_live_tally_equal_the_database(client, app_env):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    for n in range(3):
        sign(client, "alpha", campaign.slug, supporter(f"a{n}@example.org"))
    # Drift the database behind Redis's back (as a manual fix or a lost increment would).
    db.session.execute(
        update(Action)
        .where(Action.email_normalized == "a0@example.org")
        .values(status="pending")
        .execution_options(all_orgs=True)
    )
    db.session.commit()
    assert client.get(f"/alpha/{campaign.slug}/tally.json").get_json()["total"] == 3

    result = CliRunner().invoke(cli, ["tally", "reconcile", campaign.slug], env=app_env)
    assert result.exit_code == 0, result.output
    assert f"{campaign.slug}: 2" in result.output
    assert client.get(f"/alpha/{campaign.slug}/tally.json").get_json()["total"] == 2


def test_tally_json_is_cacheable_cross_origin_and_needs_no_sql(client, app):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter())
    url = f"/alpha/{campaign.slug}/tally.json"
    first = client.get(url)
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    statements = []
    from sqlalchemy import event

    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).get_json()["total"] == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert statements == []


def test_confirmation_during_a_rebuild_is_counted_once_by_the_ticker(client, app, backend, monkeypatch):
    """A confirmation that commits while a rebuild counts is added once, neither lost nor doubled."""
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("early@example.org"))
    redis_store.client.flushdb()

    original = tally._install
    calls = []

    def sign_while_counting(*args):
        if not calls:
            calls.append(1)
            # Another process signs while this rebuild is between its snapshot and its install.
            worker = threading.Thread(target=_sign_in_other_thread, args=(app, campaign.slug))
            worker.start()
            worker.join()
        return original(*args)

    monkeypatch.setattr(tally, "_install", sign_while_counting)
    assert tally.rebuild(campaign.id).total == 1  # the snapshot did not see it
    monkeypatch.setattr(tally, "_install", original)
    tally.catch_up()
    tally.catch_up()
    assert tally.read(campaign.id).total == 2


def _sign_in_other_thread(app, slug):
    sign(app.test_client(), "alpha", slug, supporter("racer@example.org"))


def test_tally_json_shortcut_answers_as_the_flask_view_does(client, app):
    through_flask = []
    app.before_request(lambda: through_flask.append(request.full_path))
    a, b = make_org("alpha"), make_org("beta")
    make_org("gamma")
    campaign = make_campaign(a, hosts=[b], require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter())
    url = f"/beta/{campaign.slug}/tally.json"
    client.get(url)  # the first read may fill the caches through Flask
    through_flask.clear()

    fast = client.get(url)
    assert through_flask == []  # answered in front of Flask
    slow = client.get(f"{url}?via=flask")  # a query string goes on to the view
    assert through_flask == [f"{url}?via=flask"]
    assert fast.get_data() == slow.get_data()
    assert fast.get_json()["by_org"] == {"alpha": 1, "beta": 0}
    for name in ("Content-Type", "Access-Control-Allow-Origin", "Cache-Control", "ETag", "Content-Security-Policy",
                 "X-Content-Type-Options", "Referrer-Policy"):  # fmt: skip
        assert fast.headers[name] == slow.headers[name], name
    not_modified = client.get(url, headers={"If-None-Match": fast.headers["ETag"]})
    assert (not_modified.status_code, not_modified.get_data()) == (304, b"")
    assert not_modified.headers["ETag"] == fast.headers["ETag"]
    assert client.get(f"/gamma/{campaign.slug}/tally.json").status_code == 404  # not a host: the view says so
    assert client.get("/alpha/no-such-campaign/tally.json").status_code == 404

    redis_store.client.flushdb()  # the tally is gone: the view rebuilds it from the database
    assert client.get(url).get_json()["total"] == 1


def test_a_web_process_that_dies_before_its_increment_is_caught_up_by_the_ticker_once(client, monkeypatch):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("first@example.org"))
    url = f"/alpha/{campaign.slug}/tally.json"
    assert client.get(url).get_json()["total"] == 1
    monkeypatch.setattr(tally, "_apply", lambda confirmed: 0)  # committed, then killed before Redis
    for n in range(3):
        sign(client, "alpha", campaign.slug, supporter(f"lost{n}@example.org"))
    monkeypatch.undo()
    assert client.get(url).get_json()["total"] == 1
    assert "tally" in periodic.run_due()
    assert client.get(url).get_json()["total"] == 4
    tally.catch_up()  # again: nothing counts twice
    document = client.get(url).get_json()
    assert (document["total"], document["by_org"]) == (4, {"alpha": 4})


def test_signing_while_redis_is_down_is_accepted_and_counted_when_it_returns(client, monkeypatch):
    """Redis answers the page and the form's checks, then fails at the increment: the signature stays."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    url = f"/alpha/{campaign.slug}/tally.json"
    assert client.get(url).get_json()["total"] == 0

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(tally, "_apply", down)
    assert sign(client, "alpha", campaign.slug, supporter()).status_code == 303
    monkeypatch.undo()
    tally.catch_up()
    assert client.get(url).get_json()["total"] == 1


def test_a_confirmation_while_redis_is_away_reads_as_done_and_counts_when_it_returns(client, mailbox, monkeypatch):
    """The confirmation is committed before the page reads the live count: Redis failing then must not
    answer 503 (people confirmed again what had worked)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tests.factories import confirm_link, csrf_token, run_jobs

    org = make_org("alpha")
    campaign = make_campaign(org)
    sign(client, "alpha", campaign.slug, supporter())
    run_jobs()
    link = confirm_link(mailbox.messages[0])
    token = csrf_token(client.get(link).get_data(as_text=True))

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(tally, "_apply", down)
    monkeypatch.setattr(tally, "campaign_meta", down)
    page = client.post(link, data={"csrf_token": token})
    assert page.status_code == 200 and "Confirmed. Thank you!" in page.get_data(as_text=True)
    monkeypatch.undo()
    tally.catch_up()
    assert client.get(f"/alpha/{campaign.slug}/tally.json").get_json()["total"] == 1
