"""Phones and accessibility in Chromium: the action within the first screen at 390x844, and axe-core
(from its npm package) finding no serious or critical violation on every public page kind and the main
admin pages, also for a member whose colours are light.

axe-core is installed on first use with `npm install --prefix tests/.axe axe-core@4` (git-ignored); set
CHORUS_AXE_JS to an axe.min.js you already have to stay offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chorus.extensions import db
from chorus.models import Action
from chorus.services import demo, mail
from tests.conftest import REQUIRE_ALL
from tests.factories import PASSWORD, make_campaign, make_org, make_user, sign, supporter

AXE_DIR = Path(__file__).parent / ".axe"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def axe_js() -> str:
    given = os.environ.get("CHORUS_AXE_JS")
    script = Path(given) if given else AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists() and not given and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "--silent", "axe-core@4"],
            capture_output=True,
            timeout=180,
        )
    if not script.exists():
        message = f"axe-core not found at {script}: run `npm install --prefix tests/.axe axe-core@4`"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    return str(script)


@pytest.fixture
def sqlite_only(backend):
    """The pages are the same on both databases; one browser pass is enough."""
    if backend.name != "sqlite":
        pytest.skip("browser pages are checked once, on SQLite")


def serious_violations(page, axe_js: str) -> list[str]:
    page.add_script_tag(path=axe_js)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .filter(v => v.impact === "serious" || v.impact === "critical")
             .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))"""
    )
    return found


def test_phone_sees_the_count_and_the_sign_button_on_the_first_screen(sqlite_only, live_server, browser):
    demo.load()
    page = browser.new_page(viewport=PHONE)
    for path in ("/puentes/keep-families-together", "/harbor-workers/fair-shifts"):
        page.goto(live_server + path)
        jump = page.get_by_role("link", name="Sign the petition")
        box = jump.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], path
        assert page.get_by_text("To:").first.is_visible()
        jump.click()
        assert page.get_by_role("button", name="Sign", exact=True).is_visible() and page.evaluate("window.scrollY") > 0
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone


def test_wide_screen_text_follows_the_title_however_tall_the_form_beside_it(sqlite_only, live_server, browser):
    demo.load()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/riverside-legal/write-to-the-governor")  # a short text beside a long letter form
    lead, text, form = (page.locator(part).bounding_box() for part in (".layout > .lead", ".layout > article", "#act"))
    assert form["height"] > lead["height"] + text["height"]  # the case that used to leave a gap
    assert text["y"] - (lead["y"] + lead["height"]) < 40


def test_public_and_admin_pages_have_no_serious_accessibility_violation(
    sqlite_only, live_server, browser, axe_js, client
):
    demo.load()
    light = make_org("sunny", name="Sunny Side Tenants", primary_color="#ffd166", accent_color="#fff3b0")
    make_campaign(light, slug="repairs", title="Repairs before rent", addressee="The landlords", goal=500)
    make_user("sec@coalition.example", "platform-admin")
    sign(client, "puentes", "keep-families-together", supporter())
    action = (
        db.session.query(Action).filter_by(email_normalized="ana@example.org").execution_options(all_orgs=True).one()
    )
    pages = [
        "/",
        "/puentes/",
        "/puentes/keep-families-together",
        "/riverside-legal/write-to-the-governor",
        "/puentes/keep-families-together/thanks?status=signed",
        "/puentes/keep-families-together/embed",
        f"/confirm/{mail.make_token('confirm', action.uuid)}",
        f"/unsubscribe/{mail.make_token('unsubscribe', 'ana@example.org')}",
        "/no-such-member/",
        "/sunny/",
        "/sunny/repairs",
        "/puentes/my-data",
        "/my-data?sent=1",
        mail.manage_url("ana@example.org", "puentes").removeprefix("http://chorus.test"),
    ]
    page = browser.new_context(bypass_csp=True).new_page()  # axe is injected as a script
    problems = {}
    for path in pages:
        page.goto(live_server + path)
        problems[path] = serious_violations(page, axe_js)

    page.goto(live_server + "/admin/login")
    problems["/admin/login"] = serious_violations(page, axe_js)
    page.get_by_label("E-mail").fill("sec@coalition.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/**")
    for path in (
        "/admin/",
        "/admin/puentes/",
        "/admin/puentes/campaigns/new",
        "/admin/puentes/campaigns/keep-families-together",
        "/admin/puentes/branding",
        "/admin/sunny/branding",
        "/admin/data-rights",
    ):
        page.goto(live_server + path)
        problems[path] = serious_violations(page, axe_js)
    assert {path: found for path, found in problems.items() if found} == {}
