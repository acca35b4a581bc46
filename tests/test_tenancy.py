"""Supporter data is scoped to one member in one place, and fails closed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Action
from chorus.tenancy import acting_for, set_current_org
from tests.factories import make_campaign, make_org, sign, supporter


@pytest.fixture
def three_members_signed(client):
    a, b, c = make_org("alpha"), make_org("beta"), make_org("gamma")
    campaign = make_campaign(a, hosts=[b, c], require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("via-alpha@example.org", first_name="Zoraida"))
    sign(client, "beta", campaign.slug, supporter("via-beta@example.org", first_name="Quirino"))
    sign(
        client,
        "beta",
        campaign.slug,
        supporter("shared@example.org", first_name="Yolotl", share_with="alpha"),
    )
    db.session.remove()
    return a, b, c, campaign


def names(statement=None):
    return sorted(db.session.scalars(statement if statement is not None else select(Action.first_name)))


def test_member_sees_its_own_supporters_and_those_who_shared_with_it(three_members_signed):
    a, b, c, _campaign = three_members_signed
    with acting_for(a):
        assert names() == ["Yolotl", "Zoraida"]
    db.session.remove()
    with acting_for(b):
        assert names() == ["Quirino", "Yolotl"]
        assert db.session.scalar(select(func.count(Action.id))) == 2
    db.session.remove()
    with acting_for(c):
        assert names() == []


def test_query_without_a_member_returns_nothing_unless_it_opts_in(three_members_signed):
    assert names() == []
    assert names(select(Action.first_name).execution_options(all_orgs=True)) == [
        "Quirino",
        "Yolotl",
        "Zoraida",
    ]


def test_a_session_cannot_switch_member_midway(three_members_signed):
    a, b, _c, _campaign = three_members_signed
    set_current_org(a)
    with pytest.raises(RuntimeError):
        set_current_org(b)


def test_member_pages_never_show_supporters(client, three_members_signed):
    _a, _b, _c, campaign = three_members_signed
    for org in ("alpha", "beta", "gamma"):
        for path in (f"/{org}/", f"/{org}/{campaign.slug}", f"/{org}/{campaign.slug}/tally.json"):
            html = client.get(path).get_data(as_text=True)
            assert "Zoraida" not in html and "Quirino" not in html and "via-beta" not in html
