"""Response headers that every page gets; embeds are the one thing other sites may frame."""

from __future__ import annotations

from flask import Flask, request

#: Pages a member's own website may show in an iframe: the embed, and the pages its form leads to.
EMBED_FLOW = {"public.campaign", "public.thanks"}


def _headers(response):
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    embedded = request.endpoint == "public.embed" or (request.endpoint in EMBED_FLOW and request.args.get("embed"))
    framing = "*" if embedded else "'self'"
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {framing}",
    )
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
