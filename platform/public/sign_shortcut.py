"""Signing a petition without Flask's per-request machinery: a WSGI layer in front of the app answers
the hot case of `POST /<org>/<campaign>` (issue 11: a crowd signing must cost no more than a bare
Flask + WTForms + SQLAlchemy endpoint).

The hot case is a plain first-time form: a live petition (no public comments to hold), a urlencoded
body of the action form's text fields and its token, one value each, no query string, on the shared
host or a member's own host. This layer checks it with the action form's own rules
(`forms.plain_action_valid`, `forms.token_valid`), counts the same rate limit, calls the same service
(`signing.sign`, which commits the action and the mail it owes before answering) and answers the
view's 303 with its headers. It reads the member and the campaign from this process's copies
(chorus.services.campaigns, at most LOOKUP_TTL old), never the session.

Everything else goes on to the Flask view (`views.campaign`, the one definition of the rules and of
every error page) with the body as it came: a GET, a letter or a statement, a box ticked, an error
to show, a token that does not check, a paused campaign, an unknown member or campaign, a database
or Redis that does not answer before anything was written.
"""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qsl

from flask import Flask, g
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_accept_header, parse_cookie
from werkzeug.utils import redirect

from chorus import tenancy
from chorus.extensions import db
from chorus.guards import forbidden_field
from chorus.i18n import VARY, language_of
from chorus.public import forms
from chorus.public.views import PUBLIC_MAX_BODY, sign_allowed
from chorus.security import page_headers
from chorus.services import campaigns, signing
from chorus.services.slugs import RESERVED

_SLUG = r"[a-z0-9][a-z0-9-]{0,79}"
SHARED_PATH = re.compile(rf"^/({_SLUG})/({_SLUG})$")
SITE_PATH = re.compile(rf"^/({_SLUG})$")
#: The fields a plain action form sends; anything else (a ticked box, a letter, a sign-on) goes to the view.
FIELDS = frozenset({*forms.ACTION_RULES, "country", "csrf_token"})


class SignShortcut:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.headers = [*page_headers(embedded=False).items(), ("Vary", ", ".join(VARY))]

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and not environ.get("QUERY_STRING"):
            body = self._plain_body(environ)
            if body is not None:
                response = self._sign(environ, body)
                if response is not None:
                    return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _plain_body(self, environ) -> bytes | None:
        """The urlencoded body of a small POST to a campaign's address, read whole; else None."""
        path = environ.get("PATH_INFO", "")
        match = SHARED_PATH.match(path) or SITE_PATH.match(path)
        if match is None or not RESERVED.isdisjoint(match.groups()):
            return None  # not a campaign's address (/admin/..., /confirm/...): no member or campaign has that name
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None  # chunked or missing: the view decides
        if not 0 < length <= PUBLIC_MAX_BODY:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # for the view, if this layer passes
        return body if len(body) == length else None

    def _sign(self, environ, body: bytes):
        values = _plain_values(body)
        if values is None:
            return None
        with self.app.app_context():
            try:
                location = self._sign_plain(environ, values)
            except (SQLAlchemyError, RedisError):
                db.session.rollback()
                self.app.logger.warning("sign shortcut: %s goes to the view", environ.get("PATH_INFO"), exc_info=True)
                return None  # nothing was written: the view tries again (and answers 503 if it fails too)
        if location is None:
            return None
        response = redirect(environ.get("SCRIPT_NAME", "") + location, 303)
        for name, value in self.headers:
            response.headers[name] = value
        return response

    def _sign_plain(self, environ, values: dict[str, str]) -> str | None:
        """Sign and return the thanks page's path, or None (nothing written) for the view to answer."""
        found = self._campaign(environ)
        if found is None:
            return None
        org, campaign, location = found
        if not (campaign.kind == "petition" and campaign.accepting_actions):
            return None
        if campaign.public_comments and (values.get("comment") or "").strip():
            return None  # a comment a moderator must see first
        if not forms.token_valid(values.get("csrf_token"), campaign.slug):
            return None
        if not forms.plain_action_valid(values, campaign.needs_location):
            return None
        g.lang = language_of(
            parse_cookie(environ).get("lang"),
            parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept),
        )
        if not sign_allowed(environ.get("REMOTE_ADDR")):
            return None  # the view shows the page with the message (429)
        with tenancy.acting_for(org):
            signing.sign(campaign, org, forms.supporter_from(values, campaign.needs_location, g.lang))
        return location

    @staticmethod
    def _campaign(environ):
        """(member, campaign, thanks path) for this request's URL and Host, as the view resolves them."""
        path = environ.get("PATH_INFO", "")
        try:
            site = tenancy.site_of_host(tenancy.normalize_host(environ.get("HTTP_HOST") or environ["SERVER_NAME"]))
        except NotFound:
            return None
        if site is not None:
            match = SITE_PATH.match(path)
            if match is None:
                return None  # /<org>/<campaign> on a member's own host: the view redirects
            org_slug, slug = site, match.group(1)
            location = f"/{slug}/thanks"
        else:
            match = SHARED_PATH.match(path)
            if match is None:
                return None
            org_slug, slug = match.groups()
            location = f"/{org_slug}/{slug}/thanks"
        found = campaigns.hosted_copy(org_slug, slug)
        return None if found is None else (*found, location)


def _plain_values(body: bytes) -> dict[str, str] | None:
    """The form's fields, one value each, all of them known and UTF-8; else None."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    values = dict(pairs)
    if len(values) != len(pairs) or not values.keys() <= FIELDS:
        return None
    if any(forbidden_field(name, value) for name, value in pairs):
        return None  # the guard answers 400
    return values
