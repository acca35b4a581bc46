"""Every error is a page (or JSON for JSON routes) with its 4xx status: never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from chorus.extensions import UNAVAILABLE, db
from chorus.i18n import gettext as _

#: Seconds a visitor is asked to wait when the database or Redis does not answer.
RETRY_AFTER = 5


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.path.startswith("/api/")


def render_error(status: int, title: str, detail: str, headers: list[tuple[str, str]] | None = None):
    if _wants_json():
        return jsonify({"error": title, "status": status}), status, headers or []
    org = getattr(g, "org", None)
    name = f"@{org.slug}/error.html" if org is not None else "error.html"
    return render_template(name, status=status, title=title, detail=detail, org=org), status, headers or []


def error_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The headers an HTTP error carries (`Allow` on a 405), but its own plain-text Content-Type."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def _http_error(error: HTTPException):
    from chorus.api import error_response, is_api_path

    if is_api_path(request.path):  # routing errors never reach the API blueprint's own handler
        return error_response(error)
    headers, code = error_headers(error), error.code or 400
    title, detail = _words(code) or (error.name, "")
    if isinstance(error, CSRFError):  # Flask-WTF's reasons are English and technical
        detail = _("The form had expired or came from another page. Go back, reload the page and send it again.")
    elif error.description != type(error).description:
        detail = error.description or detail  # our own reason, already in the page's language
    return render_error(code, title, detail, headers)


def _words(code: int) -> tuple[str, str] | None:
    """The page's language for the errors Werkzeug describes in English only."""
    return {
        400: (_("Bad request"), _("The request could not be understood. Go back, reload the page and try again.")),
        403: (_("Not allowed"), _("Your account may not open this page.")),
        404: (_("Page not found"), _("We could not find that page.")),
        405: (_("Not allowed here"), _("This page does not take that kind of request.")),
        413: (_("Request too large."), _("What was sent is larger than this site accepts.")),
        429: (_("Too many requests"), _("Please wait a minute and try again.")),
    }.get(code)


def _unexpected(error: Exception):
    """Logged with its traceback by Flask; the visitor sees a plain page, which may need the database
    (a member's branding): the failed request's transaction is rolled back first."""
    db.session.rollback()
    return render_error(500, _("Something went wrong"), InternalServerError.description)


def _unavailable(error: Exception):
    """The database or Redis does not answer (restarting, failing over): a 503 with Retry-After,
    never a 500. Nothing was half-written: the request's transaction is rolled back."""
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
    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, _unavailable)
