"""The Action Network-compatible API at /api/v2/ (OSDI, HAL+JSON), for members' own tools.

A request is authenticated by its `OSDI-API-Token` header; the key's member is then entered like a
member site is (chorus.tenancy.enter), so every supporter query is scoped by the one listener.
Errors are JSON `{"error": "..."}` with their status; nothing here ever answers 500.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from chorus import tenancy
from chorus.errors import error_headers
from chorus.extensions import csrf, db
from chorus.models import ApiAudit
from chorus.services import apikeys, osdi, ratelimit

bp = Blueprint("api", __name__, url_prefix="/api/v2")
csrf.exempt(bp)  # no cookies: the token header is the credential

OPEN_ENDPOINTS = {"api.openapi"}
HAL = "application/hal+json"
#: The largest body the API reads: a petition's 20,000-character text fits even \u-escaped. Below the
#: app's and the web server's MAX_CONTENT_LENGTH, so a bigger body gets the API's JSON 413, not the
#: server's plain-text one (only bodies past MAX_CONTENT_LENGTH still get that).
MAX_BODY = 1024 * 1024


class ApiError(HTTPException):
    """An error with its own message: `raise ApiError(422, "...")`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = status
        self.extra_headers = headers or {}


@bp.url_value_preprocessor
def _small_bodies(endpoint: str | None, values: dict | None) -> None:
    """Set as soon as the URL is matched, before anything reads the body (as the public pages do)."""
    request.max_content_length = MAX_BODY


@bp.before_request
def _authenticate():
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    token = request.headers.get("OSDI-API-Token", "").strip()
    if not token:
        raise ApiError(401, "Send your API key in the OSDI-API-Token header.")
    key = apikeys.authenticate(token)
    if key is None:
        raise ApiError(401, "This API key is not valid or was revoked.")
    limit, window = current_app.config["CHORUS_API_RATE_LIMIT"], 60
    bucket = f"api:{key.id}"
    if not ratelimit.allow(bucket, limit, window):
        raise ApiError(
            429, "Too many requests for this API key; slow down.", {"Retry-After": str(ratelimit.retry_after(bucket))}
        )
    g.api_key = key
    tenancy.enter(key.org)
    return None


@bp.after_request
def _audit_and_type(response):
    key = getattr(g, "api_key", None)
    if key is not None and request.method in ("POST", "PUT", "DELETE"):
        db.session.rollback()  # whatever the view left uncommitted is not part of the audit
        db.session.add(
            ApiAudit(
                api_key_id=key.id,
                method=request.method,
                path=request.path[:300],
                status=response.status_code,
                detail=g.get("api_audit_detail", ""),
            )
        )
        db.session.commit()
    if response.mimetype == "application/json":
        response.headers["Content-Type"] = HAL
    return response


@bp.errorhandler(HTTPException)
def error_response(error: HTTPException):
    """Every API error as `{"error": "..."}`: the blueprint's own, and routing errors on API paths
    (an unknown route, a method the route does not take), which chorus.errors hands over. The
    error's headers stay (`Allow` on a 405)."""
    message = error.description if isinstance(error, ApiError) else _MESSAGES.get(error.code or 400, error.name)
    response = jsonify({"error": message})
    response.status_code = error.code or 400
    response.headers.extend(error_headers(error))
    for name, value in getattr(error, "extra_headers", {}).items():
        response.headers[name] = value
    response.headers["Content-Type"] = HAL
    return response


@bp.errorhandler(osdi.ConflictError)
def _conflict(error: osdi.ConflictError):
    """A write that clashes with what exists (the service says which): 409."""
    return error_response(ApiError(409, str(error)))


def is_api_path(path: str) -> bool:
    return path == bp.url_prefix or path.startswith(f"{bp.url_prefix}/")


_MESSAGES = {
    400: "The request could not be understood.",
    401: "Send a valid API key in the OSDI-API-Token header.",
    403: "This API key may not do that.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send JSON (Content-Type: application/json).",
}


def init_app(app: Flask) -> None:
    from chorus.api import views  # noqa: F401 - registers the routes

    app.register_blueprint(bp)
