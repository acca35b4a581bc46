"""Consent honored by each reader of supporter data (issue 10): a supporter who acted through beta and
did not share their details with alpha, or shared and then withdrew, is seen by none of alpha's
readers; one who shared is seen by all of them (so each reader is shown to read at all)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from chorus.cli import cli
from chorus.extensions import db
from chorus.models import Action, Export, SupporterMail
from chorus.services import my_data, webhooks
from tests.factories import login, make_campaign, make_org, make_user, run_jobs, session_csrf, sign, supporter
from tests.test_api import api_for
from tests.test_webhooks import Receiver

OWN, SHARED = "own@example.org", "shared@example.org"
KEPT, WITHDREW = "kept@example.org", "withdrew@example.org"


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def coalition(app, client, receiver):
    """alpha owns a petition co-hosted by beta; through beta, one supporter shares with alpha, one
    does not, one shares and withdraws before anything reaches alpha."""
    app.config["CHORUS_WEBHOOK_ALLOW_PRIVATE"] = True
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    campaign = make_campaign(alpha, hosts=[beta], slug="open-doors", require_confirmation=False)
    webhooks.register(alpha, receiver.url)
    sign(client, "alpha", campaign.slug, supporter(OWN))
    sign(client, "beta", campaign.slug, supporter(SHARED, share_with="alpha"))
    sign(client, "beta", campaign.slug, supporter(KEPT))
    sign(client, "beta", campaign.slug, supporter(WITHDREW, share_with="alpha"))
    action = db.session.scalar(select(Action.uuid).where(Action.email == WITHDREW).execution_options(all_orgs=True))
    assert my_data.change_consent(WITHDREW, action, "alpha", "share", grant=False) == "withdraw"
    ids = db.session.scalars(select(Action.id).execution_options(all_orgs=True)).all()
    db.session.execute(  # a mail to each that could not be sent: the campaign page lists them to its member
        insert(SupporterMail), [{"action_id": i, "kind": "copy", "status": "failed", "last_error": "550"} for i in ids]
    )
    db.session.commit()
    run_jobs()
    make_user("admin@alpha.example", "org-admin", alpha)
    return alpha, campaign


def _admin(client) -> None:
    login(client, "admin@alpha.example")


def admin_supporter_list(client, alpha, campaign, **_):
    _admin(client)
    return client.get("/admin/alpha/supporters").get_data(as_text=True)


def admin_failed_mails(client, alpha, campaign, **_):
    _admin(client)
    return client.get(f"/admin/alpha/campaigns/{campaign.slug}").get_data(as_text=True)


def web_csv_export(client, alpha, campaign, **_):
    _admin(client)
    token = session_csrf(client, f"/admin/alpha/campaigns/{campaign.slug}")
    client.post(f"/admin/alpha/campaigns/{campaign.slug}/exports", data={"csrf_token": token})
    run_jobs()
    export = db.session.scalar(select(Export).order_by(Export.id.desc()))
    return client.get(f"/admin/alpha/exports/{export.uuid}/download").get_data(as_text=True)


def cli_csv_export(client, alpha, campaign, app_env, **_):
    result = CliRunner().invoke(cli, ["export", "signatures", campaign.slug, "--org", "alpha"], env=app_env)
    assert result.exit_code == 0, result.output
    return result.stdout


def api_people(client, alpha, campaign, **_):
    return json.dumps(api_for(client, alpha).get("people?per_page=100"))


def api_signatures(client, alpha, campaign, **_):
    """Signatures name their person by id: follow each to the address, as a client would."""
    api = api_for(client, alpha)
    signatures = api.get(f"petitions/{campaign.uuid}/signatures?per_page=100")["_embedded"]["osdi:signatures"]
    return json.dumps([api.get(f"people/{s['action_network:person_id']}") for s in signatures])


def webhook_deliveries(client, alpha, campaign, receiver, **_):
    return json.dumps(receiver.items())


READERS = [
    admin_supporter_list,
    admin_failed_mails,
    web_csv_export,
    cli_csv_export,
    api_people,
    api_signatures,
    webhook_deliveries,
]


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_each_reader_shows_a_member_only_what_supporters_shared_with_it(client, coalition, receiver, app_env, reader):
    alpha, campaign = coalition
    seen = reader(client, alpha, campaign, receiver=receiver, app_env=app_env)
    assert OWN in seen and SHARED in seen  # the reader reads: its own supporter, and the one who shared
    assert KEPT not in seen  # never shared with alpha
    assert WITHDREW not in seen  # shared, then withdrew
