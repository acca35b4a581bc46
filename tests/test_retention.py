"""Retention: unconfirmed actions go after their campaign's period, closed campaigns are anonymized."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action, Consent, SignOn
from chorus.models.base import utcnow
from chorus.services import periodic, retention
from tests.factories import add_actions, login, make_campaign, make_org, make_statement, make_user


def _actions(campaign) -> dict[str, Action]:
    rows = db.session.scalars(select(Action).where(Action.campaign_id == campaign.id).execution_options(all_orgs=True))
    return {a.last_name: a for a in rows}


def test_retention_job_deletes_old_unconfirmed_and_anonymizes_closed_campaigns(app, client):
    assert "retention" in {task.name for task in periodic.tasks()}  # the workers' ticker runs it hourly
    org = make_org("alpha")
    now = utcnow()
    live = make_campaign(org, slug="live-one", unconfirmed_retention_days=10)
    add_actions(live, org, 2, status="pending", start=now - timedelta(days=20), prefix="old")
    add_actions(live, org, 1, status="pending", start=now - timedelta(days=2), prefix="new")
    closed = make_campaign(org, slug="closed-one", status="closed", closed_at=now - timedelta(days=40))
    closed.closed_retention_days = 30
    add_actions(closed, org, 2, prefix="gone")
    db.session.add(Consent(action_id=_actions(closed)["Gone002"].id, org_id=org.id, purpose="updates"))
    db.session.commit()
    assert retention.schedule(live).pending == 3

    make_user("admin@alpha.example", org=org)
    login(client, "admin@alpha.example")
    page = client.get(f"/admin/alpha/campaigns/{live.slug}?lang=es").get_data(as_text=True)
    assert "3 acciones sin confirmar." in page and "se eliminan 10 días después" in page

    assert retention.apply() == {"deleted": 2, "anonymized": 1, "sign_ons_deleted": 0, "sign_ons_anonymized": 0}
    assert sorted(_actions(live)) == ["New001"]
    db.session.expire_all()
    anonymous = db.session.scalars(
        select(Action).where(Action.campaign_id == closed.id, Action.email == "").execution_options(all_orgs=True)
    ).all()
    assert len(anonymous) == 1 and anonymous[0].first_name == "" and "@" not in anonymous[0].email_normalized
    kept = _actions(closed)["Gone002"]  # asked the member for updates: the member keeps the contact details
    assert kept.email == "gone002@example.org" and kept.postal_code == ""
    confirmed = select(func.count(Action.id)).where(Action.campaign_id == closed.id, Action.status == "confirmed")
    assert db.session.scalar(confirmed.execution_options(all_orgs=True)) == 2  # the tally stays
    assert retention.apply() == {"deleted": 0, "anonymized": 0, "sign_ons_deleted": 0, "sign_ons_anonymized": 0}


def _sign_on(campaign, site, name: str, status: str, created_at) -> SignOn:
    row = SignOn(
        campaign_id=campaign.id,
        org_id=site.id,
        organization_name=name,
        name_normalized=name.lower(),
        contact_name=f"Contact of {name}",
        email=f"{name.lower()}@example.org",
        email_normalized=f"{name.lower()}@example.org",
        message=f"{name} stands with you",
        status=status,
        created_at=created_at,
    )
    db.session.add(row)
    return row


def _statements_with_sign_ons(closed_days_ago: int):
    """A live statement (10 days' retention of unconfirmed sign-ons: one stale, one fresh, one listed)
    and one closed `closed_days_ago` days ago (30 days' retention) with one listed sign-on."""
    org = make_org("alpha")
    now = utcnow()
    live = make_statement(org, slug="live-statement")
    live.unconfirmed_retention_days = 10
    _sign_on(live, org, "Stale", "pending-confirmation", now - timedelta(days=20))
    _sign_on(live, org, "Fresh", "pending-confirmation", now - timedelta(days=2))
    _sign_on(live, org, "Listed", "approved", now - timedelta(days=20))
    closed = make_statement(org, slug="closed-statement")
    closed.status, closed.closed_at, closed.closed_retention_days = "closed", now - timedelta(days=closed_days_ago), 30
    _sign_on(closed, org, "Finished", "approved", now - timedelta(days=60))
    db.session.commit()
    return org, live, closed, now


def test_retention_deletes_unconfirmed_sign_ons_and_blanks_closed_statements_contacts(app):
    _statements_with_sign_ons(closed_days_ago=40)

    done = retention.apply()
    assert (done["sign_ons_deleted"], done["sign_ons_anonymized"]) == (1, 1)
    db.session.expire_all()
    rows = {s.organization_name: s for s in db.session.scalars(select(SignOn))}
    assert sorted(rows) == ["Finished", "Fresh", "Listed"]
    assert rows["Listed"].email == "listed@example.org"  # confirmed and listed: its contact stays while live
    finished = rows["Finished"]  # the organization stays listed; its contact is gone
    assert finished.status == "approved" and (finished.contact_name, finished.email, finished.message) == ("", "", "")
    assert "@" not in finished.email_normalized
    assert retention.apply()["sign_ons_anonymized"] == 0


def test_the_admin_shows_which_sign_ons_retention_will_remove_and_when(app, client):
    org, live, closed, now = _statements_with_sign_ons(closed_days_ago=20)

    plan = retention.schedule(live)
    assert (plan.pending, plan.pending_sign_ons, plan.sign_on_contacts) == (0, 2, 3)
    assert plan.next_deletion.date() == (now - timedelta(days=10)).date()  # the stale sign-on's day: overdue
    later = retention.schedule(closed)
    assert later.sign_on_contacts == 1 and later.anonymize_on.date() == (now + timedelta(days=10)).date()

    make_user("admin@alpha.example", org=org)
    login(client, "admin@alpha.example")
    page = client.get("/admin/alpha/campaigns/live-statement").get_data(as_text=True)
    assert "2 organizations' sign-ons were never confirmed by their contacts" in page
    assert f"The next deletion is due on {(now - timedelta(days=10)):%Y-%m-%d}" in page
    assert "The contacts of 3 signing organizations (names and e-mail addresses) are removed 365 days" in page
    page = client.get("/admin/alpha/campaigns/closed-statement?lang=es").get_data(as_text=True)
    when = (now + timedelta(days=10)).strftime("%Y-%m-%d")
    assert f"El contacto de 1 organización firmante (nombre y dirección de correo) se borrará el {when}" in page

    retention.apply()  # what the job then does is what the page said
    assert (retention.schedule(live).pending_sign_ons, retention.schedule(live).sign_on_contacts) == (1, 2)
