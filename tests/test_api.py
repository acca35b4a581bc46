"""The Action Network-compatible API: shapes as Action Network writes them, members' keys kept
apart, consent honoured, errors as JSON with the right status, paging that holds across pages."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from chorus.cli import cli
from chorus.extensions import db
from chorus.models import Action, ApiAudit, Campaign
from chorus.services import apikeys, tally
from tests.factories import (
    add_actions,
    login,
    make_campaign,
    make_org,
    make_statement,
    make_user,
    org_sign_on,
    session_csrf,
    sign,
    supporter,
)

# Shapes of Action Network v2 responses (keys and JSON types), as its documentation shows them.
AN_PETITION = {
    "identifiers": ["action_network:d6bdf50e-c3a4-4981-a948-3d8c086066d7"],
    "origin_system": "Action Network",
    "created_date": "2014-03-24T18:03:45Z",
    "modified_date": "2014-03-25T15:00:22Z",
    "title": "Stop doing the bad thing",
    "description": "<p>Example description</p>",
    "petition_text": "Example text",
    "browser_url": "https://actionnetwork.org/petitions/example",
    "total_signatures": 2354,
    "target": [],
    "action_network:hidden": False,
    "_links": {
        "self": {"href": "https://actionnetwork.org/api/v2/petitions/d6bdf50e"},
        "osdi:signatures": {"href": "https://actionnetwork.org/api/v2/petitions/d6bdf50e/signatures"},
        "osdi:record_signature_helper": {"href": "https://actionnetwork.org/api/v2/petitions/d6bdf50e/signatures"},
    },
}
AN_SIGNATURE = {
    "identifiers": ["action_network:71f8feef-61c8-4e6b-9745-ec1d7752f298"],
    "created_date": "2014-03-26T18:04:00Z",
    "modified_date": "2014-03-26T18:04:00Z",
    "comments": "Example comment",
    "action_network:person_id": "c945d6fe-929e-11e3-a2e9-12313d316c29",
    "action_network:petition_id": "d6bdf50e-c3a4-4981-a948-3d8c086066d7",
    "_links": {
        "self": {"href": "https://actionnetwork.org/api/v2/petitions/d6bdf50e/signatures/71f8feef"},
        "osdi:petition": {"href": "https://actionnetwork.org/api/v2/petitions/d6bdf50e"},
        "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/c945d6fe"},
    },
}
AN_PERSON = {
    "identifiers": ["action_network:c945d6fe-929e-11e3-a2e9-12313d316c29"],
    "created_date": "2014-03-20T21:04:31Z",
    "modified_date": "2014-03-20T21:04:31Z",
    "family_name": "Smith",
    "given_name": "John",
    "languages_spoken": ["en"],
    "email_addresses": [{"primary": True, "address": "jsmith@mail.com", "status": "subscribed"}],
    "postal_addresses": [{"primary": True, "postal_code": "20009", "country": "US"}],
    "custom_fields": {},
    "_links": {
        "self": {"href": "https://actionnetwork.org/api/v2/people/c945d6fe"},
        "osdi:taggings": {"href": "https://actionnetwork.org/api/v2/people/c945d6fe/taggings"},
    },
}
AN_COLLECTION = {
    "total_pages": 10,
    "per_page": 25,
    "page": 1,
    "total_records": 243,
    "_links": {"next": {"href": "https://actionnetwork.org/api/v2/people?page=2"}, "self": {"href": "x"}},
    "_embedded": {},
}
AN_TAG = {
    "identifiers": ["action_network:71f8feef-61c8-4e6b-9745-ec1d7752f298"],
    "created_date": "2014-03-25T17:11:33Z",
    "modified_date": "2014-03-25T17:13:33Z",
    "name": "Volunteers",
    "_links": {"self": {"href": "x"}, "osdi:taggings": {"href": "x"}},
}
AN_TAGGING = {
    "identifiers": ["action_network:82e909f9-1ac7-4952-bbd4-b4690a14bec2"],
    "created_date": "2014-03-18T22:25:31Z",
    "modified_date": "2014-03-18T22:25:31Z",
    "item_type": "osdi:person",
    "_links": {"self": {"href": "x"}, "osdi:tag": {"href": "x"}, "osdi:person": {"href": "x"}},
}
AN_OUTREACH = {
    "identifiers": ["action_network:1efc3644-af25-4253-90b8-a0baf12dbd1e"],
    "created_date": "2014-03-26T18:04:00Z",
    "modified_date": "2014-03-26T18:04:00Z",
    "type": "email",
    "subject": "Example subject",
    "message": "Example message",
    "targets": [{"title": "Senator", "given_name": "Jane", "family_name": "Doe", "organization": "Senate"}],
    "action_network:person_id": "c945d6fe-929e-11e3-a2e9-12313d316c29",
    "action_network:advocacy_campaign_id": "44fd8776-2a71-4b8f-b1e2-7e1c4a4b0b6a",
    "_links": {"self": {"href": "x"}, "osdi:advocacy_campaign": {"href": "x"}, "osdi:person": {"href": "x"}},
}

# Chorus's own resource, in the same envelope and with the same conventions.
SIGN_ON = {
    "identifiers": ["action_network:x"],
    "created_date": "2026-11-30T03:00:00Z",
    "modified_date": "2026-11-30T03:00:00Z",
    "organization_name": "Acme Workers",
    "website": "https://acme.example",
    "country": "MX",
    "status": "approved",
    "comments": "",
    "chorus:site": "alpha",
    "action_network:petition_id": "x",
    "_links": {"self": {"href": "x"}, "osdi:petition": {"href": "x"}},
}


def assert_shape(ours, theirs, where="$"):
    """Every key Action Network sends is there, with the same JSON type (recursively)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        for name, value in theirs.items():
            assert name in ours, f"{where}.{name} missing"
            assert_shape(ours[name], value, f"{where}.{name}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        if theirs and ours:
            assert_shape(ours[0], theirs[0], f"{where}[0]")
    elif isinstance(theirs, bool):
        assert isinstance(ours, bool), where
    elif isinstance(theirs, int):
        assert isinstance(ours, int) and not isinstance(ours, bool), where
    else:
        assert isinstance(ours, type(theirs)), f"{where}: {ours!r}"


class Api:
    def __init__(self, client, token: str):
        self.client, self.headers = client, {"OSDI-API-Token": token}

    def get(self, path: str, status: int = 200):
        response = self.client.get(self._url(path), headers=self.headers)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def send(self, method: str, path: str, body, status: int = 200, **kwargs):
        response = self.client.open(self._url(path), method=method, json=body, headers=self.headers, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    @staticmethod
    def _url(path: str) -> str:
        return path if path.startswith("http") else f"/api/v2/{path}"


def api_for(client, org) -> Api:
    return Api(client, apikeys.create(org)[1])


def person(email: str, **fields) -> dict:
    return {
        "person": {
            "given_name": fields.get("given", "Rosa"),
            "family_name": "Parks",
            "email_addresses": [{"address": email}],
            "postal_addresses": [{"postal_code": "35203", "country": "US"}],
        },
        **{k: v for k, v in fields.items() if k != "given"},
    }


def test_entry_point_and_every_error_is_json_with_its_status(client):
    org = make_org("alpha")
    api = api_for(client, org)
    entry = api.get("")
    assert entry["_links"]["osdi:petitions"]["href"].endswith("/api/v2/petitions")
    assert "osdi:person_signup_helper" in entry["_links"]
    missing = client.get("/api/v2/petitions")
    assert missing.status_code == 401 and "OSDI-API-Token" in missing.get_json()["error"]
    assert client.get("/api/v2/", headers={"OSDI-API-Token": "chorus_nope"}).status_code == 401
    assert api.get("petitions/no-such-id", status=404)["error"]
    assert api.send("POST", "petitions", None, status=415, data="title=x", content_type="text/plain")["error"]
    assert api.send("POST", "petitions", None, status=400, data="{not json", content_type="application/json")
    assert "title" in api.send("POST", "petitions", {"description": "no title"}, status=422)["error"]
    assert api.get("people?filter=given_name eq 'x'", status=400)["error"]
    assert api.get("people?page=zero", status=400)["error"]


def test_revoked_key_is_refused_and_keys_are_stored_hashed(client):
    org = make_org("alpha")
    key, token = apikeys.create(org, "crm")
    assert token.startswith(key.prefix) and key.key_hash != token and token not in key.key_hash
    assert apikeys.revoke(org, key.uuid)
    assert client.get("/api/v2/", headers={"OSDI-API-Token": token}).status_code == 401


def test_petition_create_get_update_match_action_network_shapes(client):
    org = make_org("alpha")
    api = api_for(client, org)
    created = api.send("POST", "petitions", {"title": "Clean water now", "petition_text": "We ask…", "x-extra": 1})
    assert_shape(created, AN_PETITION)
    assert created["identifiers"][0].startswith("action_network:") and created["identifiers"][1].startswith("chorus:")
    uuid = created["identifiers"][0].split(":", 1)[1]
    assert api.get(f"petitions/action_network:{uuid}")["title"] == "Clean water now"
    updated = api.send("PUT", f"petitions/{uuid}", {"title": "Clean water for all"})
    assert updated["title"] == "Clean water for all" and updated["petition_text"] == "We ask…"
    listed = api.get("petitions")
    assert_shape(listed, AN_COLLECTION | {"_links": {"self": {"href": "x"}}})
    assert [p["title"] for p in listed["_embedded"]["osdi:petitions"]] == ["Clean water for all"]
    assert client.get("/" + created["browser_url"].split("/", 3)[3]).status_code == 200


def test_record_signature_helper_counts_at_once_attributed_to_the_key_and_audited(client):
    org = make_org("alpha")
    campaign = make_campaign(org)
    api = api_for(client, org)
    signature = api.send(
        "POST",
        f"petitions/{campaign.uuid}/signatures",
        person("rosa@example.org", add_tags=["volunteer"], comments="Yes", unknown_field=True),
    )
    assert_shape(signature, AN_SIGNATURE)
    assert_shape(signature["_embedded"]["osdi:person"], AN_PERSON)
    assert signature["chorus:source"] == "api" and signature["chorus:status"] == "confirmed"
    assert tally.read(campaign.id).by_org == {"alpha": 1}
    action = db.session.scalar(select(Action).execution_options(all_orgs=True))
    assert action.source == "api" and action.api_key_id is not None and action.org_id == org.id
    audit = db.session.scalars(select(ApiAudit)).all()
    assert [(a.method, a.status) for a in audit] == [("POST", 200)] and action.uuid in audit[0].detail
    again = api.send("POST", f"petitions/{campaign.uuid}/signatures", person("ROSA@example.org"))
    assert again["identifiers"] == signature["identifiers"] and tally.read(campaign.id).total == 1
    listed = api.get(f"petitions/{campaign.uuid}/signatures")
    assert_shape(listed["_embedded"]["osdi:signatures"][0], AN_SIGNATURE)
    person_id = signature["action_network:person_id"]
    taggings = api.get(f"people/{person_id}/taggings")["_embedded"]["osdi:taggings"]
    assert len(taggings) == 1
    assert_shape(taggings[0], AN_TAGGING)
    tag = api.get(taggings[0]["_links"]["osdi:tag"]["href"])
    assert_shape(tag, AN_TAG)
    assert tag["name"] == "volunteer"


def test_owner_can_keep_api_recorded_actions_out_of_the_shared_tally(client):
    org = make_org("alpha")
    campaign = make_campaign(org, require_confirmation=False)
    sign(client, "alpha", campaign.slug, supporter("web@example.org"))
    api = api_for(client, org)
    api.send("POST", f"petitions/{campaign.uuid}/signatures", person("api@example.org"))
    assert tally.read(campaign.id).total == 2
    api.send("PUT", f"petitions/{campaign.uuid}", {"chorus:count_api_actions": False})
    assert tally.read(campaign.id).total == 1
    api.send("POST", f"petitions/{campaign.uuid}/signatures", person("api2@example.org"))
    tally.catch_up()  # the ticker leaves it out too
    assert tally.read(campaign.id).total == 1
    assert tally.rebuild(campaign.id, force=True).total == 1
    make_user("admin@alpha.example", "org-admin", org)
    login(client, "admin@alpha.example")
    page = client.get(f"/admin/alpha/campaigns/{campaign.slug}").get_data(as_text=True)
    assert '<dd id="figure-api">2 <span class="hint">(not in the tally)</span>' in page  # shown apart
    token = session_csrf(client, f"/admin/alpha/campaigns/{campaign.slug}")
    client.post(f"/admin/alpha/campaigns/{campaign.slug}/api-actions", data={"csrf_token": token, "count": "1"})
    assert tally.read(campaign.id).total == 3


def test_person_signup_helper_upserts_by_email_and_the_filter_finds_it(client):
    org = make_org("alpha")
    api = api_for(client, org)
    first = api.send("POST", "people", person("maria@example.org", given="Maria", add_tags=["donor"]))
    assert_shape(first, AN_PERSON)
    second = api.send("POST", "people", person("Maria@Example.org", given="María"))
    assert second["identifiers"] == first["identifiers"] and second["given_name"] == "María"
    found = api.get("people?filter=email_address eq 'maria@example.org'")
    assert found["total_records"] == 1
    assert found["_embedded"]["osdi:people"][0]["given_name"] == "María"
    assert api.get("people?filter=email_address eq 'nobody@example.org'")["total_records"] == 0
    assert api.get(f"people/{first['identifiers'][1]}")["email_addresses"][0]["address"] == "Maria@example.org"
    assert "person" in api.send("POST", "people", {"person": {"email_addresses": []}}, status=422)["error"]


def test_keys_of_two_members_see_only_their_own_supporters_and_shared_counts(client):
    alpha, beta = make_org("alpha"), make_org("beta")
    shared = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    own = make_campaign(alpha, require_confirmation=False)
    sign(client, "alpha", shared.slug, supporter("only-alpha@example.org"))
    sign(client, "beta", shared.slug, supporter("only-beta@example.org"))
    sign(client, "beta", shared.slug, supporter("both@example.org", share_with="alpha"))
    a, b = api_for(client, alpha), api_for(client, beta)

    def emails(api):
        people = api.get("people")["_embedded"]["osdi:people"]
        return sorted(p["email_addresses"][0]["address"] for p in people)

    assert emails(a) == ["both@example.org", "only-alpha@example.org"]
    assert emails(b) == ["both@example.org", "only-beta@example.org"]
    petition_b = b.get(f"petitions/{shared.uuid}")
    assert petition_b["total_signatures"] == 3  # counts cross members
    assert b.get(f"petitions/{shared.uuid}/signatures")["total_records"] == 2
    b.get(f"petitions/{own.uuid}", status=404)
    b.send("PUT", f"petitions/{shared.uuid}", {"title": "Mine now"}, status=403)
    alpha_only = a.get(f"petitions/{shared.uuid}/signatures")["_embedded"]["osdi:signatures"]
    hidden = [s for s in alpha_only if s["chorus:site"] == "alpha"][0]
    b.get(f"petitions/{shared.uuid}/signatures/{hidden['identifiers'][0]}", status=404)
    b.get(f"people/{hidden['action_network:person_id']}", status=404)
    b.send("POST", "tags", {"name": "beta-only"})
    assert [t["name"] for t in a.get("tags")["_embedded"]["osdi:tags"]] == []


def test_helper_for_a_person_who_acted_through_another_member_reveals_nothing_personal(client):
    alpha, beta = make_org("alpha"), make_org("beta")
    shared = make_campaign(alpha, hosts=[beta], require_confirmation=False)
    sign(client, "alpha", shared.slug, supporter("private@example.org"))
    b = api_for(client, beta)
    answer = b.send("POST", f"petitions/{shared.uuid}/signatures", person("private@example.org"), status=409)
    assert "private" not in answer["error"] and tally.read(shared.id).total == 1


def test_closed_campaign_refuses_actions_and_rate_limit_says_when_to_retry(client, app):
    org = make_org("alpha")
    closed = make_campaign(org, status="closed")
    api = api_for(client, org)
    api.send("POST", f"petitions/{closed.uuid}/signatures", person("late@example.org"), status=409)
    app.config["CHORUS_API_RATE_LIMIT"] = 3
    for _ in range(2):
        api.get("")
    response = client.get("/api/v2/", headers=api.headers)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "slow down" in response.get_json()["error"]


def test_pages_and_cursors_walk_every_signature_once_and_deep_pages_jump_straight(client):
    org = make_org("alpha")
    campaign = make_campaign(org)
    add_actions(campaign, org, 60)
    api = api_for(client, org)
    first = api.get(f"petitions/{campaign.uuid}/signatures")
    assert (first["total_records"], first["total_pages"], first["per_page"]) == (60, 3, 25)
    seen, page = [], first
    while True:
        seen += [s["identifiers"][0] for s in page["_embedded"]["osdi:signatures"]]
        if "next" not in page["_links"]:
            break
        page = api.get(page["_links"]["next"]["href"])
    assert len(seen) == len(set(seen)) == 60
    third = api.get(f"petitions/{campaign.uuid}/signatures?page=3")
    assert [s["identifiers"][0] for s in third["_embedded"]["osdi:signatures"]] == seen[50:]
    assert api.get(f"petitions/{campaign.uuid}/signatures?page=9")["_embedded"]["osdi:signatures"] == []
    small = api.get(f"petitions/{campaign.uuid}/signatures?page=4&per_page=7")
    assert [s["identifiers"][0] for s in small["_embedded"]["osdi:signatures"]] == seen[21:28]


def test_outreach_helper_records_a_letter_with_action_network_shape(client):
    from tests.factories import make_letter_campaign

    org = make_org("alpha")
    campaign = make_letter_campaign(org)
    api = api_for(client, org)
    listed = api.get("advocacy_campaigns")["_embedded"]["osdi:advocacy_campaigns"]
    assert [c["title"] for c in listed] == [campaign.title] and listed[0]["total_outreaches"] == 0
    outreach = api.send(
        "POST", f"advocacy_campaigns/{campaign.uuid}/outreaches", person("writer@example.org", message="Act now.")
    )
    assert_shape(outreach, AN_OUTREACH)
    assert outreach["message"] == "Act now." and outreach["targets"][0]["family_name"] == "Alvarez"
    assert api.get(f"advocacy_campaigns/{campaign.uuid}")["total_outreaches"] == 1

    # As on the web form, a letter that would reach nobody is refused, not counted.
    by_location = make_letter_campaign(org, targets=[], targeting="location", slug="by-location")
    path = f"advocacy_campaigns/{by_location.uuid}/outreaches"
    nowhere = api.send("POST", path, person("far@example.org"), status=422)
    assert "No decision maker" in nowhere["error"]
    assert api.get(f"advocacy_campaigns/{by_location.uuid}")["total_outreaches"] == 0


def test_tags_and_taggings_round_trip(client):
    org = make_org("alpha")
    api = api_for(client, org)
    who = api.send("POST", "people", person("tagme@example.org"))
    tag = api.send("POST", "tags", {"name": "Volunteers"})
    assert api.send("POST", "tags", {"name": "Volunteers"})["identifiers"] == tag["identifiers"]
    tag_id = tag["identifiers"][0].split(":", 1)[1]
    tagging = api.send("POST", f"tags/{tag_id}/taggings", {"_links": {"osdi:person": who["_links"]["self"]}})
    assert_shape(tagging, AN_TAGGING)
    assert api.get(f"tags/{tag_id}/taggings")["total_records"] == 1
    nobody = {"_links": {"osdi:person": {"href": "/api/v2/people/00000000-0000-0000-0000-000000000000"}}}
    api.send("POST", f"tags/{tag_id}/taggings", nobody, status=422)
    tagging_id = tagging["identifiers"][0].split(":", 1)[1]
    assert "notice" in api.send("DELETE", f"tags/{tag_id}/taggings/{tagging_id}", None)
    api.get(f"tags/{tag_id}/taggings/{tagging_id}", status=404)


def test_apikey_create_prints_a_working_key_once_and_refuses_an_unknown_org(client, app_env):
    make_org("alpha")
    db.session.remove()
    result = CliRunner().invoke(cli, ["apikey", "create", "alpha"], env=app_env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert client.get("/api/v2/", headers={"OSDI-API-Token": token}).get_json()["chorus:organization"] == "alpha"
    bad = CliRunner().invoke(cli, ["apikey", "create", "nope"], env=app_env)
    assert bad.exit_code == 1 and "no organization 'nope'" in bad.stderr


@pytest.mark.parametrize("kind", ["petition", "letter"])
def test_drafts_of_other_members_stay_invisible(client, kind):
    alpha, beta = make_org("alpha"), make_org("beta")
    draft = make_campaign(alpha, hosts=[beta], status="draft", kind=kind)
    path = "petitions" if kind == "petition" else "advocacy_campaigns"
    assert api_for(client, beta).get(path)["total_records"] == 0
    assert api_for(client, alpha).get(path)["total_records"] == 1
    assert db.session.get(Campaign, draft.id).status == "draft"


def test_schemathesis_finds_no_server_error_and_no_schema_violation_on_postgresql(app, backend):
    """Generated requests (bounded) against the live app on a real HTTP server over PostgreSQL."""
    if backend.name != "postgresql":
        pytest.skip("run against PostgreSQL")
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
    from werkzeug.serving import make_server

    org = make_org("alpha")
    campaign = make_campaign(org)
    add_actions(campaign, org, 30)
    statement = make_statement(org)  # the sign-on routes are a statement's
    token = apikeys.create(org)[1]
    app.config["CHORUS_RATE_LIMITS"] = False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/api/v2/openapi.json", timeout=30) as served:
            schema = schemathesis.openapi.from_dict(json.load(served))
        checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
        operations = [result.ok() for result in schema.get_all_operations()]
        routes = {
            (method, rule.rule.replace("<", "{").replace(">", "}"))
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("api.")
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }
        assert {(op.method.upper(), op.path) for op in operations} == routes  # every route is described
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                if "campaign_id" in (case.path_parameters or {}):
                    chosen = statement if "/sign_ons" in case.path else campaign
                    case.path_parameters["campaign_id"] = chosen.uuid
                case.call_and_validate(base_url=base, headers={"OSDI-API-Token": token}, checks=checks)

            check()
    finally:
        server.shutdown()


def test_pyactionnetwork_client_works_by_changing_only_the_base_url(app, live_server):  # noqa: F811
    """The published pyactionnetwork client, its base URL pointed at Chorus (it hard-codes Action Network's)."""
    import requests
    from pyactionnetwork import ActionNetworkApi

    class ChorusApi(ActionNetworkApi):
        base = f"{live_server}/api/v2/"

        def __init__(self, api_key):
            super().__init__(api_key)
            self.base_url = self.base

        def refresh_config(self):
            self.config = requests.get(self.base, headers=self.headers, timeout=30).json()

    org = make_org("alpha")
    client = ChorusApi(apikeys.create(org)[1])
    created = client.create_person(
        email="lucia@example.org", given_name="Lucía", postal_code="94110", country="US", tags=["volunteer"]
    )
    assert created["given_name"] == "Lucía" and created["identifiers"][0].startswith("action_network:")
    found = client.get_person(search_string="lucia@example.org")
    assert [p["identifiers"] for p in found["_embedded"]["osdi:people"]] == [created["identifiers"]]
    person_id = created["identifiers"][0].split(":", 1)[1]
    assert client.get_person(person_id=person_id)["email_addresses"][0]["address"] == "lucia@example.org"
    assert client.get_resource("tags")["_embedded"]["osdi:tags"][0]["name"] == "volunteer"


def sign_on_body(name: str = "Acme Workers", email: str = "contact@acme.example", **fields) -> dict:
    return {
        "organization_name": name,
        "website": "https://acme.example",
        "country": "MX",
        "comments": "With you.",
        "contact": {"name": "Rosa Díaz", "email": email},
        **fields,
    }


def approve_sign_ons(*names: str) -> None:
    from chorus.models import SignOn
    from chorus.services import moderation

    moderator = make_user(f"mod-{len(names)}-{names[0][:3].lower()}@coalition.example", "moderator")
    ids = db.session.scalars(select(SignOn.id).where(SignOn.organization_name.in_(names))).all()
    moderation.decide(moderator, "sign_on", list(ids), "approve")


def test_statement_links_to_its_sign_ons_and_the_helper_records_one_that_waits_for_moderation(client):
    alpha = make_org("alpha")
    statement = make_statement(alpha, slug="together")
    api = api_for(client, alpha)
    petition = api.get(f"petitions/{statement.uuid}")
    assert petition["chorus:kind"] == "statement" and petition["chorus:total_sign_ons"] == 0
    listed = api.get(petition["_links"]["chorus:sign_ons"]["href"])
    assert_shape(listed, AN_COLLECTION | {"_links": {"self": {"href": "x"}}})
    assert listed["total_records"] == 0 and listed["_embedded"] == {"chorus:sign_ons": []}

    helper = petition["_links"]["chorus:record_sign_on_helper"]["href"]
    recorded = api.send("POST", helper, sign_on_body(unknown_field=1))
    assert_shape(recorded, SIGN_ON)
    assert recorded["status"] == "pending" and recorded["contact"] == {
        "name": "Rosa Díaz",
        "email": "contact@acme.example",
    }
    assert recorded["chorus:version"] == 1 and recorded["_links"]["chorus:version"]["href"].endswith(
        "/alpha/together/versions/1"
    )
    assert api.send("POST", helper, sign_on_body())["identifiers"] == recorded["identifiers"]  # a repeat
    assert db.session.scalar(select(ApiAudit.detail).order_by(ApiAudit.id)).startswith(f"statement {statement.uuid}")
    assert "Acme Workers" not in client.get("/alpha/together").get_data(as_text=True)  # not before moderation

    approve_sign_ons("Acme Workers")
    one = api.get(recorded["_links"]["self"]["href"])
    assert one["status"] == "approved" and one["comments"] == "With you."
    assert api.get(f"petitions/{statement.uuid}")["chorus:total_sign_ons"] == 1
    assert "Acme Workers" in client.get("/alpha/together").get_data(as_text=True)

    for body, field in (
        ({"contact": {"name": "X", "email": "x@example.org"}}, "organization_name"),
        (sign_on_body(contact={"name": "X", "email": "not an address"}), "contact.email"),
        (sign_on_body(website="acme.example"), "website"),
        (sign_on_body(country="XX"), "country"),
        (sign_on_body(contact="Rosa"), "contact"),
    ):
        assert field in api.send("POST", helper, body, status=422)["error"]
    petition_only = make_campaign(alpha)
    api.get(f"petitions/{petition_only.uuid}/sign_ons", status=404)
    api.send("POST", f"petitions/{petition_only.uuid}/sign_ons", sign_on_body(), status=404)


def test_sign_ons_page_like_signatures(client):
    alpha = make_org("alpha")
    statement = make_statement(alpha)
    api = api_for(client, alpha)
    names = [f"Union {n:02d}" for n in range(30)]
    for n, name in enumerate(names):
        api.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body(name, f"c{n}@example.org"))
    approve_sign_ons(*names[:10])
    first = api.get(f"petitions/{statement.uuid}/sign_ons")
    assert (first["total_records"], first["total_pages"], first["per_page"]) == (30, 2, 25)
    second = api.get(first["_links"]["next"]["href"])
    both = first["_embedded"]["chorus:sign_ons"] + second["_embedded"]["chorus:sign_ons"]
    seen = [s["organization_name"] for s in both]
    assert seen == names and "next" not in second["_links"]
    small = api.get(f"petitions/{statement.uuid}/sign_ons?page=3&per_page=7")
    assert [s["organization_name"] for s in small["_embedded"]["chorus:sign_ons"]] == names[14:21]


def test_keys_of_two_members_see_every_approved_sign_on_but_only_their_own_sites_contacts_and_pending(client):
    from chorus.models import SignOn
    from chorus.services import moderation

    alpha, beta = make_org("alpha"), make_org("beta")
    statement = make_statement(alpha, [beta], slug="together")
    a, b = api_for(client, alpha), api_for(client, beta)
    sign(client, "alpha", "together", org_sign_on("Site Signers", "web@site.example"))  # unconfirmed, via the page
    a.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body("Alpha Friends", "a@friends.example"))
    b.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body("Beta Friends", "b@friends.example"))
    b.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body("Beta Pending", "p@friends.example"))
    b.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body("Beta Hidden", "h@friends.example"))
    approve_sign_ons("Alpha Friends", "Beta Friends")
    moderator = make_user("hider@coalition.example", "moderator")
    hidden = db.session.scalar(select(SignOn.id).where(SignOn.organization_name == "Beta Hidden"))
    moderation.decide(moderator, "sign_on", [hidden], "hide")

    def listed(api):
        found = api.get(f"petitions/{statement.uuid}/sign_ons")["_embedded"]["chorus:sign_ons"]
        return {s["organization_name"]: (s["status"], s.get("contact", {}).get("email")) for s in found}

    assert listed(a) == {
        "Site Signers": ("pending-confirmation", "web@site.example"),
        "Alpha Friends": ("approved", "a@friends.example"),
        "Beta Friends": ("approved", None),  # beta's contact: never alpha's to see
    }
    assert listed(b) == {
        "Alpha Friends": ("approved", None),
        "Beta Friends": ("approved", "b@friends.example"),
        "Beta Pending": ("pending", "p@friends.example"),
        "Beta Hidden": ("pending", "h@friends.example"),  # "hide without telling" stays a moderator's secret
    }
    pending = db.session.scalar(select(SignOn.uuid).where(SignOn.organization_name == "Beta Pending"))
    a.get(f"petitions/{statement.uuid}/sign_ons/{pending}", status=404)
    assert b.get(f"petitions/{statement.uuid}/sign_ons/action_network:{pending}")["organization_name"] == "Beta Pending"
    # The same contact and name again through another member's key: nothing about them is revealed.
    again = sign_on_body("Alpha Friends", "a@friends.example")
    answer = b.send("POST", f"petitions/{statement.uuid}/sign_ons", again, status=409)
    assert "friends.example" not in answer["error"]


