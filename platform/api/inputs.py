"""Reading API request bodies: JSON objects only, unknown fields ignored (as OSDI asks), each bad
field named in a 4xx answer."""

from __future__ import annotations

from flask import request

from chorus.api import ApiError
from chorus.public.forms import COUNTRY_CODES, WEBSITE, forbidden_text
from chorus.services.signing import Supporter, validated_email
from chorus.services.statements import OrgSignature, normalize_name


def body() -> dict:
    """The request's JSON object: 415 for another media type, 400 for broken JSON or not an object."""
    if request.mimetype not in ("application/json", "application/hal+json"):
        raise ApiError(415, "Send JSON (Content-Type: application/json).")
    try:
        data = request.get_json(silent=True)  # silent covers broken JSON (ValueError) only
    except RecursionError:  # nested deeper than the decoder goes: no field of ours is that deep
        data = None
    if data is None:
        raise ApiError(400, "The body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def text(
    data: dict, name: str, max_length: int, required: bool = False, multiline: bool = False, label: str = ""
) -> str | None:
    """A string field: None when absent (and not required); 422 when of the wrong type or unsafe."""
    value = data.get(name)
    name = label or name
    if value is None:
        if required:
            raise ApiError(422, f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise ApiError(422, f"{name} must be a string.")
    if required and not value.strip():
        raise ApiError(422, f"{name} is required.")
    if forbidden_text(value, multiline):
        raise ApiError(422, f"{name} contains characters that are not allowed.")
    if len(value) > max_length:
        raise ApiError(422, f"{name} is too long: at most {max_length} characters.")
    return value.strip()


def _first(data: dict, name: str) -> dict:
    items = data.get(name) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError(422, f"person.{name} must be a list of objects.")
    primary = [i for i in items if i.get("primary")]
    return (primary or items or [{}])[0]


def email(value: str | None, label: str = "person.email_addresses") -> str:
    """The rule of the forms (chorus.services.signing.validated_email): an address every mail server takes."""
    address = validated_email((value or "").strip())
    if address is None:
        raise ApiError(422, f"{label} needs a valid address.")
    return address


def _language(data: dict) -> str:
    """The first of `languages_spoken` that Chorus writes in (English otherwise)."""
    languages = data.get("languages_spoken") or ["en"]
    return languages[0] if isinstance(languages, list) and languages and languages[0] in ("en", "es") else "en"


def supporter(data: dict, **extra: str) -> Supporter:
    """The `person` object of the helpers (record signature, outreach, person signup)."""
    person = data.get("person")
    if not isinstance(person, dict):
        raise ApiError(422, "person is required (an object with email_addresses).")
    label = "person.email_addresses address"
    address = email(text(_first(person, "email_addresses"), "address", 254, required=True, label=label))
    postal = _first(person, "postal_addresses")
    country = (text(postal, "country", 2, label="person.postal_addresses country") or "US").upper()
    if country not in COUNTRY_CODES:
        raise ApiError(422, "person.postal_addresses country must be an ISO 3166-1 alpha-2 code.")
    language = _language(person)
    return Supporter(
        first_name=text(person, "given_name", 100, label="person.given_name") or "",
        last_name=text(person, "family_name", 100, label="person.family_name") or "",
        email=address,
        postal_code=text(postal, "postal_code", 20, label="person.postal_addresses postal_code") or "",
        country=country,
        language=language,
        **extra,
    )


def sign_on(data: dict) -> OrgSignature:
    """The record-sign-on helper's body: the shape a sign-on is served in (organization_name,
    website, country, comments, contact.name, contact.email)."""
    contact = data.get("contact")
    if not isinstance(contact, dict):
        raise ApiError(422, "contact is required (an object with name and email).")
    website = text(data, "website", 300) or ""
    if website and not WEBSITE.fullmatch(website):
        raise ApiError(422, "website must be the full address, starting with https://")
    country = (text(data, "country", 2) or "US").upper()
    if country not in COUNTRY_CODES:
        raise ApiError(422, "country must be an ISO 3166-1 alpha-2 code.")
    language = _language(data)
    name = text(data, "organization_name", 200, required=True)
    if not normalize_name(name):
        raise ApiError(422, "organization_name needs at least one letter or digit.")
    return OrgSignature(
        organization_name=name,
        contact_name=text(contact, "name", 200, required=True, label="contact.name"),
        email=email(text(contact, "email", 254, required=True, label="contact.email"), "contact.email"),
        website=website,
        country=country,
        message=text(data, "comments", 1000, multiline=True) or "",
        language=language,
    )


def tags(data: dict) -> list[str]:
    names = data.get("add_tags") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(422, "add_tags must be a list of tag names.")
    return [text({"tag": n}, "tag", 200, required=True, label="add_tags") for n in names][:50]


def _whole(name: str, default: str) -> int:
    """A paging number in plain ASCII digits: int() alone would also take "1_0", " 10", "+10" or "١٠"."""
    raw = request.args.get(name, default)
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError(400, "page and per_page must be whole numbers.")
    # A longer number is just as far past the end, and page * per_page then fits 64-bit offsets.
    return int(raw) if len(raw) <= 16 else 10**16


def page_args() -> tuple[int, int, str | None]:
    """page, per_page (at most 25, as Action Network) and the cursor of `_links.next`. A page past the
    end is an empty page, as Action Network answers, however far past it is."""
    page, per_page = _whole("page", "1"), _whole("per_page", "25")
    if page < 1 or per_page < 1:
        raise ApiError(400, "page and per_page must be at least 1.")
    cursor = request.args.get("cursor")
    if cursor is not None and not (cursor.isascii() and cursor.replace("-", "").isalnum()):
        raise ApiError(400, "cursor is not valid; follow _links.next.")
    return page, min(per_page, 25), cursor
