"""/api/v2/ routes: parse the request, call one service, answer with an OSDI document."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import select

from chorus import tenancy
from chorus.api import ApiError, bp, inputs
from chorus.api.openapi import document as openapi_document
from chorus.extensions import db
from chorus.models import Action, Campaign, SignOn, Tag, Tagging
from chorus.models.api import person_uuid_for
from chorus.services import letters, osdi, signing, statements
from chorus.services.osdi import href, seek_page

PETITION_KINDS = ("petition", "statement")
LETTER_KINDS = ("letter",)
STATEMENT_KINDS = ("statement",)


def _cache_key(*parts) -> str:
    return ":".join(["chorus:api", str(g.org.id), *map(str, parts)])


def _collection(
    path: str, key: str, cache_key: str, statement, column, render, modified=None, query=None, appends=True
):
    """One page of a collection. `modified`: the SQL of its items' modified_date, for Action Network's
    filter=modified_date gt|lt '...'. A collection that reads its own filter (people) passes the
    `query` it answered instead ({} without one): no filter is ever ignored."""
    page, per_page, cursor = inputs.page_args()
    raw = request.args.get("filter")
    if raw is not None and query is None:
        statement = osdi.modified_between(statement, modified, raw) if modified is not None else None
        if statement is None:
            raise ApiError(400, "filter is not supported here: only modified_date gt or lt '2026-01-31'.")
        query, appends = {"filter": raw}, False  # an old row joins a date filter's results when it changes
    found = seek_page(cache_key, statement, column, page, per_page, cursor, appends=appends)
    return jsonify(osdi.collection_doc(path, key, found, render(found.rows), query))


@bp.get("/")
def entry_point():
    return jsonify(
        {
            "motd": "Chorus: the Action Network-compatible API of your coalition's campaigns.",
            "max_page_size": osdi.MAX_PER_PAGE,
            "vendor_name": "Chorus",
            "product_name": "Chorus",
            "osdi_version": "1.1.1",
            "api_version": "2",
            "chorus:organization": g.org.slug,
            "_links": {
                "self": href(""),
                "osdi:people": href("people"),
                "osdi:petitions": href("petitions"),
                "osdi:advocacy_campaigns": href("advocacy_campaigns"),
                "osdi:tags": href("tags"),
                "osdi:person_signup_helper": href("people"),
                "docs": {"href": f"{osdi.base_url()}/api/v2/openapi.json"},
                "curies": osdi.CURIES,
            },
        }
    )


@bp.get("/openapi.json")
def openapi():
    response = jsonify(openapi_document(osdi.base_url()))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# Action Network answers with and without a trailing slash, and clients write both ("people/").
# --- petitions and advocacy campaigns ----------------------------------------------------------


def _campaign_or_404(kinds: tuple[str, ...], campaign_id: str) -> Campaign:
    campaign = osdi.find_campaign(g.org, kinds, campaign_id)
    if campaign is None:
        raise ApiError(404, "No such campaign for this API key's organization.")
    return campaign


def _campaigns(kinds: tuple[str, ...], path: str, key: str):
    statement = osdi.hosted_campaigns(g.org, kinds).with_only_columns(Campaign.id.label("key"), Campaign)
    return _collection(
        path,
        key,
        _cache_key(path),
        statement,
        Campaign.id,
        lambda rows: [osdi.campaign_doc(row.Campaign, g.org) for row in rows],
        osdi.CAMPAIGN_MODIFIED,
    )


@bp.get("/petitions", strict_slashes=False)
def petitions():
    return _campaigns(PETITION_KINDS, "petitions", "osdi:petitions")


@bp.get("/advocacy_campaigns", strict_slashes=False)
def advocacy_campaigns():
    return _campaigns(LETTER_KINDS, "advocacy_campaigns", "osdi:advocacy_campaigns")


@bp.get("/petitions/<campaign_id>", strict_slashes=False)
def petition(campaign_id: str):
    return jsonify(osdi.campaign_doc(_campaign_or_404(PETITION_KINDS, campaign_id), g.org))


@bp.get("/advocacy_campaigns/<campaign_id>", strict_slashes=False)
def advocacy_campaign(campaign_id: str):
    return jsonify(osdi.campaign_doc(_campaign_or_404(LETTER_KINDS, campaign_id), g.org))


def _petition_fields(data: dict, creating: bool) -> dict:
    fields = {
        "title": inputs.text(data, "title", 200, required=creating),
        "summary": inputs.text(data, "description", 500, multiline=True),
        "body": inputs.text(data, "petition_text", 20_000, multiline=True),
    }
    goal = data.get("chorus:goal")
    if goal is not None:
        if not isinstance(goal, int) or isinstance(goal, bool) or not 0 < goal < 1_000_000_000:
            raise ApiError(422, "chorus:goal must be a positive whole number.")
        fields["goal"] = goal
    counts = data.get("chorus:count_api_actions")
    if counts is not None:
        if not isinstance(counts, bool):
            raise ApiError(422, "chorus:count_api_actions must be true or false.")
        fields["count_api_actions"] = counts
    if not creating and "title" in data and not fields["title"]:
        raise ApiError(422, "title cannot be empty.")
    return {name: value for name, value in fields.items() if value is not None}


@bp.post("/petitions", strict_slashes=False)
def create_petition():
    campaign = osdi.create_petition(g.org, _petition_fields(inputs.body(), creating=True))
    g.api_audit_detail = f"petition {campaign.uuid} created"
    return jsonify(osdi.campaign_doc(campaign, g.org))


@bp.put("/petitions/<campaign_id>", strict_slashes=False)
def update_petition(campaign_id: str):
    campaign = _campaign_or_404(PETITION_KINDS, campaign_id)
    if campaign.owner_org_id != g.org.id:
        raise ApiError(403, "Only the organization that owns this campaign may change it.")
    proposed = osdi.update_campaign(campaign, _petition_fields(inputs.body(), creating=False))
    g.api_audit_detail = f"{campaign.kind} {campaign.uuid} updated"
    if proposed is None:
        return jsonify(osdi.campaign_doc(campaign, g.org))
    # A statement's new text waits for the moderators: 202, the document still shows the approved one.
    g.api_audit_detail += f", version {proposed.number} proposed"
    return jsonify(osdi.campaign_doc(campaign, g.org)), 202


# --- signatures and outreaches -----------------------------------------------------------------


def _actions(kinds: tuple[str, ...], campaign_id: str, path: str, key: str):
    campaign = _campaign_or_404(kinds, campaign_id)
    return _collection(
        f"{path}/{campaign.uuid}/{key.split(':')[1]}",
        key,
        _cache_key(path, campaign.id),
        osdi.actions_of(campaign),
        Action.id,
        lambda rows: [osdi.action_doc(row.Action) for row in rows],
        osdi.ACTION_MODIFIED,
    )


def _one_action(kinds: tuple[str, ...], campaign_id: str, action_id: str):
    action = osdi.find_action(_campaign_or_404(kinds, campaign_id), action_id)
    if action is None:
        raise ApiError(404, "No such action visible to this API key's organization.")
    return jsonify(osdi.action_doc(action))


def _record(kinds: tuple[str, ...], campaign_id: str):
    """The record-signature and record-outreach helpers: the key's member vouches for the person."""
    campaign = _campaign_or_404(kinds, campaign_id)
    data = inputs.body()
    extra: dict[str, str] = {"comment": inputs.text(data, "comments", 1000, multiline=True) or ""}
    if campaign.kind == "letter":
        extra["subject"] = inputs.text(data, "subject", 200) or campaign.letter_subject
        extra["body"] = inputs.text(data, "message", campaign.letter_max_length, multiline=True) or ""
    supporter = inputs.supporter(data, **extra)
    names = inputs.tags(data)
    if not campaign.accepting_actions:
        raise ApiError(409, f"This campaign is {campaign.status} and takes no actions now.")
    if campaign.kind == "letter" and not letters.targets_for(campaign, supporter.country, supporter.postal_code):
        # as the web form: a letter that would reach nobody is not recorded (nor counted)
        raise ApiError(422, "No decision maker of this campaign matches the person's postal_addresses.")
    outcome, action_id = signing.record_via_api(campaign, g.api_key, supporter)
    action = db.session.scalar(select(Action).where(Action.id == action_id))
    if action is None:  # this address acted through another member that it shares nothing with
        raise ApiError(409, "This person already took this action through another member's site.")
    osdi.add_tags(g.org, action.person_uuid, names)
    g.api_audit_detail = f"{campaign.kind} {campaign.uuid} action {action.uuid} {outcome.value}"
    doc = osdi.action_doc(action)
    doc["_embedded"] = {"osdi:person": osdi.person_doc(osdi.person_of_action(action))}
    return jsonify(doc)


