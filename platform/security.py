"""Response headers that every page gets; embeds are the one thing other sites may frame."""

from __future__ import annotations

from flask import Flask, request

#: Pages a member's own website may show in an iframe: the embed, and the pages its form leads to.
EMBED_FLOW = {"public.campaign", "public.thanks"}


def page_headers(embedded: bool) -> dict[str, str]:
    """The headers every response gets (also sent by public.tally_shortcut, which bypasses Flask)."""
    framing = "*" if embedded else "'self'"
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {framing}",
    }


def _headers(response):
    embedded = request.endpoint == "public.embed" or (request.endpoint in EMBED_FLOW and request.args.get("embed"))
    for name, value in page_headers(embedded).items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