def test_a_petitions_modified_date_follows_its_changes_and_an_approved_statement_version(client):
    from datetime import UTC, datetime

    from sqlalchemy import update

    from chorus.services import moderation, statements

    alpha = make_org("alpha")
    api = api_for(client, alpha)
    created = api.send("POST", "petitions", {"title": "Clean water now"})
    assert created["modified_date"] == created["created_date"]
    statement = make_statement(alpha)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.execute(update(Campaign).values(updated_at=long_ago))  # as if both were last changed in 2020
    db.session.commit()
    uuid = created["identifiers"][0].split(":", 1)[1]
    assert api.get(f"petitions/{uuid}")["modified_date"] == "2020-01-01T00:00:00Z"
    assert api.send("PUT", f"petitions/{uuid}", {"title": "Clean water for all"})["modified_date"] > "2020-01-01"

    assert api.get(f"petitions/{statement.uuid}")["modified_date"] == "2020-01-01T00:00:00Z"
    author = make_user("writer@alpha.example", "org-admin", alpha)
    version = statements.propose(statement, author, statements.Draft("We stand together", "New words.", ""))
    assert api.get(f"petitions/{statement.uuid}")["modified_date"] == "2020-01-01T00:00:00Z"  # still waiting
    moderation.decide(make_user("mod@coalition.example", "moderator"), "version", [version.id], "approve")
    changed = api.get(f"petitions/{statement.uuid}")
    assert changed["modified_date"] > "2020-01-01" and changed["petition_text"] == "New words."