def _action_routes(parent: str, kinds: tuple[str, ...], key: str, one: str) -> None:
    """A campaign's actions, the same three routes for signatures and outreaches: the list, one
    action, and the record helper (POST). Endpoints: `signatures`, `signature`, `record_signature`..."""
    many = key.split(":")[1]
    base = f"/{parent}/<campaign_id>/{many}"

    def listed(campaign_id: str):
        return _actions(kinds, campaign_id, parent, key)

    def single(campaign_id: str, action_id: str):
        return _one_action(kinds, campaign_id, action_id)

    def record(campaign_id: str):
        return _record(kinds, campaign_id)

    bp.add_url_rule(base, many, listed, methods=["GET"], strict_slashes=False)
    bp.add_url_rule(f"{base}/<action_id>", one, single, methods=["GET"], strict_slashes=False)
    bp.add_url_rule(base, f"record_{one}", record, methods=["POST"], strict_slashes=False)


_action_routes("petitions", PETITION_KINDS, "osdi:signatures", "signature")
_action_routes("advocacy_campaigns", LETTER_KINDS, "osdi:outreaches", "outreach")


# --- organizations' sign-ons on statements (Chorus's own extension) ----------------------------


@bp.get("/petitions/<campaign_id>/sign_ons", strict_slashes=False)
def sign_ons(campaign_id: str):
    campaign = _campaign_or_404(STATEMENT_KINDS, campaign_id)
    return _collection(
        f"petitions/{campaign.uuid}/sign_ons",
        "chorus:sign_ons",
        _cache_key("sign-ons", campaign.id),
        osdi.sign_ons_of(campaign),
        SignOn.id,
        lambda rows: [osdi.sign_on_doc(row.SignOn, g.org) for row in rows],
        osdi.SIGN_ON_MODIFIED,
    )


