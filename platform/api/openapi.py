"""The OpenAPI 3.0 description of /api/v2/, served at /api/v2/openapi.json (built, not hand-kept
in a file, so its schemas and the routes it lists cannot drift apart silently: a test compares
them with the app's url map)."""

from __future__ import annotations

from chorus.models.statements import SIGN_ON_STATUSES

STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
LINK = {"type": "object", "properties": {"href": STRING}, "required": ["href"]}
LINKS = {"type": "object", "additionalProperties": True}
IDENTIFIERS = {"type": "array", "items": {"type": "string", "pattern": "^(action_network|chorus):"}}
DATES = {"created_date": STRING, "modified_date": STRING}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _resource(properties: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {"identifiers": IDENTIFIERS, **DATES, **properties, "_links": LINKS},
        "required": ["identifiers", "created_date", "modified_date", "_links", *required],
    }


PERSON_INPUT = {
    "type": "object",
    "properties": {
        "given_name": STRING,
        "family_name": STRING,
        "languages_spoken": {"type": "array", "items": STRING},
        "email_addresses": {
            "type": "array",
            "items": {"type": "object", "properties": {"address": STRING, "primary": {"type": "boolean"}}},
        },
        "postal_addresses": {
            "type": "array",
            "items": {"type": "object", "properties": {"postal_code": STRING, "country": STRING}},
        },
    },
    "required": ["email_addresses"],
}
HELPER_INPUT = {
    "type": "object",
    "properties": {
        "person": PERSON_INPUT,
        "add_tags": {"type": "array", "items": STRING},
        "comments": STRING,
        "subject": STRING,
        "message": STRING,
    },
    "required": ["person"],
}
SCHEMAS = {
    "Error": {"type": "object", "properties": {"error": STRING}, "required": ["error"]},
    "EntryPoint": {
        "type": "object",
        "properties": {"motd": STRING, "max_page_size": {"type": "integer"}, "_links": LINKS},
        "required": ["_links"],
    },
    "Petition": _resource(
        {
            "title": STRING,
            "description": STRING,
            "petition_text": STRING,
            "total_signatures": {"type": "integer"},
            "browser_url": STRING,
            "featured_image_url": NULLABLE_STRING,
            "action_network:hidden": {"type": "boolean"},
            "chorus:kind": {"type": "string", "enum": ["petition", "statement"]},
            "chorus:goal": {"type": "integer", "nullable": True},
            "chorus:total_sign_ons": {"type": "integer", "minimum": 0},
            "chorus:pending_version": {
                "type": "integer",
                "nullable": True,
                "description": "A statement's new text waiting for the moderators (its version number).",
            },
        },
        ["title", "total_signatures"],
    ),
    "AdvocacyCampaign": _resource(
        {
            "title": STRING,
            "description": STRING,
            "type": STRING,
            "targets": {"type": "array", "items": {"type": "object"}},
            "total_outreaches": {"type": "integer"},
            "browser_url": STRING,
            "featured_image_url": NULLABLE_STRING,
        },
        ["title", "total_outreaches"],
    ),
    "Signature": _resource(
        {"comments": STRING, "action_network:person_id": STRING, "action_network:petition_id": STRING},
        ["action_network:person_id"],
    ),
    "Outreach": _resource(
        {
            "type": STRING,
            "subject": STRING,
            "message": STRING,
            "targets": {"type": "array", "items": {"type": "object"}},
        },
        ["action_network:person_id"],
    ),
    "Person": _resource(
        {
            "given_name": STRING,
            "family_name": STRING,
            "languages_spoken": {"type": "array", "items": STRING},
            "email_addresses": {"type": "array", "items": {"type": "object"}},
            "postal_addresses": {"type": "array", "items": {"type": "object"}},
            "custom_fields": {"type": "object"},
        },
        ["email_addresses"],
    ),
    "SignOn": _resource(
        {
            "organization_name": STRING,
            "website": STRING,
            "country": STRING,
            "status": {"type": "string", "enum": [s for s in SIGN_ON_STATUSES if s != "hidden"]},
            "comments": STRING,
            "chorus:version": {"type": "integer", "nullable": True},
            "chorus:member": NULLABLE_STRING,
            "chorus:site": STRING,
            "action_network:petition_id": STRING,
            "contact": {
                "type": "object",
                "description": "Only for the member whose site the sign-on came through.",
                "properties": {"name": STRING, "email": STRING},
                "required": ["name", "email"],
            },
        },
        ["organization_name", "status"],
    ),
    "Tag": _resource({"name": STRING}, ["name"]),
    "Tagging": _resource({"item_type": STRING}, ["item_type"]),
    "PetitionInput": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 500},
            "petition_text": {"type": "string", "maxLength": 20000},
            "chorus:goal": {"type": "integer", "minimum": 1},
            "chorus:count_api_actions": {"type": "boolean"},
        },
    },
    "HelperInput": HELPER_INPUT,
    "PersonSignupInput": {
        "type": "object",
        "properties": {"person": PERSON_INPUT, "add_tags": {"type": "array", "items": STRING}},
        "required": ["person"],
    },
    "SignOnInput": {
        "type": "object",
        "properties": {
            "organization_name": {"type": "string", "maxLength": 200},
            "website": {"type": "string", "maxLength": 300},
            "country": {"type": "string", "minLength": 2, "maxLength": 2},
            "comments": {"type": "string", "maxLength": 1000},
            "languages_spoken": {"type": "array", "items": STRING},
            "contact": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 200}, "email": STRING},
                "required": ["name", "email"],
            },
        },
        "required": ["organization_name", "contact"],
    },
    "TagInput": {"type": "object", "properties": {"name": STRING}, "required": ["name"]},
    "TaggingInput": {
        "type": "object",
        "properties": {"_links": {"type": "object", "properties": {"osdi:person": LINK}}},
        "required": ["_links"],
    },
    "Notice": {"type": "object", "properties": {"notice": STRING}, "required": ["notice"]},
}


