"""CSV exports of a campaign's actions: a member gets its own supporters and those who shared with it,
through a background job with progress, from the admin screen or the `chorus export signatures` command."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from chorus.cli import cli
from chorus.extensions import db, redis_store
from chorus.models import Export
from chorus.models.base import utcnow
from chorus.services import exports, periodic
from chorus.workers import jobs
from tests.factories import PASSWORD, login, make_campaign, make_org, make_user, run_jobs, session_csrf, sign, supporter
from tests.test_cli import chorus


@pytest.fixture
def coalition(client):
    """alpha owns a petition hosted by beta; four supporters, two of whom shared their details."""
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    campaign = make_campaign(alpha, hosts=[beta], slug="clean-water", require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("zoraida@example.org", first_name="Zoraida", last_name="Paz"))
    sign(client, "beta", campaign.slug, supporter("quirino@example.org", first_name="Quirino"))
    sign(client, "beta", campaign.slug, supporter("yolotl@example.org", first_name="Yolotl", share_with="alpha"))
    sign(
        client,
        "alpha",
        campaign.slug,
        supporter(
            "ximena@example.org",
            first_name="Ximena",
            comment='=HYPERLINK("http://evil.example"), "quoted"',
            share_with="beta",
        ),
    )
    make_user("admin@alpha.example", "org-admin", alpha)
    make_user("admin@beta.example", "org-admin", beta)
    make_user("editor@alpha.example", "org-editor", alpha)
    return alpha, beta, campaign


def start_export(client, org_slug: str, campaign_slug: str):
    token = session_csrf(client, f"/admin/{org_slug}/campaigns/{campaign_slug}")
    return client.post(f"/admin/{org_slug}/campaigns/{campaign_slug}/exports", data={"csrf_token": token})


def exported_by(client, email: str, org_slug: str) -> tuple[Export, list[dict[str, str]]]:
    """Sign in, press "Export CSV", run the job, download the file."""
    login(client, email)
    assert start_export(client, org_slug, "clean-water").status_code == 302
    run_jobs()
    export = db.session.scalar(select(Export).order_by(Export.id.desc()))
    download = client.get(f"/admin/{org_slug}/exports/{export.uuid}/download")
    assert download.status_code == 200
    return export, list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))


def test_org_admin_downloads_a_csv_of_their_supporters_with_every_column(client, coalition):
    export, rows = exported_by(client, "admin@alpha.example", "alpha")

    assert list(rows[0]) == list(exports.HEADER)
    by_name = {row["first_name"]: row for row in rows}
    assert sorted(by_name) == ["Ximena", "Yolotl", "Zoraida"]
    zoraida = by_name["Zoraida"]
    assert zoraida["last_name"] == "Paz" and zoraida["email"] == "zoraida@example.org"
    assert (zoraida["postal_code"], zoraida["country"], zoraida["member_site"]) == ("94110", "US", "alpha")
    assert zoraida["status"] == "confirmed"
    assert uuid.UUID(zoraida["id"])
    for moment in (zoraida["created_at"], zoraida["confirmed_at"]):  # ISO-8601, in UTC
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0)
    assert by_name["Yolotl"]["member_site"] == "beta"  # signed through beta, shared with alpha
    # Commas and quotes survive; a formula is defused for spreadsheets.
    assert by_name["Ximena"]["comment"] == '\'=HYPERLINK("http://evil.example"), "quoted"'


def test_member_export_of_a_shared_campaign_never_holds_other_members_unshared_supporters(client, coalition):
    _export, rows = exported_by(client, "admin@beta.example", "beta")

    assert sorted(row["first_name"] for row in rows) == ["Quirino", "Ximena", "Yolotl"]
    assert "zoraida" not in str(rows).lower()


def test_campaign_page_lists_the_export_with_a_progress_bar_and_the_json_reaches_done(client, coalition):
    login(client, "admin@alpha.example")
    response = start_export(client, "alpha", "clean-water")
    assert response.headers["Location"].endswith("/admin/alpha/campaigns/clean-water#exports")
    export = db.session.scalar(select(Export))
    page = client.get("/admin/alpha/campaigns/clean-water").get_data(as_text=True)
    assert f'data-export-url="/admin/alpha/exports/{export.uuid}.json"' in page
    assert '<progress max="100" value="0"' in page and "exports.js" in page
    queued = client.get(f"/admin/alpha/exports/{export.uuid}.json").get_json()
    assert queued["status"] == "queued" and queued["download_url"] is None

    run_jobs()

    done = client.get(f"/admin/alpha/exports/{export.uuid}.json")
    assert done.headers["Cache-Control"] == "no-store"
    assert done.get_json() == {
        "id": export.uuid,
        "status": "done",
        "rows_done": 3,
        "rows_total": 3,
        "percent": 100,
        "download_url": f"/admin/alpha/exports/{export.uuid}/download",
    }
    assert 'value="100"' in client.get("/admin/alpha/campaigns/clean-water").get_data(as_text=True)


def test_the_spanish_admin_export_page_gives_its_script_the_spanish_progress_texts(client, coalition):
    login(client, "admin@alpha.example")
    start_export(client, "alpha", "clean-water")
    page = client.get("/admin/alpha/campaigns/clean-water?lang=es").get_data(as_text=True)
    texts = json.loads(html.unescape(re.search(r"data-export-texts='([^']*)'", page).group(1)))
    assert texts == {
        "status": {"queued": "en cola", "running": "en curso", "done": "terminada", "failed": "fallida"},
        "failed": "falló: inicia una nueva exportación",
        "rows": "{done} de {total} filas",
    }
    assert "<td data-export-state>en cola</td>" in page


def test_progress_is_recorded_while_rows_stream(app, client, coalition, monkeypatch):
    """Progress commits go through another connection, so the cursor the rows stream from survives them."""
    alpha, _beta, campaign = coalition
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(exports, "STREAM_BATCH", 1)
    seen: list[int] = []
    record = exports._record

    def spy(export_id: int, **values) -> None:
        record(export_id, **values)
        if "status" not in values:  # a progress update: read it back as another session would
            with db.engine.connect() as connection:
                seen.append(connection.scalar(select(Export.rows_done).where(Export.id == export_id)))

    monkeypatch.setattr(exports, "_record", spy)
    export = exports.create_export(alpha, campaign, None)
    run_jobs()

    assert seen == [1, 2, 3]
    assert exports.file_path(export).read_text().count("\n") == 4


def test_running_a_finished_export_again_changes_nothing(app, coalition):
    alpha, _beta, campaign = coalition
    export = exports.create_export(alpha, campaign, None)
    assert jobs.export_campaign_csv(export.id) is True
    path = exports.file_path(export)
    first = path.stat().st_mtime_ns
    assert path.stat().st_mode & 0o777 == 0o600  # personal data: readable by the service account only

    assert jobs.export_campaign_csv(export.id) is False
    assert path.stat().st_mtime_ns == first


def _lease_ends(export_id: int) -> None:
    db.session.execute(update(Export).where(Export.id == export_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_an_export_whose_job_redis_lost_is_queued_again_by_the_ticker(app, coalition):
    alpha, _beta, campaign = coalition
    export = exports.create_export(alpha, campaign, None)
    redis_store.client.flushdb()  # the queued job is gone
    assert "exports" in periodic.run_due()  # the ticker's task
    run_jobs()
    assert db.session.get(Export, export.id).status == "queued"  # its job may still be waiting: no repeat yet

    _lease_ends(export.id)
    exports.restart_lost_exports()  # its next period
    run_jobs()
    db.session.expire_all()
    assert export.status == "done" and exports.file_path(export).read_text().count("\n") == 4  # header + 3


def test_an_export_whose_worker_died_runs_again_and_a_duplicate_job_does_nothing(app, coalition):
    alpha, _beta, campaign = coalition
    export = exports.create_export(alpha, campaign, None)
    assert exports._claim(export.id)  # a worker starts it, then is killed
    assert jobs.export_campaign_csv(export.id) is False  # another job meanwhile: the lease holds
    _lease_ends(export.id)
    assert jobs.export_campaign_csv(export.id) is True
    db.session.expire_all()
    assert export.status == "done"


def test_failed_export_records_its_error_and_offers_no_file(app, client, coalition):
    alpha, _beta, campaign = coalition
    (Path(app.config["CHORUS_INSTANCE"]) / "exports").write_text("a file where the exports folder should be")
    export = exports.create_export(alpha, campaign, None)
    run_jobs()

    db.session.expire_all()
    assert export.status == "failed" and export.error.startswith("FileExistsError")
    login(client, "admin@alpha.example")
    assert client.get(f"/admin/alpha/exports/{export.uuid}.json").get_json()["status"] == "failed"
    assert client.get(f"/admin/alpha/exports/{export.uuid}/download").status_code == 404


def test_pressing_export_twice_while_it_runs_starts_one_job(client, coalition):
    login(client, "admin@alpha.example")
    start_export(client, "alpha", "clean-water")
    start_export(client, "alpha", "clean-water")
    assert db.session.scalar(select(func.count(Export.id))) == 1


def test_another_members_admin_gets_404_for_status_and_download(client, coalition):
    export, _rows = exported_by(client, "admin@alpha.example", "alpha")
    make_user("root@coalition.example", "platform-admin")
    client.post("/admin/logout", data={"csrf_token": session_csrf(client, "/admin/alpha/")})

    login(client, "admin@beta.example")
    for prefix in ("/admin/beta", "/admin/alpha"):
        assert client.get(f"{prefix}/exports/{export.uuid}.json").status_code == 404
        assert client.get(f"{prefix}/exports/{export.uuid}/download").status_code == 404
    client.post("/admin/logout", data={"csrf_token": session_csrf(client, "/admin/beta/")})

    login(client, "root@coalition.example")  # a platform admin, but acting for beta here
    assert client.get(f"/admin/beta/exports/{export.uuid}/download").status_code == 404
    assert client.get(f"/admin/alpha/exports/{export.uuid}/download").status_code == 200


def test_bad_or_unknown_export_ids_are_404_not_errors(client, coalition):
    login(client, "admin@alpha.example")
    assert client.get("/admin/alpha/exports/not-a-uuid.json").status_code == 404
    assert client.get(f"/admin/alpha/exports/{uuid.uuid4()}.json").get_json() == {
        "error": "Page not found",
        "status": 404,
    }
    assert client.get(f"/admin/alpha/exports/{uuid.uuid4()}/download").status_code == 404
    token = session_csrf(client, "/admin/alpha/campaigns/clean-water")
    assert client.post("/admin/alpha/campaigns/no-such-campaign/exports", data={"csrf_token": token}).status_code == 404


def test_editor_may_not_start_or_read_an_export(client, coalition):
    login(client, "editor@alpha.example")
    page = client.get("/admin/alpha/campaigns/clean-water").get_data(as_text=True)
    assert "Export CSV" not in page
    assert start_export(client, "alpha", "clean-water").status_code == 403
    assert client.get(f"/admin/alpha/exports/{uuid.uuid4()}.json").status_code == 403
    assert db.session.scalar(select(func.count(Export.id))) == 0


def test_start_without_csrf_token_is_refused(client, coalition):
    login(client, "admin@alpha.example")
    assert client.post("/admin/alpha/campaigns/clean-water/exports").status_code == 400
    assert db.session.scalar(select(func.count(Export.id))) == 0


def test_cli_writes_the_members_csv_to_stdout(app_env, coalition):
    runner = CliRunner()
    as_owner = runner.invoke(cli, ["export", "signatures", "clean-water"], env=app_env)
    assert as_owner.exit_code == 0, as_owner.output
    rows = list(csv.DictReader(io.StringIO(as_owner.stdout)))
    assert sorted(row["first_name"] for row in rows) == ["Ximena", "Yolotl", "Zoraida"]
    assert "Exported 3 action(s) of clean-water as alpha." in as_owner.stderr

    as_beta = runner.invoke(cli, ["export", "signatures", "clean-water", "--org", "beta"], env=app_env)
    assert as_beta.stdout.splitlines()[0] == ",".join(exports.HEADER)
    assert sorted(row["first_name"] for row in csv.DictReader(io.StringIO(as_beta.stdout))) == [
        "Quirino",
        "Ximena",
        "Yolotl",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-campaign"], "Error: no campaign 'no-such-campaign'"),
        (["clean-water", "--org", "nobody"], "Error: no organization 'nobody'"),
        (["clean-water", "--org", "gamma"], "Error: 'gamma' does not host campaign 'clean-water'"),
    ],
)
def test_cli_bad_campaign_or_member_is_one_line_and_a_nonzero_exit(app_env, coalition, args, message):
    make_org("gamma")
    result = chorus("export", "signatures", *args, env=app_env)
    assert result.returncode == 1
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_progress_bar_turns_into_a_download_link_in_a_browser(live_server, page, coalition):
    from playwright.sync_api import expect

    problems: list[str] = []  # script errors, CSP violations, failed requests (but the favicon)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if "Content Security" in message.text else None)
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("E-mail").fill("admin@alpha.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/admin/alpha/campaigns/clean-water")
    page.get_by_role("button", name="Export CSV").click()
    row = page.locator("[data-export-url]")
    expect(row.locator("[data-export-state]")).to_have_text("queued")
    expect(row.get_by_role("link", name="Download CSV")).to_be_hidden()

    run_jobs()  # the page is not reloaded: exports.js sees the job finish

    expect(row.get_by_role("link", name="Download CSV")).to_be_visible(timeout=10_000)
    expect(row.locator("progress")).to_have_attribute("value", "100")
    expect(row.locator("[data-export-text]")).to_have_text("3 of 3 rows")
    expect(row.locator("[data-export-state]")).to_have_text("done")
    assert problems == []