@bp.get("/petitions/<campaign_id>/sign_ons/<sign_on_id>", strict_slashes=False)
def sign_on(campaign_id: str, sign_on_id: str):
    found = osdi.find_sign_on(_campaign_or_404(STATEMENT_KINDS, campaign_id), sign_on_id)
    if found is None:
        raise ApiError(404, "No such sign-on visible to this API key's organization.")
    return jsonify(osdi.sign_on_doc(found, g.org))


@bp.post("/petitions/<campaign_id>/sign_ons", strict_slashes=False)
def record_sign_on(campaign_id: str):
    """The record-sign-on helper: the key's member vouches for the contact, so the sign-on skips the
    e-mail confirmation and waits for the coalition's moderators, as one confirmed on the site does."""
    campaign = _campaign_or_404(STATEMENT_KINDS, campaign_id)
    signature = inputs.sign_on(inputs.body())
    if not campaign.accepting_actions:
        raise ApiError(409, f"This statement is {campaign.status} and takes no sign-ons now.")
    found = statements.sign_on(campaign, g.org, signature, vouched=True)
    if found is None:  # the same contact, concurrently
        raise ApiError(409, "This sign-on is being recorded by another request; try again.")
    if not tenancy.sees_sign_on_contact(found):
        raise ApiError(409, "This contact already signed this organization on through another member's site.")
    g.api_audit_detail = f"statement {campaign.uuid} sign-on {found.uuid} ({found.status})"
    return jsonify(osdi.sign_on_doc(found, g.org))


# --- people ------------------------------------------------------------------------------------


def _email_filter() -> tuple[str | None, dict[str, str]]:
    raw = request.args.get("filter")
    if raw is None:
        return None, {}
    match = osdi.EMAIL_FILTER.match(raw)
    if match is None:
        raise ApiError(400, "Only filter=email_address eq 'someone@example.org' is supported.")
    address = signing.normalize_email(match.group(1))
    return person_uuid_for(address), {"filter": f"email_address eq '{match.group(1)}'"}


@bp.get("/people", strict_slashes=False)
def people():
    wanted, query = _email_filter()
    statement = osdi.people_ids()
    key_column = statement.selected_columns["key"]
    if wanted is not None:
        statement = statement.where(key_column == wanted)

    def render(rows):
        found = osdi.people([row.key for row in rows])
        return [osdi.person_doc(found[row.key]) for row in rows if row.key in found]

    return _collection(
        "people",
        "osdi:people",
        _cache_key("people", wanted or "all"),
        statement,
        key_column,
        render,
        query=query,
        appends=False,  # ordered by person uuid, a hash: new people land anywhere (osdi.seek_page)
    )


def _person_or_404(person_id: str) -> osdi.PersonRecord:
    found = osdi.person(person_id)
    if found is None:
        raise ApiError(404, "No such person visible to this API key's organization.")
    return found


@bp.get("/people/<person_id>", strict_slashes=False)
def person(person_id: str):
    return jsonify(osdi.person_doc(_person_or_404(person_id)))