def _collection(item: str, key: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "total_pages": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 25},
            "page": {"type": "integer", "minimum": 1},
            "total_records": {"type": "integer", "minimum": 0},
            "_links": LINKS,
            "_embedded": {
                "type": "object",
                "properties": {key: {"type": "array", "items": _ref(item)}},
                "required": [key],
            },
        },
        "required": ["total_pages", "per_page", "page", "total_records", "_links", "_embedded"],
    }


def _json(schema: dict) -> dict:
    return {"application/hal+json": {"schema": schema}, "application/json": {"schema": schema}}


def _errors(*codes: int) -> dict:
    messages = {
        400: "Bad request (malformed JSON, bad paging or filter)",
        401: "No valid OSDI-API-Token",
        403: "Not allowed for this key's organization",
        404: "Not found (or not visible to this key's organization)",
        409: "Conflict (campaign not taking actions, the person acted through another member, a statement's "
        "text already waiting for moderation, or the same write by another request)",
        415: "Not JSON",
        422: "A field is missing or invalid",
        429: "Rate limit: see Retry-After",
    }
    return {str(c): {"description": messages[c], "content": _json(_ref("Error"))} for c in (401, 429, *codes)}


def _op(summary: str, schema: dict, *codes: int, body: str | None = None, params: list | None = None) -> dict:
    op = {
        "summary": summary,
        "security": [{"token": []}],
        "responses": {"200": {"description": "OK", "content": _json(schema)}, **_errors(*codes)},
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        op["responses"].update(_errors(400, 415, 422))
    return op


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 25}},
    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"}},
]


DATE_FILTER = {
    "name": "filter",
    "in": "query",
    "description": "Action Network's modified_date filter: modified_date gt '2026-01-31' (or lt; clauses "
    "joined by and). Any other filter is a 400.",
    "schema": {"type": "string"},
}


def _list(summary: str, item: str, key: str, filter_param: dict = DATE_FILTER, codes=(400,)) -> dict:
    return _op(summary, _collection(item, key), *codes, params=[*PAGING, filter_param])


def _actions(parent: str, item: str, list_summary: str, one_summary: str) -> dict:
    """A campaign's actions (signatures, outreaches): the list, the record helper and one action."""
    many = {"Signature": "signatures", "Outreach": "outreaches"}[item]
    base = f"/api/v2/{parent}/{{campaign_id}}/{many}"
    cid, aid = _path_param("campaign_id"), _path_param("action_id")
    return {
        base: {
            "parameters": [cid],
            "get": _list(list_summary, item, f"osdi:{many}", codes=(400, 404)),
            "post": _op(f"Record-{item.lower()} helper", _ref(item), 404, 409, body="HelperInput"),
        },
        f"{base}/{{action_id}}": {"parameters": [cid, aid], "get": _op(one_summary, _ref(item), 404)},
    }


