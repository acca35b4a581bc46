"""The embed on a member's own website: another origin frames the form and counter, a supporter
signs inside it (CSRF kept), lands on the embed's own thanks page, and the frame follows its height."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action
from tests.factories import login, make_campaign, make_org, make_user
from tests.test_browser import live_server, page  # noqa: F401 - shared fixtures


@pytest.fixture
def member_website():
    """A second origin (another port) serving whatever HTML the test sets."""
    content = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = content["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield content, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def snippet_from_admin(client, org_slug: str, campaign_slug: str) -> str:
    html = client.get(f"/admin/{org_slug}/campaigns/{campaign_slug}").get_data(as_text=True)
    start = html.index('id="embed-script"')
    code = html[html.index(">", start) + 1 : html.index("</textarea>", start)]
    return code.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"')


def test_admin_shows_a_copy_paste_snippet_for_the_members_embed(client, app):
    org = make_org("alpha")
    campaign = make_campaign(org)
    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    code = snippet_from_admin(client, "alpha", campaign.slug)
    assert code.startswith("<script src=\"http://chorus.test/static/embed.js\"")
    assert f'data-chorus-embed="http://chorus.test/alpha/{campaign.slug}/embed"' in code
    embed = client.get(f"/alpha/{campaign.slug}/embed")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "embed.js" in embed.get_data(as_text=True)


def test_supporter_signs_in_the_embed_on_another_origin_and_the_frame_resizes(
    app, live_server, page, member_website  # noqa: F811 - fixtures imported above
):
    org = make_org("alpha", name="Alpha Group")
    campaign = make_campaign(org, title="Clean water", goal=50)
    slug = campaign.slug
    content, website = member_website
    content["html"] = (
        "<!doctype html><html><body><h1>Our own site</h1>"
        f'<script src="{live_server}/static/embed.js" data-chorus-embed="{live_server}/alpha/{slug}/embed" '
        'data-chorus-title="Sign our petition"></script></body></html>'
    )
    page.goto(website)
    frame_element = page.locator("iframe[title='Sign our petition']")
    frame = page.frame_locator("iframe[title='Sign our petition']")
    frame.get_by_label("First name").fill("Marta")
    frame.get_by_label("Last name").fill("Gómez")
    frame.get_by_label("Email").fill("marta@example.org")
    page.wait_for_function(
        "() => document.querySelector('iframe').style.height !== '640px'", polling=200, timeout=15000
    )
    form_height = frame_element.evaluate("f => f.getBoundingClientRect().height")
    frame.get_by_role("button", name="Sign").click()
    frame.get_by_role("heading", name="Check your inbox").wait_for(timeout=15000)
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('iframe').getBoundingClientRect().height - {form_height}) > 20",
        polling=200,
        timeout=15000,
    )
    thanks_url = page.frames[1].url
    assert thanks_url.startswith(f"{live_server}/alpha/{slug}/thanks") and "embed=1" in thanks_url
    content_height = page.frames[1].evaluate("document.documentElement.getBoundingClientRect().height")
    assert abs(frame_element.evaluate("f => f.getBoundingClientRect().height") - content_height) <= 2
    db.session.remove()
    stored = db.session.scalar(select(func.count(Action.id)).execution_options(all_orgs=True))
    assert stored == 1
