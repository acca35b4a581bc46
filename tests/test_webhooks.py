"""Webhooks: a real receiver on 127.0.0.1 checks the signature; retries after 500s; a failing
endpoint is paused and its admins mailed; only what the supporter shared is sent; private
addresses are refused at registration and at every delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from chorus.extensions import db
from chorus.models import WebhookEndpoint, WebhookEvent
from chorus.models.base import utcnow
from chorus.services import webhooks
from tests.factories import login, make_campaign, make_org, make_user, run_jobs, session_csrf, sign, supporter


class Receiver:
    """An HTTP server recording each POST; `answers` scripts its next statuses (then 200)."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/chorus"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def items(self) -> list[dict]:
        return [item for _headers, body in self.requests for item in json.loads(body)]

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def private_allowed(app):
    app.config["CHORUS_WEBHOOK_ALLOW_PRIVATE"] = True
    return app


def verified(headers: dict, body: bytes, secret: str) -> bool:
    timestamp = headers["X-Chorus-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Chorus-Signature"], f"sha256={expected}")


def make_due_now():
    db.session.execute(update(WebhookEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_confirmed_signature_is_posted_signed_in_action_network_format(client, private_allowed, receiver):
    org = make_org("alpha", name="Alpha Group")
    campaign = make_campaign(org, require_confirmation=False)
    endpoint = webhooks.register(org, receiver.url)
    secret = endpoint.secret
    sign(client, "alpha", campaign.slug, supporter("ana@example.org", first_name="Ana", comment="Hi"))
    sign(client, "alpha", campaign.slug, supporter("leo@example.org", first_name="Leo"))
    assert receiver.requests == []  # never in the request that caused it
    run_jobs()
    assert len(receiver.requests) == 1  # both in one batch
    headers, body = receiver.requests[0]
    assert verified(headers, body, secret)
    assert not verified({**headers, "X-Chorus-Timestamp": "1"}, body, secret)
    items = receiver.items()
    assert [list(item)[0] for item in items] == ["osdi:signature", "osdi:signature"]
    first = items[0]["osdi:signature"]
    assert first["person"]["email_addresses"][0]["address"] == "ana@example.org"
    assert first["identifiers"][0].startswith("action_network:") and first["comments"] == "Hi"
    assert items[0]["action_network:sponsor"]["title"] == "Alpha Group" and items[0]["idempotency_key"]
    assert db.session.scalars(select(WebhookEvent.status)).all() == ["sent", "sent"]


def test_failed_deliveries_are_retried_with_backoff_then_sent(client, private_allowed, receiver):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    webhooks.register(org, receiver.url)
    sign(client, "alpha", campaign.slug, supporter())
    receiver.answers = [500, 503]
    assert webhooks.run().failed == 1
    event = db.session.scalar(select(WebhookEvent))
    assert event.status == "queued" and event.attempts == 1 and event.last_status == 500
    assert webhooks.run().batches == 0  # waits for its backoff
    make_due_now()
    assert webhooks.run().failed == 1
    make_due_now()
    assert webhooks.run().sent == 1
    assert len(receiver.requests) == 3
    assert len({json.loads(body)[0]["idempotency_key"] for _h, body in receiver.requests}) == 1
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, event.endpoint_id).failures == 0


def test_endpoint_that_keeps_failing_is_paused_its_admins_mailed_and_resumed_from_the_log(
    client, private_allowed, receiver, mailbox
):
    org = make_org("alpha")
    make_user("admin@alpha.example", "org-admin", org)
    make_user("admin-es@alpha.example", "org-admin", org).language = "es"  # each admin in their language
    db.session.commit()
    campaign = make_campaign(org, require_confirmation=False)
    endpoint = webhooks.register(org, receiver.url)
    private_allowed.config["CHORUS_WEBHOOK_PAUSE_AFTER"] = 2
    sign(client, "alpha", campaign.slug, supporter())
    receiver.answers = [500, 302, 500]
    webhooks.run()
    make_due_now()
    webhooks.run()  # a redirect is a failure, and is not followed
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).paused_at is not None
    assert len(receiver.requests) == 2
    mails = {m["To"]: m for m in mailbox.messages}
    assert sorted(mails) == ["admin-es@alpha.example", "admin@alpha.example"]
    assert mails["admin@alpha.example"]["Subject"] == "Webhook paused: 127.0.0.1"
    assert "failed 2 times in a row" in mails["admin@alpha.example"].get_body(("plain",)).get_content()
    assert mails["admin-es@alpha.example"]["Subject"] == "Webhook pausado: 127.0.0.1"
    assert "falló 2 veces seguidas" in mails["admin-es@alpha.example"].get_body(("plain",)).get_content()
    make_due_now()
    assert webhooks.run().batches == 0  # paused: nothing goes out
    login(client, "admin@alpha.example")
    log_page = client.get(f"/admin/alpha/integrations/webhooks/{endpoint.uuid}")
    assert "Paused" in log_page.get_data(as_text=True)
    token = session_csrf(client, f"/admin/alpha/integrations/webhooks/{endpoint.uuid}")
    event = db.session.scalar(select(WebhookEvent))
    client.post(f"/admin/alpha/integrations/webhooks/{endpoint.uuid}/resume", data={"csrf_token": token})
    run_jobs()
    assert len(receiver.requests) == 3
    client.post(
        f"/admin/alpha/integrations/webhooks/{endpoint.uuid}/events/{event.uuid}/resend", data={"csrf_token": token}
    )
    run_jobs()
    assert len(receiver.requests) == 4  # "send again" sends it once more