def _statement_aware_put() -> dict:
    """PUT on a petition: 200 with the change made; on a statement, new wording is proposed to the
    moderators instead (202, the document still shows the approved text)."""
    op = _op("Change a petition (its owner only)", _ref("Petition"), 403, 404, 409, body="PetitionInput")
    op["responses"]["202"] = {
        "description": "A statement's new title, description or text waits for the coalition's moderators",
        "content": _json(_ref("Petition")),
    }
    return op


def paths() -> dict:
    cid, pid, tid, tgid, sid = (
        _path_param(n) for n in ("campaign_id", "person_id", "tag_id", "tagging_id", "sign_on_id")
    )
    email_filter = {
        "name": "filter",
        "in": "query",
        "description": "email_address eq 'someone@example.org' (the only filter on people)",
        "schema": {"type": "string"},
    }
    return {
        "/api/v2/": {"get": _op("Entry point", _ref("EntryPoint"))},
        "/api/v2/openapi.json": {
            "get": {
                "summary": "This document (no key needed)",
                "responses": {"200": {"description": "OpenAPI 3.0", "content": _json({"type": "object"})}},
            }
        },
        "/api/v2/petitions": {
            "get": _list("Petitions (and statements) the key's member hosts", "Petition", "osdi:petitions"),
            "post": _op("Create a petition", _ref("Petition"), body="PetitionInput"),
        },
        "/api/v2/petitions/{campaign_id}": {
            "parameters": [cid],
            "get": _op("One petition", _ref("Petition"), 404),
            "put": _statement_aware_put(),
        },
        **_actions("petitions", "Signature", "Signatures this member may see", "One signature"),
        "/api/v2/petitions/{campaign_id}/sign_ons": {
            "parameters": [cid],
            "get": _list(
                "Organizations' sign-ons on a statement (Chorus's own): approved ones, and all made through "
                "the key's member's site, with their contact",
                "SignOn",
                "chorus:sign_ons",
                codes=(400, 404),
            ),
            "post": _op(
                "Record-sign-on helper: the sign-on waits for the coalition's moderators",
                _ref("SignOn"),
                404,
                409,
                body="SignOnInput",
            ),
        },
        "/api/v2/petitions/{campaign_id}/sign_ons/{sign_on_id}": {
            "parameters": [cid, sid],
            "get": _op("One sign-on", _ref("SignOn"), 404),
        },
        "/api/v2/advocacy_campaigns": {
            "get": _list("Letter campaigns the key's member hosts", "AdvocacyCampaign", "osdi:advocacy_campaigns"),
        },
        "/api/v2/advocacy_campaigns/{campaign_id}": {
            "parameters": [cid],
            "get": _op("One letter campaign", _ref("AdvocacyCampaign"), 404),
        },
        **_actions("advocacy_campaigns", "Outreach", "Letters this member may see", "One letter"),
        "/api/v2/people": {
            "get": _list("People this member may see", "Person", "osdi:people", email_filter),
            "post": _op("Person-signup helper (upserts by e-mail)", _ref("Person"), 409, body="PersonSignupInput"),
        },
        "/api/v2/people/{person_id}": {"parameters": [pid], "get": _op("One person", _ref("Person"), 404)},
        "/api/v2/people/{person_id}/taggings": {
            "parameters": [pid],
            "get": _list("A person's taggings", "Tagging", "osdi:taggings", codes=(400, 404)),
        },
        "/api/v2/tags": {
            "get": _list("The member's tags", "Tag", "osdi:tags"),
            "post": _op("Create a tag (or get the one with this name)", _ref("Tag"), body="TagInput"),
        },
        "/api/v2/tags/{tag_id}": {"parameters": [tid], "get": _op("One tag", _ref("Tag"), 404)},
        "/api/v2/tags/{tag_id}/taggings": {
            "parameters": [tid],
            "get": _list("A tag's taggings", "Tagging", "osdi:taggings", codes=(400, 404)),
            "post": _op("Tag a person", _ref("Tagging"), 404, body="TaggingInput"),
        },
        "/api/v2/tags/{tag_id}/taggings/{tagging_id}": {
            "parameters": [tid, tgid],
            "get": _op("One tagging", _ref("Tagging"), 404),
            "delete": _op("Remove a tagging", _ref("Notice"), 404),
        },
    }


def document(base_url: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Chorus API (Action Network v2 compatible)",
            "version": "2",
            "description": "HAL+JSON, OSDI. Keys belong to one member organization and see its campaigns and "
            "the supporters it may see. Identifiers: action_network:<uuid> and chorus:<uuid>.",
        },
        "servers": [{"url": base_url}],
        "components": {
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "OSDI-API-Token"}},
            "schemas": SCHEMAS,
        },
        "paths": paths(),
    }
