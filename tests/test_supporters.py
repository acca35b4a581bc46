"""Data rights: `chorus supporters export|erase` on every store, tallies unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, text

from chorus.cli import cli
from chorus.extensions import db
from chorus.models import AuditEntry
from chorus.services import exports
from tests.factories import (
    make_campaign,
    make_letter_campaign,
    make_org,
    make_statement,
    org_sign_on,
    run_deliveries,
    run_jobs,
    sign,
    supporter,
)

ADDRESS = "xochitl.quetzal@example.org"
TRACES = [
    ADDRESS,
    "Xochitl",
    "Quetzalmecatl",
    "99577",
    "ocelot-lantern",
    "zebra crossing of my street",
    "axolotl-harbour",  # a solidarity message on a statement
    "heron-of-the-marsh",  # the message of the organization whose contact they are
]


def _dump() -> str:
    """Every row of every table, as a pg_dump of the data would show it."""
    return "\n".join(
        repr(tuple(row))
        for table in db.metadata.sorted_tables
        for row in db.session.execute(text(f"SELECT * FROM {table.name}"))
    )


def _files(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _totals(client, *campaigns) -> list[dict]:
    return [client.get(f"/alpha/{c.slug}/tally.json").get_json()["by_org"] for c in campaigns]


def test_export_then_erase_removes_every_trace_and_keeps_tallies(app, app_env, client):
    app.config["MAIL_URL"] = "outbox"  # mails become files in the instance folder, which erasure must reach
    alpha, beta = make_org("alpha", name="Alpha"), make_org("beta", name="Beta")
    petition = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    letter = make_letter_campaign(alpha, targets=[{"name": "Elena Alvarez", "email": "governor@example.org"}])
    letter.require_confirmation = False
    db.session.commit()
    person = supporter(ADDRESS, first_name="Xochitl", last_name="Quetzalmecatl", postal_code="99577")
    consents = {"share_with": "alpha", "updates_from": "beta"}
    sign(client, "beta", petition.slug, {**person, "comment": "ocelot-lantern", **consents})
    sign(client, "alpha", letter.slug, {**person, "subject": "Counsel", "body": "zebra crossing of my street"})
    sign(client, "alpha", petition.slug, supporter("other@example.org"))
    statement = make_statement(alpha)
    sign(client, "alpha", statement.slug, {**person, "comment": "axolotl-harbour"})
    sign(
        client,
        "alpha",
        statement.slug,
        org_sign_on("Colectivo Garza", ADDRESS, contact_name="Xochitl Quetzalmecatl", message="heron-of-the-marsh"),
    )
    run_jobs()
    run_deliveries()
    exports.create_export(alpha, petition, None)
    run_jobs()
    instance = Path(app.config["CHORUS_INSTANCE"])
    assert ADDRESS.encode() in _files(instance / "exports") and b"Xochitl" in _files(instance / "outbox")
    before = _totals(client, petition, letter)

    runner = CliRunner()
    exported = runner.invoke(cli, ["supporters", "export", ADDRESS.upper()], env=app_env)
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    by_campaign = {a["campaign"]: a for a in document["actions"]}
    assert by_campaign[petition.slug]["comment"] == "ocelot-lantern"
    assert {(c["organization"], c["purpose"], c["text"]) for c in by_campaign[petition.slug]["consents"]} == {
        ("alpha", "share", "Share my details with: Alpha"),
        ("beta", "updates", "Send me e-mail updates from: Beta"),
    }
    assert by_campaign[letter.slug]["letter"]["body"] == "zebra crossing of my street"
    assert [d["status"] for d in by_campaign[letter.slug]["deliveries"]] == ["sent"]
    assert document["mails_sent"]
    statement_action = by_campaign[statement.slug]
    assert statement_action["public_message"] == {
        "author_name": "Xochitl Q.",
        "body": "axolotl-harbour",
        "status": "pending",
    }
    [sign_on] = document["sign_ons"]
    assert {k: sign_on[k] for k in ("organization", "contact_name", "email", "message", "status", "version")} == {
        "organization": "Colectivo Garza",
        "contact_name": "Xochitl Quetzalmecatl",
        "email": ADDRESS,
        "message": "heron-of-the-marsh",
        "status": "pending-confirmation",
        "version": 1,
    }
    assert {"kind": "confirm", "sign_on": sign_on["id"]} in [
        {k: v for k, v in m.items() if k != "sent_at"} for m in document["mails_sent"]
    ]

    erased = runner.invoke(cli, ["supporters", "erase", ADDRESS], env=app_env)
    assert erased.exit_code == 0, erased.output
    db.session.expire_all()
    dump, files = _dump(), _files(instance).lower()
    if db.engine.dialect.name == "sqlite":  # secure_delete: not even free pages of the file keep it
        files += Path(db.engine.url.database).read_bytes().lower()
    for trace in TRACES:
        assert trace.lower() not in dump.lower(), trace
        assert trace.lower().encode() not in files, trace
    assert "other@example.org" in dump  # nobody else's data
    assert "Colectivo Garza" in dump  # an organization's name is not personal data: its signature stays
    assert _totals(client, petition, letter) == before

    again = sign(client, "alpha", petition.slug, supporter(ADDRESS))  # the same person: still counted once
    assert again.status_code == 303 and _totals(client, petition, letter) == before
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.event, e.actor) for e in entries] == [("supporter.export", "cli"), ("supporter.erase", "cli")]
    assert all("@" not in e.subject for e in entries) and json.loads(entries[1].subject)["actions"]


def test_unknown_address_is_one_clear_line_and_exit_1(app, app_env):
    for command in ("export", "erase"):
        result = CliRunner().invoke(cli, ["supporters", command, "nobody@example.org"], env=app_env)
        assert result.exit_code == 1
        assert result.output.strip() == "Error: nothing is held about 'nobody@example.org'"
