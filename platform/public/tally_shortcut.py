"""tally.json without Flask: a WSGI layer in front of the app answers the hot case itself.

A crowd reloading a counter (an embed on a viral page, a live screen) must cost less than a bare
Flask endpoint doing one Redis HGETALL. The hot case is a plain `GET /<org>/<campaign>/tally.json`
(no query string) of a known campaign whose live tally is in Redis: this layer answers it with the
same body, CORS, caching and security headers and ETag/304 as the Flask view, with one HGETALL and no
routing, request object, context or session. Everything else (unknown campaign, member not hosting
it, a tally Redis lost and the database must rebuild, HEAD, `?lang=`) goes on to the Flask view, which
stays the one definition of the rules (views.tally_json).
"""

from __future__ import annotations

import hashlib
import re
import time

from flask import Flask
from redis.exceptions import RedisError
from werkzeug.http import parse_etags

from chorus.extensions import redis_store
from chorus.security import page_headers
from chorus.services import tally

PATH = re.compile(r"^/([a-z0-9][a-z0-9-]{0,79})/([a-z0-9][a-z0-9-]{0,79})/tally\.json$")
MAX_AGE = 5


class TallyShortcut:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.local = app.extensions.setdefault("chorus.campaign_meta", {})  # tally.campaign_meta's cache
        self.redis = None
        # The same bytes as jsonify: Flask's rule for compact or indented JSON.
        pretty = app.json.compact is False or (app.json.compact is None and app.debug)
        self.dump_args = {"indent": 2} if pretty else {"separators": (",", ":")}
        self.static_headers = [
            ("Content-Type", "application/json"),
            ("Access-Control-Allow-Origin", "*"),
            ("Cache-Control", f"public, max-age={MAX_AGE}"),
            *page_headers(embedded=False).items(),
        ]

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            match = PATH.match(environ.get("PATH_INFO", ""))
            if match:
                try:
                    answer = self._answer(environ, *match.groups())
                except RedisError:
                    answer = None  # Redis is away: the view answers (503 with Retry-After, chorus.errors)
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, org: str, slug: str):
        hit = self.local.get(slug)
        if hit is not None and hit[0] > time.monotonic() and self.redis is not None:
            meta = hit[1]
        else:
            with self.app.app_context():
                meta = tally.campaign_meta(slug)
                self.redis = redis_store.client
        if meta is None or org not in meta.hosts:
            return None  # the view answers 404
        raw = self.redis.hgetall(tally.tally_key(meta.id))
        if not raw:
            return None  # the view rebuilds the tally from the database
        body = (self.app.json.dumps(tally.document(meta, tally.from_hash(raw)), **self.dump_args) + "\n").encode()
        etag = hashlib.sha1(body).hexdigest()
        headers = [*self.static_headers, ("ETag", f'"{etag}"')]
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(etag):
            return "304 NOT MODIFIED", headers, b""
        return "200 OK", [*headers, ("Content-Length", str(len(body)))], body
