"""A member's own domain: the Host header alone makes a request that member's site."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chorus import tenancy
from chorus.extensions import db
from chorus.models import Action, MemberHost
from tests.factories import csrf_token, make_campaign, make_org, make_statement, run_jobs, supporter

OWN = "act.puentes.example"


@pytest.fixture
def puentes(app):
    org = make_org("puentes", name="Puentes")
    org.hosts.append(MemberHost(host=OWN, approved=True))
    db.session.commit()
    tenancy.forget_hosts()
    return org


def on_own_host(client, path: str, **kwargs):
    return client.open(path, base_url=f"http://{OWN}", **kwargs)


def test_own_host_serves_the_member_home_and_campaign_pages_without_the_prefix(client, puentes):
    union = make_org("union", name="Local 12")
    campaign = make_campaign(puentes, hosts=[union], slug="families", title="Keep families together")
    home = on_own_host(client, "/").get_data(as_text=True)
    assert "Keep families together" in home and 'href="/families"' in home
    assert "<h2>Members of the coalition</h2>" not in home
    page = on_own_host(client, "/families")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'action="/families"' in html and 'data-tally-url="/families/tally.json"' in html
    assert on_own_host(client, "/families/tally.json").get_json()["campaign"] == campaign.slug
    assert on_own_host(client, "/families/embed").status_code == 200
    # The shared host keeps its /<org>/ addresses; the prefixed form on the own host redirects.
    assert client.get("/puentes/families").status_code == 200 and client.get("/union/families").status_code == 200
    assert on_own_host(client, "/puentes/families?lang=es").headers["Location"] == "/families?lang=es"
    assert on_own_host(client, "/union/families").headers["Location"] == "http://chorus.test/union/families"
    assert "<h2>Members of the coalition</h2>" in client.get("/").get_data(as_text=True)
    make_statement(puentes, slug="together")  # a statement's earlier versions are its pages too
    assert on_own_host(client, "/together/versions/1").status_code == 200
    assert client.get("/puentes/together/versions/1").status_code == 200


def test_signing_on_the_own_host_mails_links_to_the_own_host(client, puentes, mailbox):
    make_campaign(puentes, slug="families")
    form = csrf_token(on_own_host(client, "/families").get_data(as_text=True))
    signed = on_own_host(client, "/families", method="POST", data={"csrf_token": form, **supporter()})
    assert signed.status_code == 303 and signed.headers["Location"] == "/families/thanks"
    assert on_own_host(client, "/families/thanks").status_code == 200
    run_jobs()
    message = mailbox.messages[0]
    body = message.get_body(("plain",)).get_content()
    assert f"http://{OWN}/confirm/" in body and f"http://{OWN}/families" in body and "chorus.test" not in body
    assert message["List-Unsubscribe"].startswith(f"<http://{OWN}/unsubscribe/")
    confirm_path = body.split(f"http://{OWN}", 1)[1].split()[0]
    page = on_own_host(client, confirm_path).get_data(as_text=True)
    confirmed = on_own_host(client, confirm_path, method="POST", data={"csrf_token": csrf_token(page)})
    assert confirmed.status_code == 200
    status = db.session.scalar(select(Action.status).execution_options(all_orgs=True))
    assert status == "confirmed"


def test_links_to_the_own_host_keep_the_port_the_platform_is_served_on(app, puentes, monkeypatch):
    monkeypatch.setitem(app.config, "CHORUS_BASE_URL", "http://127.0.0.1:5000")  # make run's address
    assert tenancy.public_root(puentes) == f"http://{OWN}:5000"
    monkeypatch.setitem(app.config, "CHORUS_BASE_URL", "https://coalition.example")
    assert tenancy.site_root(puentes) == f"https://{OWN}"


def test_a_forged_forwarded_host_or_an_unapproved_host_is_not_a_member_site(client, puentes):
    puentes.hosts.append(MemberHost(host="pending.puentes.example", approved=False))
    db.session.commit()
    tenancy.forget_hosts()
    forged = client.get("/", headers={"X-Forwarded-Host": OWN}).get_data(as_text=True)
    assert "<h2>Members of the coalition</h2>" in forged
    pending = client.get("/", base_url="http://pending.puentes.example").get_data(as_text=True)
    assert "<h2>Members of the coalition</h2>" in pending  # unknown hosts get the coalition's site by default


def test_unknown_hosts_get_404_when_configured(app_env):
    from chorus.app import create_app

    app = create_app({**app_env, "CHORUS_UNKNOWN_HOSTS": "404"})
    with app.app_context():
        client = app.test_client()
        assert client.get("/", base_url="http://elsewhere.example").status_code == 404
        assert client.get("/", base_url="http://chorus.test").status_code == 200


def test_on_the_shared_host_the_own_host_rules_do_not_shadow_member_pages(client, puentes):
    make_campaign(puentes, slug="families")
    assert client.get("/puentes").status_code == 308 and client.get("/puentes").headers["Location"] == "/puentes/"
    assert client.get("/families/thanks").status_code == 404
    assert client.get("/puentes/families/thanks").status_code == 200
