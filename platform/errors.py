"""Every error is a page (or JSON for JSON routes) with its 4xx status: never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from chorus.i18n import gettext as _

#: Seconds a visitor is asked to wait when the database or Redis does not answer.
RETRY_AFTER = 5


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.path.startswith("/api/")


def render_error(status: int, title: str, detail: str):
    if _wants_json():
        return jsonify({"error": title, "status": status}), status
    org = getattr(g, "org", None)
    name = f"@{org.slug}/error.html" if org is not None else "error.html"
    return render_template(name, status=status, title=title, detail=detail, org=org), status


def _http_error(error: HTTPException):
    if error.code == 404:
        return render_error(404, _("Page not found"), _("We could not find that page."))
    if error.code == 400:
        return render_error(400, _("Bad request"), error.description or "")
    if error.code == 413:
        return render_error(413, _("Request too large."), error.description or "")
    return render_error(error.code or 400, error.name, error.description or "")


def _unexpected(error: Exception):
    # Logged with its traceback by Flask; the visitor sees a plain page.
    return render_error(500, _("Something went wrong"), InternalServerError.description)


def _unavailable(error: Exception):
    """The database or Redis does not answer (restarting, failing over): a 503 with Retry-After,
    never a 500. Nothing was half-written: the request's transaction is rolled back."""
    from chorus.extensions import db

    current_app.logger.warning("service unavailable: %s", error)
    title, detail = _("Temporarily unavailable"), _("Please try again in a few seconds.")
    try:
        db.session.rollback()
        g.org = None  # the plain page: a member's branding may need the database
        response = make_response(render_error(503, title, detail))
    except Exception:  # noqa: BLE001 - the page itself needed what is down: plain text then
        response = make_response(f"{title} {detail}", 503, {"Content-Type": "text/plain; charset=utf-8"})
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)
    for unavailable in (OperationalError, RedisConnectionError, RedisTimeoutError):
        app.register_error_handler(unavailable, _unavailable)