def test_only_what_the_supporter_shared_reaches_another_members_endpoint(client, private_allowed, receiver):
    alpha, beta = make_org("alpha"), make_org("beta")
    campaign = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    webhooks.register(beta, receiver.url)
    sign(client, "alpha", campaign.slug, supporter("kept@example.org"))
    sign(client, "alpha", campaign.slug, supporter("shared@example.org", share_with="beta"))
    sign(client, "beta", campaign.slug, supporter("own@example.org"))
    run_jobs()
    sent = sorted(i["osdi:signature"]["person"]["email_addresses"][0]["address"] for i in receiver.items())
    assert sent == ["own@example.org", "shared@example.org"]


def test_unsubscribe_is_posted_to_members_that_know_the_person(client, private_allowed, receiver):
    from chorus.services.mail import make_token

    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    webhooks.register(org, receiver.url)
    sign(client, "alpha", campaign.slug, supporter("bye@example.org"))
    run_jobs()
    client.post(f"/unsubscribe/{make_token('unsubscribe', 'bye@example.org')}", data={"List-Unsubscribe": "One-Click"})
    run_jobs()
    last = receiver.items()[-1]["chorus:unsubscription"]
    address = last["person"]["email_addresses"][0]
    assert address == {"primary": True, "address": "bye@example.org", "status": "unsubscribed"}


def test_leaving_one_members_mail_is_posted_to_that_member_only(client, private_allowed, receiver):
    from chorus.services.mail import unsubscribe_url

    alpha, beta = make_org("alpha"), make_org("beta")
    campaign = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    webhooks.register(beta, receiver.url)
    sign(client, "alpha", campaign.slug, supporter("wendy@example.org", share_with="beta"))
    run_jobs()
    signatures = len(receiver.items())
    left_alpha = unsubscribe_url("wendy@example.org", "alpha").rsplit("/", 1)[1]
    client.post(f"/unsubscribe/{left_alpha}", data={"List-Unsubscribe": "One-Click"})
    run_jobs()
    assert len(receiver.items()) == signatures  # beta's list did not change: beta hears nothing


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest", "http://example.org/"]
)
def test_private_addresses_and_plain_http_are_refused(app, url):
    with pytest.raises(webhooks.WebhookError):
        webhooks.check_url(url)


def test_addresses_are_checked_again_at_every_delivery(client, private_allowed, receiver):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    webhooks.register(org, receiver.url)  # allowed while registering (development)
    private_allowed.config["CHORUS_WEBHOOK_ALLOW_PRIVATE"] = False
    sign(client, "alpha", campaign.slug, supporter())
    assert webhooks.run().failed == 1
    assert receiver.requests == []
    assert "non-public address" in db.session.scalar(select(WebhookEvent.last_error))


def test_admin_adds_a_webhook_and_a_key_and_editors_may_not(client, app):
    org = make_org("alpha")
    make_user("admin@alpha.example", "org-admin", org)
    make_user("editor@alpha.example", "org-editor", org)
    login(client, "admin@alpha.example")
    token = session_csrf(client, "/admin/alpha/integrations")
    refused = client.post("/admin/alpha/integrations/webhooks", data={"csrf_token": token, "url": "https://127.0.0.1/x"})
    assert refused.status_code == 422 and "non-public" in refused.get_data(as_text=True)
    created = client.post("/admin/alpha/integrations/keys", data={"csrf_token": token, "name": "CRM"})
    key = created.get_data(as_text=True).split('id="new-api-key">')[1].split("<")[0]
    assert client.get("/api/v2/", headers={"OSDI-API-Token": key}).status_code == 200
    listing = client.get("/admin/alpha/integrations").get_data(as_text=True)
    assert key not in listing and key[:14] in listing
    editor = app.test_client()
    login(editor, "editor@alpha.example")
    assert editor.get("/admin/alpha/integrations").status_code == 403


def test_a_confirmed_sign_on_is_posted_to_the_host_member_only_with_its_contact(
    client, private_allowed, receiver, mailbox
):
    from chorus.services import apikeys
    from tests.factories import make_statement, org_sign_on, press, signon_link

    alpha, beta = make_org("alpha"), make_org("beta")
    statement = make_statement(alpha, [beta], slug="together")
    webhooks.register(beta, receiver.url)
    webhooks.register(alpha, receiver.url.replace("/hooks/", "/alpha-hooks/"))
    sign(client, "beta", "together", org_sign_on("Acme Workers", "contact@acme.example"))
    run_jobs()
    assert receiver.requests == []  # not before the contact confirms
    press(client, signon_link(mailbox.messages[-1]), step="confirm")
    run_jobs()
    [(headers, body)] = receiver.requests  # beta's endpoint only: alpha may not see the contact
    [item] = json.loads(body)
    doc = item["chorus:sign_on"]
    assert (doc["organization_name"], doc["status"], doc["contact"]["email"]) == (
        "Acme Workers",
        "pending",
        "contact@acme.example",
    )
    assert doc["identifiers"][0].startswith("action_network:") and item["idempotency_key"]

    vouched = {"organization_name": "Bakers Union", "contact": {"name": "Li", "email": "li@bakers.example"}}
    token = apikeys.create(beta)[1]
    api = client.post(f"/api/v2/petitions/{statement.uuid}/sign_ons", json=vouched, headers={"OSDI-API-Token": token})
    assert api.status_code == 200
    run_jobs()
    assert json.loads(receiver.requests[-1][1])[0]["chorus:sign_on"]["organization_name"] == "Bakers Union"
