"""Per-member templates without cache leaks.

The member is part of the template *name*: `@<slug>/campaign.html` is looked up in
`tenants/<slug>/templates/campaign.html` and falls back to the shared `templates/campaign.html`.
Jinja caches by name, so one member can never be served another's compiled template, and
`{% extends "base.html" %}` inside `@<slug>/...` stays in that member's namespace (join_path).
"""

from __future__ import annotations

import re
from pathlib import Path

import markdown as markdown_lib
import nh3
from flask import Flask, render_template
from flask.templating import Environment
from jinja2 import BaseLoader, FileSystemLoader, TemplateNotFound
from markupsafe import Markup

from chorus.config import PROJECT_ROOT
from chorus.services import content, theme

_NAMESPACED = re.compile(r"^@([a-z0-9-]+)/(.+)$")


class TenantLoader(BaseLoader):
    def __init__(self, shared: Path, tenants: Path):
        self.shared = FileSystemLoader(str(shared))
        self.tenants = tenants

    def get_source(self, environment, template):
        match = _NAMESPACED.match(template)
        if not match:
            return self.shared.get_source(environment, template)
        slug, name = match.groups()
        own = self.tenants / slug / "templates"
        if own.is_dir():
            try:
                return FileSystemLoader(str(own)).get_source(environment, name)
            except TemplateNotFound:
                pass
        return self.shared.get_source(environment, name)

    def list_templates(self):
        return self.shared.list_templates()


class TenantEnvironment(Environment):
    def join_path(self, template: str, parent: str) -> str:
        """Resolve extends/include relative to the member namespace of the parent template."""
        match = _NAMESPACED.match(parent)
        if match and not template.startswith("@"):
            return f"@{match.group(1)}/{template}"
        return template


def render_for(slug: str, name: str, **context) -> str:
    """Render a template as member `slug` shows it (its override, or the shared one)."""
    return render_template(f"@{slug}/{name}", **context)


def render_markdown(text: str | None) -> Markup:
    """Campaign and member texts are Markdown written by admins; nh3 strips anything unsafe."""
    return Markup(nh3.clean(markdown_lib.markdown(text or "")))


def plain_text(words: str) -> str:
    """A macro of an .html file used in a text mail: its words as written, not HTML-escaped (an
    organization "Harbor & Warehouse" must not read "Harbor &amp; Warehouse")."""
    return Markup(words).unescape()


def theme_style(org) -> Markup:
    """The member's colours as CSS variables, with text colours that keep WCAG AA contrast on them."""
    given = ((org.primary_color, "#1f4e79"), (org.accent_color, "#f2a900"))
    colours = [colour if theme.COLOUR.match(colour or "") else default for colour, default in given]
    declarations = "; ".join(f"{k}: {v}" for k, v in theme.variables(*colours).items())
    return Markup(f"<style>:root {{ {declarations}; }}</style>")


MILESTONES = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000)


def milestone(total: int, goal: int) -> int:
    """What the goal bar measures: while the count is under a quarter of the goal, the next round
    number above it (a bar 30% full towards 10 reads better than an empty one towards 10,000)."""
    if total * 4 >= goal:
        return goal
    return next((m for m in MILESTONES if total < m < goal), goal)


def init_app(app: Flask) -> None:
    app.jinja_loader = TenantLoader(PROJECT_ROOT / "templates", Path(app.config["CHORUS_TENANTS_DIR"]))
    # Room for every template of every member, so the cache never thrashes between members.
    app.jinja_options = {**app.jinja_options, "cache_size": 4000}
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_filter(theme_style, "theme_style")
    app.add_template_filter(plain_text, "plain_text")
    app.jinja_env.globals["milestone"] = milestone
    app.jinja_env.globals.update(tr=content.text, content_notice=content.notice)
