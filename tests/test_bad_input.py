"""Bad input gets a 4xx page naming the problem, and nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chorus.models import Action
from tests.factories import csrf_token, make_campaign, make_org, sign, supporter


def stored(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Action).execution_options(all_orgs=True))


CASES = {
    "empty e-mail": (supporter(email=""), 422, "This field is required."),
    "malformed e-mail": (supporter(email="not-an-address@"), 422, "Enter a valid e-mail address."),
    "10 kB first name": (supporter(first_name="A" * 10_000), 422, "Too long: at most 100 characters."),
    "a line break in a name": (supporter(last_name="Ru\niz"), 422, "Contains characters that are not allowed."),
    "unknown country": (supporter(country="XX"), 422, "Choose a country from the list."),
    "sharing with a non-host": (supporter(share_with="someone-else"), 422, "Choose among the member sites"),
    "missing name": ({**supporter(), "first_name": "  "}, 422, "This field is required."),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_field_is_refused_with_its_error_and_input_kept(client, case):
    from chorus.extensions import db

    org = make_org()
    campaign = make_campaign(org)
    data, status, message = CASES[case]
    token = csrf_token(client.get(f"/{org.slug}/{campaign.slug}").get_data(as_text=True))
    response = client.post(f"/{org.slug}/{campaign.slug}", data={"csrf_token": token, **data})
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in html
    assert 'aria-invalid="true"' in html
    assert stored(db.session) == 0


@pytest.mark.parametrize("token", [None, "", "forged.token.value", "wrong-campaign"])
def test_missing_or_wrong_csrf_token_is_refused_and_the_form_kept(client, token):
    from chorus.extensions import db

    org = make_org()
    campaign = make_campaign(org)
    other = make_campaign(org)
    if token == "wrong-campaign":
        token = csrf_token(client.get(f"/{org.slug}/{other.slug}").get_data(as_text=True))
    data = supporter(first_name="Keepme")
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/{org.slug}/{campaign.slug}", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The form expired or was not sent by this site" in html
    assert 'value="Keepme"' in html  # nothing the supporter typed is lost
    assert stored(db.session) == 0


def test_non_utf8_bytes_are_refused(client):
    from chorus.extensions import db

    org = make_org()
    campaign = make_campaign(org)
    token = csrf_token(client.get(f"/{org.slug}/{campaign.slug}").get_data(as_text=True))
    body = (f"csrf_token={token}&first_name=%FF%FEAna&last_name=Ruiz&email=ana%40example.org&country=US").encode()
    response = client.post(f"/{org.slug}/{campaign.slug}", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "Contains characters that are not allowed." in response.get_data(as_text=True)
    assert stored(db.session) == 0
    assert client.get("/%FF%FE/").status_code == 404


def test_unknown_member_campaign_and_oversized_body_are_4xx_pages(client):
    from chorus.extensions import db

    org = make_org()
    campaign = make_campaign(org)
    other = make_org()
    assert client.get("/no-such-member/").status_code == 404
    assert client.get(f"/{org.slug}/no-such-campaign").status_code == 404
    assert client.get(f"/{other.slug}/{campaign.slug}").status_code == 404  # not a host
    assert client.post(f"/{other.slug}/{campaign.slug}", data=supporter()).status_code == 404
    assert client.get(f"/{other.slug}/{campaign.slug}/tally.json").status_code == 404
    assert client.get("/Upper-Case/").status_code == 404
    huge = client.post(f"/{org.slug}/{campaign.slug}", data={"comment": "x" * 2_200_000})
    assert huge.status_code == 413
    assert "<html" in huge.get_data(as_text=True)
    assert stored(db.session) == 0


def test_too_many_submissions_from_one_address_are_throttled(client, app):
    from chorus.extensions import db

    org = make_org()
    campaign = make_campaign(org, require_confirmation=False)
    token = csrf_token(client.get(f"/{org.slug}/{campaign.slug}").get_data(as_text=True))
    statuses = [
        client.post(
            f"/{org.slug}/{campaign.slug}", data={"csrf_token": token, **supporter(f"p{n}@example.org")}
        ).status_code
        for n in range(62)
    ]
    assert statuses[:60] == [303] * 60
    assert statuses[60:] == [429, 429]
    assert stored(db.session) == 60


def test_a_field_that_fails_says_one_thing_once_under_one_id(client):
    org = make_org("alpha")
    campaign = make_campaign(org)
    long_address = "a" * 250 + "@example.org"
    for email, said in (("", "This field is required."), (long_address, "Too long")):
        token = csrf_token(client.get("/alpha/my-data").get_data(as_text=True))
        for page in (
            sign(client, "alpha", campaign.slug, supporter(email)).get_data(as_text=True),
            client.post("/alpha/my-data", data={"csrf_token": token, "email": email}).get_data(as_text=True),
        ):
            assert page.count(said) == 1 and "Enter a valid" not in page
            assert page.count('id="email-error"') == 1 and 'aria-describedby="email-error"' in page
