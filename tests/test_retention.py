"""Retention: unconfirmed actions go after their campaign's period, closed campaigns are anonymized."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action, Consent
from chorus.models.base import utcnow
from chorus.services import periodic, retention
from tests.factories import add_actions, login, make_campaign, make_org, make_user


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

    assert retention.apply() == {"deleted": 2, "anonymized": 1}
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
    assert retention.apply() == {"deleted": 0, "anonymized": 0}
