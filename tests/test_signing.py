"""The spine's promise: sign on any member site, confirm by e-mail, and the shared tally counts once."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action
from tests.factories import confirm_link, csrf_token, make_campaign, make_org, run_jobs, sign, supporter


def tally(client, org, campaign):
    response = client.get(f"/{org.slug}/{campaign.slug}/tally.json")
    assert response.status_code == 200
    return response.get_json()


def test_signature_is_counted_on_every_member_page_only_after_confirming_by_post(client, mailbox):
    puentes, union, faith = make_org("puentes"), make_org("union"), make_org("faith")
    campaign = make_campaign(puentes, hosts=[union, faith], goal=500)

    response = sign(client, "union", campaign.slug, supporter("Ana@Example.org", comment="For my kids"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/union/{campaign.slug}/thanks")
    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert tally(client, puentes, campaign)["total"] == 0

    run_jobs()
    [message] = mailbox.messages
    assert message["To"] == "Ana@Example.org"
    assert b"\r\nList-Unsubscribe: <http://chorus.test/unsubscribe/" in mailbox.raw[0]  # plain, not encoded
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith("<confirm.")
    link = confirm_link(message)

    page = client.get(link)  # what a mail scanner does: nothing is confirmed
    assert page.status_code == 200 and "<button" in page.get_data(as_text=True)
    assert tally(client, puentes, campaign)["total"] == 0

    confirmed = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert confirmed.status_code == 200
    assert "Confirmed. Thank you!" in confirmed.get_data(as_text=True)
    for org in (puentes, union, faith):
        document = tally(client, org, campaign)
        assert document == {
            "campaign": campaign.slug,
            "kind": "petition",
            "total": 1,
            "goal": 500,
            "by_org": {"puentes": 0, "union": 1, "faith": 0},
            "updated_at": document["updated_at"],
        }
        assert 'data-tally-org="union">1<' in client.get(f"/{org.slug}/{campaign.slug}").get_data(as_text=True)

    again = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert "already confirmed" in again.get_data(as_text=True)
    assert tally(client, puentes, campaign)["total"] == 1


def test_second_signature_through_other_member_in_other_case_counts_once(client, mailbox):
    a, b = make_org("alpha"), make_org("beta")
    campaign = make_campaign(a, hosts=[b], require_confirmation=False)

    first = sign(client, "alpha", campaign.slug, supporter("Ana@Example.org"))
    assert "Your signature counts." in client.get(first.headers["Location"]).get_data(as_text=True)
    second = sign(client, "beta", campaign.slug, supporter("ana@EXAMPLE.ORG", first_name="Other"))
    assert second.status_code == 303

    assert tally(client, b, campaign)["by_org"] == {"alpha": 1, "beta": 0}
    assert db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True)) == 1
    assert db.session.scalar(select(Action.first_name).execution_options(all_orgs=True)) == "Ana"


def test_unconfirmed_repeat_resends_the_confirmation_once_an_hour(client, mailbox):
    org = make_org()
    campaign = make_campaign(org)
    sign(client, org.slug, campaign.slug, supporter())
    run_jobs()
    sign(client, org.slug, campaign.slug, supporter())
    sign(client, org.slug, campaign.slug, supporter())
    run_jobs()
    assert len(mailbox.messages) == 2  # the first mail, then one resend however often they retry
    assert mailbox.messages[0]["Message-ID"] == mailbox.messages[1]["Message-ID"]


def test_confirmation_mails_go_out_in_one_batch_over_one_connection(client, mailbox):
    org = make_org()
    campaign = make_campaign(org)
    for n in range(5):
        sign(client, org.slug, campaign.slug, supporter(f"person{n}@example.org"))
    run_jobs()
    assert len(mailbox.messages) == 5
    assert len(mailbox.sessions) == 1


def test_twenty_concurrent_submissions_of_one_address_count_once(app: Flask, client):
    org = make_org()
    campaign = make_campaign(org, require_confirmation=False)
    token = csrf_token(client.get(f"/{org.slug}/{campaign.slug}").get_data(as_text=True))
    form = {"csrf_token": token, **supporter("crowd@example.org")}
    barrier = threading.Barrier(20)
    statuses = []

    def submit():
        own_client = app.test_client()
        barrier.wait()
        statuses.append(own_client.post(f"/{org.slug}/{campaign.slug}", data=form).status_code)

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [303] * 20
    assert db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True)) == 1
    assert tally(client, org, campaign)["total"] == 1


def test_campaign_without_confirmation_counts_at_once_and_closed_one_refuses(client):
    org = make_org()
    open_campaign = make_campaign(org, require_confirmation=False)
    closed = make_campaign(org, status="closed")
    sign(client, org.slug, open_campaign.slug, supporter())
    assert tally(client, org, open_campaign)["total"] == 1

    refused = client.post(f"/{org.slug}/{closed.slug}", data=supporter())  # its page shows no form
    assert refused.status_code == 409
    assert "This campaign is closed." in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True)) == 1


def test_one_click_unsubscribe_is_recorded_for_the_member_that_sent_the_mail(client, mailbox):
    from chorus.models import Suppression

    org = make_org()
    campaign = make_campaign(org)
    sign(client, org.slug, campaign.slug, supporter("Leo@Example.org"))
    run_jobs()
    url = mailbox.messages[0]["List-Unsubscribe"].strip("<>").replace("http://chorus.test", "")
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    recorded = db.session.scalars(select(Suppression).where(Suppression.email_normalized == "leo@example.org"))
    assert [s.org_id for s in recorded] == [org.id]
