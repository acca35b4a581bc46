"""A supporter in a real browser (Debian's Chromium, driven by Playwright): sign, confirm, see the count."""

from __future__ import annotations

from tests.factories import confirm_link, make_campaign, make_org, run_jobs


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
    assert page.locator("[data-tally-total]").all_inner_texts() == ["1", "1"]  # the phone's jump and the tally
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
    page.get_by_label("Title", exact=True).fill("Free legal help in every court")  # not "Title (Español)"
    page.get_by_label("Address (slug)").fill("legal-help")
    page.get_by_label("Text (Markdown)", exact=True).fill("Every child deserves a **lawyer**.")
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


def test_organization_signs_on_in_a_browser_and_a_moderator_approves_it(live_server, page, mailbox, cheap_hashing):
    from tests.factories import PASSWORD, make_statement, make_user, signon_link

    owner, host = make_org("puentes", name="Puentes"), make_org("union", name="Local 12")
    make_statement(owner, [host], slug="together", title="No child in detention")
    make_user("mod@coalition.example", "moderator")

    page.goto(f"{live_server}/union/together")
    form = page.locator("form#sign-on")
    form.get_by_label("Organization").fill("Valley Teachers")
    form.get_by_label("Contact person").fill("Grace Whitfield")
    form.get_by_label("Email").fill("grace@valley.example")
    form.get_by_label("Website").fill("https://valley.example")
    form.get_by_role("button", name="Sign on").click()
    page.wait_for_url("**/thanks?status=sign_on")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    run_jobs()
    page.goto(live_server + signon_link(mailbox.messages[-1]))
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_text("waiting for review").is_visible()

    page.goto(f"{live_server}/admin/login")
    page.get_by_label("E-mail").fill("mod@coalition.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/admin/moderation/?kind=sign_on")
    assert page.get_by_text("verified domain").is_visible()
    page.get_by_label("Select Valley Teachers").check()
    page.get_by_role("button", name="Approve selected").click()
    assert page.get_by_text("1 item decided.").is_visible()  # ngettext: "2 items decided."

    page.goto(f"{live_server}/puentes/together")
    assert page.locator("ol.signatories").get_by_role("link", name="Valley Teachers").is_visible()
    assert page.get_by_text("1 organization and 0 people").is_visible()