def test_put_on_a_statement_proposes_its_new_text_to_the_moderators_and_keeps_the_published_one(client):
    from chorus.models import StatementVersion
    from chorus.services import moderation, statements

    alpha = make_org("alpha")
    author = make_user("writer@alpha.example", "org-admin", alpha)
    translated = statements.Draft(
        "We stand together", "Families belong together.", "Sign on.", {"es": {"title": "Juntos", "body": "Familias."}}
    )
    statement = statements.create(alpha, author, "together", translated, [], "alphabetical")
    moderation.decide(
        make_user("mod@coalition.example", "moderator"), "version", [statements.versions(statement)[0].id], "approve"
    )
    api = api_for(client, alpha)

    proposed = api.send(
        "PUT", f"petitions/{statement.uuid}", {"petition_text": "Families stay together.", "chorus:goal": 500}, 202
    )
    assert proposed["petition_text"] == "Families belong together." and proposed["chorus:pending_version"] == 2
    assert proposed["chorus:goal"] == 500  # not part of the text: changed at once
    assert "Families stay together." not in client.get("/alpha/together").get_data(as_text=True)
    version = db.session.scalar(select(StatementVersion).where(StatementVersion.number == 2))
    assert (version.status, version.title, version.body, version.author_id) == (
        "pending",
        "We stand together",
        "Families stay together.",
        None,
    )
    assert version.translations == {"es": {"title": "Juntos"}}  # the Spanish of the replaced text is dropped

    again = api.send("PUT", f"petitions/{statement.uuid}", {"title": "Other words", "chorus:goal": 900}, 409)
    assert "waiting for moderation" in again["error"]
    assert api.get(f"petitions/{statement.uuid}")["chorus:goal"] == 500  # refused whole

    moderation.decide(make_user("other@coalition.example", "moderator"), "version", [version.id], "approve")
    published = api.get(f"petitions/{statement.uuid}")
    assert published["petition_text"] == "Families stay together." and published["chorus:pending_version"] is None
    assert "Families stay together." in client.get("/alpha/together").get_data(as_text=True)


