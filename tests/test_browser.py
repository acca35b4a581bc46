"""A supporter in a real browser (Debian's Chromium, driven by Playwright): sign, confirm, see the count."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.factories import confirm_link, make_campaign, make_org, run_jobs

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page()
        browser.close()


def test_supporter_signs_and_confirms_in_a_browser(live_server, page, mailbox):
    owner, host = make_org("puentes", name="Puentes"), make_org("union", name="Local 12")
    campaign = make_campaign(owner, hosts=[host], title="Keep families together", goal=100)

    page.goto(f"{live_server}/union/{campaign.slug}")
    page.get_by_label("First name").fill("Marta")
    page.get_by_label("Last name").fill("Gómez")
    page.get_by_label("Email").fill("marta@example.org")
    page.get_by_label("Country").select_option("MX")
    page.get_by_role("button", name="Sign").click()
    page.wait_for_url("**/thanks")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    run_jobs()
    page.goto(live_server + confirm_link(mailbox.messages[0]))
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_text("Confirmed. Thank you!").is_visible()

    page.goto(f"{live_server}/puentes/{campaign.slug}?lang=es")
    assert page.locator("[data-tally-total]").inner_text() == "1"
    assert page.get_by_role("heading", name="Firma la petición").is_visible()
    assert page.locator('[data-tally-org="union"]').inner_text() == "1"


def test_org_admin_creates_a_petition_in_the_browser_and_sees_it_live(live_server, page):
    from tests.factories import PASSWORD, make_user

    org = make_org("riverside", name="Riverside Legal Aid")
    make_user("lucia@riverside.example", "org-admin", org)

    page.goto(f"{live_server}/admin/login")
    page.get_by_label("E-mail").fill("lucia@riverside.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/riverside/")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Title").fill("Free legal help in every court")
    page.get_by_label("Address (slug)").fill("legal-help")
    page.get_by_label("Text (Markdown)").fill("Every child deserves a **lawyer**.")
    page.get_by_label("Goal").fill("250")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/riverside/campaigns/legal-help")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("The campaign is now live.").wait_for()  # the redirect may still be loading
    assert page.get_by_text("The campaign is now live.").is_visible()

    page.goto(f"{live_server}/riverside/")
    page.get_by_role("link", name="Free legal help in every court").click()
    assert page.locator("article strong", has_text="lawyer").is_visible()
    assert page.get_by_role("button", name="Sign").is_visible()
