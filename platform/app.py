"""The app factory: configuration, then one init per subsystem, in one readable list."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from chorus import config as chorus_config


def create_app(environ: dict[str, str] | None = None) -> Flask:
    """Build the app from the environment; `environ` adds variables on top (tests, commands)."""
    from chorus import admin, api, errors, guards, i18n, moderation, routing, security, templating, tenancy
    from chorus.extensions import csrf, db, login_manager, migrate, redis_store
    from chorus.public import views as public
    from chorus.public.sign_shortcut import SignShortcut
    from chorus.public.tally_shortcut import TallyShortcut

    settings = chorus_config.from_environment({**os.environ, **(environ or {})})
    app = Flask(
        "chorus",
        root_path=str(Path(__file__).resolve().parent),
        instance_path=settings["CHORUS_INSTANCE"],
        static_folder="static",
    )
    app.jinja_environment = templating.TenantEnvironment
    app.config.update(
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,  # admin uploads; public forms allow far less
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=0,
        WTF_CSRF_TIME_LIMIT=None,
        **settings,
    )

    templating.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    redis_store.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
    tenancy.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    guards.init_app(app)
    errors.init_app(app)
    routing.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin.bp)
    api.init_app(app)
    app.register_blueprint(moderation.bp)
    app.wsgi_app = TallyShortcut(app, SignShortcut(app, app.wsgi_app))
    return app
