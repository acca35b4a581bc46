"""Tenancy in one place: which member organization a request or job acts for, and the scoping of
supporter data to it.

Every ORM SELECT/UPDATE/DELETE touching `Action` gets a criterion added here, so a view cannot
forget it: a member sees the actions taken through its own site and those whose supporters chose
to share their details with it (a `Consent` for "share", not withdrawn). A member's own lists
(people added through the API, tags and taggings) get the simpler criterion "belongs to this
member". With no member set the criterion is false: queries fail closed and return nothing. Code
that must cross members (tally counts, the supporter confirming their own action) opts in visibly
with `.execution_options(all_orgs=True)`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from sqlalchemy import event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from chorus.extensions import db
from chorus.models import Action, Consent, Contact, MemberHost, Organization, Tag, Tagging

ORG_KEY = "chorus.org_id"
HOSTS_KEY = "chorus.member_hosts"
#: Seconds a process trusts its copy of the host table; changes made in this process apply at once.
HOSTS_TTL = 30


def normalize_host(value: str) -> str:
    """`Act.Example.org.:443` -> `act.example.org`; the form hosts are stored and compared in."""
    host = value.strip().lower()
    if not host.startswith("["):
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _host_map() -> dict[str, str]:
    """Approved member hosts -> member slug, per app (tests build many apps), reloaded every HOSTS_TTL."""
    cached = current_app.extensions.get(HOSTS_KEY)
    if cached is None or cached[0] < time.monotonic():
        rows = db.session.execute(
            select(MemberHost.host, Organization.slug).join(Organization).where(MemberHost.approved.is_(True))
        ).all()
        cached = (time.monotonic() + HOSTS_TTL, dict(rows))
        current_app.extensions[HOSTS_KEY] = cached
    return cached[1]


def forget_hosts() -> None:
    """Call after changing member_hosts so this process sees it now (others within HOSTS_TTL)."""
    current_app.extensions.pop(HOSTS_KEY, None)


def site_slug() -> str | None:
    """The member whose own site this request is on, decided by the Host header alone (never by a
    forwarded or custom header a client could forge); None on the coalition's shared host. A host
    nobody claimed is the coalition's site, or a 404 when CHORUS_UNKNOWN_HOSTS=404 (production)."""
    if "site_slug" not in g:
        g.site_slug = site_of_host(normalize_host(request.host))
    return g.site_slug


def site_of_host(host: str) -> str | None:
    """`site_slug` for a normalized host: raises NotFound (404) for a host nobody claimed in 404 mode."""
    site = _host_map().get(host)
    if site is None and host not in shared_hosts() and current_app.config["CHORUS_UNKNOWN_HOSTS"] == "404":
        abort(404)
    return site


def shared_hosts() -> set[str]:
    return {normalize_host(urlsplit(current_app.config["CHORUS_BASE_URL"]).netloc)}


def own_host(org: Organization) -> str | None:
    """The member's first approved host, where its links and mailed links point."""
    return next((h.host for h in org.hosts if h.approved), None)


def public_root(org: Organization) -> str:
    """Where host-level pages (/confirm, /unsubscribe) live for this member's supporters. An own host
    is served by the same server as the shared one: on its scheme and port (`make run`'s :5000)."""
    host = own_host(org)
    base = current_app.config["CHORUS_BASE_URL"]
    if not host:
        return base
    parts = urlsplit(base)
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def site_root(org: Organization) -> str:
    """The member's home: its own host, else /<slug> on the shared host (no trailing slash)."""
    return public_root(org) if own_host(org) else f"{current_app.config['CHORUS_BASE_URL']}/{org.slug}"


def set_current_org(org: Organization) -> None:
    """Bind the session to one member. One member per session: never switch mid-request or mid-job."""
    current = db.session.info.get(ORG_KEY)
    if current is not None and current != org.id:
        raise RuntimeError("this session is already scoped to another organization")
    db.session.info[ORG_KEY] = org.id


def enter(org: Organization) -> None:
    """A request acts for `org`: templates and url_for see it, supporter queries are scoped to it."""
    g.org, g.org_slug = org, org.slug
    set_current_org(org)


def init_app(app: Flask) -> None:
    """The scope ends with the request, even where an outer app context (a test) keeps the session."""
    app.teardown_request(_end_scope)


def _end_scope(_exc: BaseException | None) -> None:
    if db.session.registry.has():  # don't create a session for requests that never used one
        db.session.info.pop(ORG_KEY, None)


@contextmanager
def acting_for(org: Organization):
    """Scope the session to `org` for a command or job, and clear it afterwards."""
    set_current_org(org)
    try:
        yield org
    finally:
        db.session.info.pop(ORG_KEY, None)


def current_org_id() -> int | None:
    return db.session.info.get(ORG_KEY)


def sees_sign_on_contact(sign_on) -> bool:
    """An organization's sign-on is public once approved, but its contact's name and address are
    the host member's, like an action taken through its site (sign-ons share with no one else)."""
    org_id = current_org_id()
    return org_id is not None and sign_on.org_id == org_id


def own_sign_ons(model):
    """Sign-ons made through this member's site: their contacts (and mail to them) are its to see.
    Fails closed without a member, as the listener does."""
    org_id = current_org_id()
    return false() if org_id is None else model.org_id == org_id


def visible_sign_ons(model):
    """Sign-ons this member may list: every approved one (the public list) and its own site's."""
    return or_(model.status == "approved", own_sign_ons(model)) if current_org_id() is not None else false()


#: Supporter data owned by exactly one member.
OWNED = (Contact, Tag, Tagging)


def _owned_by(org_id: int | None):
    if org_id is None:
        return lambda cls: false()
    return lambda cls: cls.org_id == org_id


def _visible_actions(org_id: int | None):
    """The criterion as a lambda, so SQLAlchemy caches the SQL and binds org_id as a parameter."""
    if org_id is None:
        return lambda cls: false()
    return lambda cls: or_(
        cls.org_id == org_id,
        cls.id.in_(
            select(Consent.action_id).where(
                Consent.org_id == org_id, Consent.purpose == "share", Consent.withdrawn_at.is_(None)
            )
        ),
    )


@event.listens_for(Session, "do_orm_execute")
def _scope_supporter_data(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was already scoped
    if state.execution_options.get("all_orgs", False):
        return
    org_id = state.session.info.get(ORG_KEY)
    state.statement = state.statement.options(
        with_loader_criteria(Action, _visible_actions(org_id), include_aliases=True),
        *(with_loader_criteria(model, _owned_by(org_id), include_aliases=True) for model in OWNED),
    )