def test_routing_errors_on_api_paths_answer_the_apis_json_and_a_405_says_what_is_allowed(client):
    api = api_for(client, make_org("alpha"))
    refused = client.delete("/api/v2/people", headers=api.headers)
    assert refused.status_code == 405 and refused.get_json() == {"error": "This method is not allowed here."}
    assert {"GET", "POST"} <= {m.strip() for m in refused.headers["Allow"].split(",")}
    assert refused.mimetype == "application/hal+json"
    unknown = client.get("/api/v2/no-such-collection/x", headers=api.headers)
    assert unknown.status_code == 404 and unknown.get_json() == {"error": "Not found."}
    assert "Allow" in client.delete("/").headers  # the site's own pages keep it too


def test_api_body_over_the_apis_limit_gets_the_apis_json_413(client):
    api = api_for(client, make_org("alpha"))
    huge = json.dumps({"name": "x" * (2 * 1024 * 1024)})
    response = client.post("/api/v2/tags", data=huge, content_type="application/json", headers=api.headers)
    assert response.status_code == 413 and response.get_json() == {"error": "The request body is too large."}


def test_a_page_past_the_end_is_empty_and_paging_numbers_are_plain_digits(client):
    org = make_org("alpha")
    campaign = make_campaign(org)
    add_actions(campaign, org, 3)
    api = api_for(client, org)
    for page in ("99999999", "1" + "0" * 40):
        far = api.get(f"petitions/{campaign.uuid}/signatures?page={page}")
        assert far["_embedded"]["osdi:signatures"] == [] and far["total_records"] == 3
    assert api.get("people?page=99999999")["_embedded"]["osdi:people"] == []
    for bad in ("page=1_0", "page=+2", "page=%202", "per_page=1_0", "page=%D9%A1"):
        assert api.get(f"tags?{bad}", status=400)["error"] == "page and per_page must be whole numbers."
    assert api.get("tags?page=0", status=400)["error"] == "page and per_page must be at least 1."