@bp.post("/people", strict_slashes=False)
def person_signup():
    data = inputs.body()
    supporter = inputs.supporter(data)
    names = inputs.tags(data)
    person_uuid = osdi.upsert_contact(g.org, supporter)
    osdi.add_tags(g.org, person_uuid, names)
    g.api_audit_detail = f"person {person_uuid} signed up"
    return jsonify(osdi.person_doc(_person_or_404(person_uuid)))


@bp.get("/people/<person_id>/taggings", strict_slashes=False)
def person_taggings(person_id: str):
    found = _person_or_404(person_id)
    statement = select(Tagging.id.label("key"), Tagging).where(Tagging.person_uuid == found.person_uuid)
    return _collection(
        f"people/{found.person_uuid}/taggings",
        "osdi:taggings",
        _cache_key("person-taggings", found.person_uuid),
        statement,
        Tagging.id,
        lambda rows: [osdi.tagging_doc(row.Tagging) for row in rows],
        osdi.TAGGING_MODIFIED,
    )


# --- tags and taggings -------------------------------------------------------------------------


def _tag_or_404(tag_id: str) -> Tag:
    tag = db.session.scalar(select(Tag).where(Tag.uuid == osdi.parse_id(tag_id)))
    if tag is None:
        raise ApiError(404, "No such tag.")
    return tag


@bp.get("/tags", strict_slashes=False)
def tags():
    return _collection(
        "tags",
        "osdi:tags",
        _cache_key("tags"),
        select(Tag.id.label("key"), Tag),
        Tag.id,
        lambda rows: [osdi.tag_doc(row.Tag) for row in rows],
        osdi.TAG_MODIFIED,
    )


@bp.post("/tags", strict_slashes=False)
def create_tag():
    name = inputs.text(inputs.body(), "name", 200, required=True)
    tag = osdi.tag_named(g.org, name)
    g.api_audit_detail = f"tag {tag.uuid}"
    return jsonify(osdi.tag_doc(tag))


@bp.get("/tags/<tag_id>", strict_slashes=False)
def tag(tag_id: str):
    return jsonify(osdi.tag_doc(_tag_or_404(tag_id)))


@bp.get("/tags/<tag_id>/taggings", strict_slashes=False)
def taggings(tag_id: str):
    found = _tag_or_404(tag_id)
    return _collection(
        f"tags/{found.uuid}/taggings",
        "osdi:taggings",
        _cache_key("taggings", found.id),
        select(Tagging.id.label("key"), Tagging).where(Tagging.tag_id == found.id),
        Tagging.id,
        lambda rows: [osdi.tagging_doc(row.Tagging) for row in rows],
        osdi.TAGGING_MODIFIED,
    )


@bp.post("/tags/<tag_id>/taggings", strict_slashes=False)
def create_tagging(tag_id: str):
    found = _tag_or_404(tag_id)
    data = inputs.body()
    links = data.get("_links")
    person_link = links.get("osdi:person") if isinstance(links, dict) else None
    label = "_links.osdi:person.href"
    target = inputs.text(person_link, "href", 500, label=label) if isinstance(person_link, dict) else None
    if not target or not target.strip("/"):
        raise ApiError(422, "_links.osdi:person.href must name the person to tag.")
    who = osdi.person(target.rstrip("/").rsplit("/", 1)[-1])
    if who is None:
        raise ApiError(422, "The person to tag is not one this API key's organization may see.")
    tagging = osdi.tag_person(g.org, found, who.person_uuid)
    g.api_audit_detail = f"tagging {tagging.uuid}"
    return jsonify(osdi.tagging_doc(tagging))


def _tagging_or_404(tag_id: str, tagging_id: str) -> Tagging:
    found = _tag_or_404(tag_id)
    tagging = db.session.scalar(
        select(Tagging).where(Tagging.tag_id == found.id, Tagging.uuid == osdi.parse_id(tagging_id))
    )
    if tagging is None:
        raise ApiError(404, "No such tagging.")
    return tagging


@bp.get("/tags/<tag_id>/taggings/<tagging_id>", strict_slashes=False)
def tagging(tag_id: str, tagging_id: str):
    return jsonify(osdi.tagging_doc(_tagging_or_404(tag_id, tagging_id)))


@bp.delete("/tags/<tag_id>/taggings/<tagging_id>", strict_slashes=False)
def delete_tagging(tag_id: str, tagging_id: str):
    found = _tagging_or_404(tag_id, tagging_id)
    g.api_audit_detail = f"tagging {found.uuid} deleted"
    osdi.untag(found)
    return jsonify({"notice": "This tagging was successfully deleted."})
