"""Response headers that every page gets; embeds are the one thing other sites may frame."""

from __future__ import annotations

from flask import Flask, request

EMBEDDABLE = {"public.embed", "public.thanks", "public.campaign"}


def _headers(response):
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    framing = "*" if request.endpoint in EMBEDDABLE and request.args.get("embed") else "'self'"
    if request.endpoint == "public.embed":
        framing = "*"
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {framing}",
    )
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
