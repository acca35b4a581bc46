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

from contextlib import contextmanager

from flask import Flask, g
from sqlalchemy import event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from chorus.extensions import db
from chorus.models import Action, Consent, Contact, Organization, Tag, Tagging

ORG_KEY = "chorus.org_id"


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