def test_links_carry_the_filter_url_encoded_so_following_them_finds_the_same_people(client):
    api = api_for(client, make_org("alpha"))
    api.send("POST", "people", person("rosa+news@example.org"))
    found = api.get("people?filter=" + urllib.parse.quote("email_address eq 'rosa+news@example.org'"))
    assert found["total_records"] == 1
    link = found["_links"]["self"]["href"]
    assert "filter=email_address%20eq%20%27rosa%2Bnews%40example.org%27" in link
    assert api.get(link)["_embedded"]["osdi:people"] == found["_embedded"]["osdi:people"]


def test_walking_people_by_page_after_others_joined_sees_everyone_once_with_a_fresh_total(client):
    api = api_for(client, make_org("alpha"))

    def walk() -> tuple[list[str], int]:
        seen, page = [], 1
        while True:
            found = api.get(f"people?page={page}&per_page=7")
            seen += [p["identifiers"][0] for p in found["_embedded"]["osdi:people"]]
            if page >= found["total_pages"]:
                return seen, found["total_records"]
            page += 1

    for n in range(20):
        api.send("POST", "people", person(f"early{n}@example.org"))
    first, total = walk()
    assert len(set(first)) == len(first) == total == 20
    for n in range(20):  # person ids are hashes of the address: these land between the first ones
        api.send("POST", "people", person(f"late{n}@example.org"))
    second, total = walk()
    assert total == 40 and len(second) == len(set(second)) == 40 and set(first) < set(second)


