"""Request-level guards: input that no view can ever use is refused before any view sees it.

A NUL or another control character in a query argument or form value is never typed by a person;
passed on, it breaks PostgreSQL (NUL), response headers (CR/LF) or a template. One check here answers
400 with a clear message, so each view does not need to remember it. `safe_next` is the one place that
decides where a "next=" parameter may send someone.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, abort, request

from chorus.i18n import gettext as _

#: Form values may hold tabs and line breaks (text areas); nothing else below U+0020, nor DEL.
_FORM_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Query arguments, names and anything that may end up in a header are one line.
_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


def _refuse_control_characters() -> None:
    if _LINE_FORBIDDEN.search(request.path):
        abort(404)  # no page has such a name
    bad = any(_LINE_FORBIDDEN.search(k) or _LINE_FORBIDDEN.search(v) for k, v in request.args.items(multi=True))
    if not bad and request.routing_exception is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # Cache the raw body first: the public forms re-read it to find bytes that are not UTF-8.
        if request.mimetype == "application/x-www-form-urlencoded":
            request.get_data(cache=True)
        bad = any(forbidden_field(k, v) for k, v in request.form.items(multi=True)) or any(
            _LINE_FORBIDDEN.search(k) for k in request.files
        )
    if bad:
        abort(400, _("The request contains control characters (such as NUL), which no field accepts."))


def forbidden_field(name: str, value: str) -> bool:
    """A form field no view may see (answered 400 before any view runs)."""
    return bool(_LINE_FORBIDDEN.search(name) or _FORM_FORBIDDEN.search(value))


def safe_next(target: str | None, default: str, prefix: str = "/") -> str:
    """`target` if it is a path on this site below `prefix`, else `default`: never another host, a
    scheme, a backslash trick or a line break that would split the Location header."""
    target = target or ""
    parts = urlsplit(target)
    if (
        not target.startswith(prefix)
        or target.startswith("//")
        or parts.scheme
        or parts.netloc
        or "\\" in target
        or _LINE_FORBIDDEN.search(target)
    ):
        return default
    return target


def init_app(app: Flask) -> None:
    app.before_request(_refuse_control_characters)