def test_concurrent_signups_of_one_new_address_all_answer_the_same_person(app, live_server, backend):
    """Real concurrent requests on PostgreSQL (SQLite takes one writer at a time)."""
    if backend.name != "postgresql":
        pytest.skip("run against PostgreSQL")
    from concurrent.futures import ThreadPoolExecutor

    from chorus.models import Contact

    app.config["CHORUS_RATE_LIMITS"] = False
    token = apikeys.create(make_org("alpha"))[1]
    for round_ in range(5):
        body = json.dumps(person(f"rush{round_}@example.org")).encode()
        start = threading.Barrier(8)

        def signup(_n, body=body, start=start):
            request = urllib.request.Request(
                f"{live_server}/api/v2/people",
                data=body,
                method="POST",
                headers={"OSDI-API-Token": token, "Content-Type": "application/json"},
            )
            start.wait()
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.load(answer)["identifiers"][0]
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(signup, range(8)))
        assert {status for status, _id in answers} == {200}, answers
        assert len({person_id for _status, person_id in answers}) == 1
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Contact).execution_options(all_orgs=True)) == 5


def test_filter_modified_date_narrows_every_collection_and_any_other_filter_is_refused(client):
    from datetime import UTC, datetime, timedelta

    alpha = make_org("alpha")
    campaign = make_campaign(alpha)
    add_actions(campaign, alpha, 4, start=datetime(2026, 1, 1, tzinfo=UTC), every=timedelta(days=1))
    statement = make_statement(alpha)
    api = api_for(client, alpha)
    api.send("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body())
    api.send("POST", "tags", {"name": "Volunteers"})

    def listed(path: str, key: str, filter_: str) -> list[str]:
        found = api.get(f"{path}?filter={urllib.parse.quote(filter_)}&per_page=2")
        rows = found["_embedded"][key]
        while "next" in found["_links"]:
            found = api.get(found["_links"]["next"]["href"])
            rows += found["_embedded"][key]
        return [r["modified_date"] for r in rows]

    signatures = f"petitions/{campaign.uuid}/signatures"
    assert listed(signatures, "osdi:signatures", "modified_date gt '2026-01-02'") == [
        "2026-01-03T00:00:00Z",
        "2026-01-04T00:00:00Z",
        "2026-01-05T00:00:00Z",
    ]
    between = "modified_date gt '2026-01-02T12:00:00+00:00' and modified_date lt '2026-01-05'"
    assert listed(signatures, "osdi:signatures", between) == ["2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"]
    future, unsupported, not_a_date = "modified_date gt '2999-01-01'", "title eq 'x'", "modified_date gt 'soon'"
    for path, key in (
        (signatures, "osdi:signatures"),
        ("petitions", "osdi:petitions"),
        (f"petitions/{statement.uuid}/sign_ons", "chorus:sign_ons"),
        ("tags", "osdi:tags"),
    ):
        assert listed(path, key, future) == []
        assert listed(path, key, "modified_date gt '2000-01-01'") != []
        refused = api.get(f"{path}?filter={urllib.parse.quote(unsupported)}", status=400)
        assert "filter is not supported here" in refused["error"]
    assert api.get(f"{signatures}?filter={urllib.parse.quote(not_a_date)}", status=400)


LONE_SURROGATE = "Ana \ud800"  # what JSON's "\ud800" decodes to: no encoding can store or send it


def _writes(api: Api, org) -> dict[str, tuple[str, str, dict]]:
    """One API write per kind of text field, carrying LONE_SURROGATE in that field."""
    campaign, statement = make_campaign(org, title="Unchanged"), make_statement(org)
    tag = api.send("POST", "tags", {"name": "Volunteers"})["identifiers"][0].split(":", 1)[1]
    signatures = f"petitions/{campaign.uuid}/signatures"
    return {
        "tag name": ("POST", "tags", {"name": LONE_SURROGATE}),
        "person given_name": ("POST", "people", person("ana@example.org", given=LONE_SURROGATE)),
        "person tags": ("POST", "people", person("ana@example.org", add_tags=[LONE_SURROGATE])),
        "signature comments": ("POST", signatures, person("ana@example.org", comments=LONE_SURROGATE)),
        "petition title": ("PUT", f"petitions/{campaign.uuid}", {"title": LONE_SURROGATE}),
        "petition text": ("POST", "petitions", {"title": "Water", "petition_text": LONE_SURROGATE}),
        "sign-on comments": ("POST", f"petitions/{statement.uuid}/sign_ons", sign_on_body(comments=LONE_SURROGATE)),
        "tagging person": ("POST", f"tags/{tag}/taggings", {"_links": {"osdi:person": {"href": LONE_SURROGATE}}}),
    }


@pytest.mark.parametrize(
    "field",
    [
        "tag name",
        "person given_name",
        "person tags",
        "signature comments",
        "petition title",
        "petition text",
        "sign-on comments",
        "tagging person",
    ],
)
def test_a_lone_surrogate_in_any_json_text_field_is_a_422_and_nothing_is_stored(client, field):
    from chorus.models import Contact, SignOn, Tag, Tagging

    org = make_org("alpha")
    api = api_for(client, org)
    method, path, body = _writes(api, org)[field]
    tables = (Action, Campaign, Contact, SignOn, Tag, Tagging)

    def rows():
        return [db.session.scalar(select(func.count()).select_from(t).execution_options(all_orgs=True)) for t in tables]

    before = rows()
    assert "characters that are not allowed" in api.send(method, path, body, status=422)["error"]
    db.session.expire_all()
    assert rows() == before
    assert db.session.scalar(select(Campaign.title).where(Campaign.title == "Unchanged")) == "Unchanged"


def test_json_nested_deeper_than_the_decoder_goes_is_a_400_on_every_write(client):
    org = make_org("alpha")
    api = api_for(client, org)
    nested = "[" * 100_000 + "]" * 100_000
    for method, path, _body in _writes(api, org).values():
        answer = api.send(method, path, None, status=400, data=nested, content_type="application/json")
        assert answer == {"error": "The body is not valid JSON."}


def test_people_a_member_added_through_the_api_are_exported_and_erased_with_its_tags_on_them(client, app_env):
    alpha = make_org("alpha")
    api = api_for(client, alpha)
    added = api.send("POST", "people", person("pat@example.org", given="Pat", add_tags=["volunteer"]))
    tag_id = api.get("tags")["_embedded"]["osdi:tags"][0]["identifiers"][0].split(":", 1)[1]
    db.session.remove()
    runner = CliRunner()

    exported = runner.invoke(cli, ["supporters", "export", "pat@example.org"], env=app_env)
    assert exported.exit_code == 0, exported.output
    held = json.loads(exported.output)
    assert [(p["member"], p["given_name"], p["postal_code"]) for p in held["added_by_members"]] == [
        ("alpha", "Pat", "35203")
    ]
    assert [(t["member"], t["tag"]) for t in held["tags"]] == [("alpha", "volunteer")]

    erased = runner.invoke(cli, ["supporters", "erase", "pat@example.org"], env=app_env)
    assert erased.exit_code == 0, erased.output
    api.get(f"people/{added['identifiers'][1]}", status=404)
    assert api.get(f"tags/{tag_id}/taggings")["total_records"] == 0  # the person's id is the address's
    api.send("POST", "people", person("pat@example.org", given="Pat"))
    assert api.get(f"tags/{tag_id}/taggings")["total_records"] == 0  # and nothing returns with it


def test_the_record_helpers_person_says_unsubscribed_as_the_people_list_does(client):
    alpha = make_org("alpha")
    campaign = make_campaign(alpha)
    api = api_for(client, alpha)
    path = f"petitions/{campaign.uuid}/signatures"
    assert api.send("POST", path, person("wendy@example.org"))["_embedded"]["osdi:person"]["email_addresses"][0][
        "status"
    ] == "subscribed"
    from chorus.models import Suppression

    db.session.add(Suppression(email_normalized="wendy@example.org", org_id=alpha.id))
    db.session.commit()
    again = api.send("POST", path, person("wendy@example.org"))["_embedded"]["osdi:person"]
    listed = api.get("people?filter=email_address eq 'wendy@example.org'")["_embedded"]["osdi:people"][0]
    assert again["email_addresses"][0]["status"] == listed["email_addresses"][0]["status"] == "unsubscribed"
