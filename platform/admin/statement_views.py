"""Statements of one member: draft, propose a new version, choose the order of the signatories,
and hand the result to its targets (CSV of signatories, printable delivery document)."""

from __future__ import annotations

import io

from flask import Response, abort, flash, g, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from chorus import policy
from chorus.admin.blueprint import bp, requires
from chorus.admin.campaign_views import hosted_or_404, owned_or_404
from chorus.admin.forms import NewStatementForm, OrderForm, StatementForm
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.models import Organization
from chorus.services import statements, tally


def _draft(form) -> statements.Draft:
    return statements.Draft(
        title=form.title.data.strip(),
        body=form.body.data,
        call_to_action=(form.call_to_action.data or "").strip(),
        translations=form.translations(),
    )


@bp.route("/<slug:org>/statements/new", methods=["GET", "POST"])
@requires("draft_statements")
def new_statement():
    form = NewStatementForm()
    others = db.session.scalars(select(Organization).where(Organization.id != g.org.id).order_by(Organization.name))
    form.hosts.choices = [SelectChoice(o.slug, o.name) for o in others]
    if form.validate_on_submit():
        hosts = db.session.scalars(select(Organization).where(Organization.slug.in_(form.hosts.data or []))).all()
        try:
            campaign = statements.create(
                g.org, current_user, form.slug.data, _draft(form), list(hosts), form.order.data
            )
        except statements.StatementError as error:
            form.slug.errors.append(str(error))
        else:
            flash(_("The statement waits for a coalition moderator; it is published on every host once approved."))
            return redirect(url_for("admin.statement", campaign=campaign.slug))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/statement_form.html", org=g.org, form=form), status


@bp.get("/<slug:org>/statements/<slug:campaign>")
@requires("view")
def statement(campaign: str, form: StatementForm | None = None, status: int = 200):
    found = owned_or_404(campaign)
    if found.kind != "statement":
        abort(404)
    current = statements.current_version(found)
    if form is None:
        form = StatementForm(obj=current or statements.versions(found)[0])  # else the newest draft
    return render_template(
        "admin/statement.html",
        org=g.org,
        campaign=found,
        current=current,
        versions=statements.versions(found),
        form=form,
        order_form=OrderForm(order=found.signatory_order),
        signatories=statements.signatories(found),
        can=lambda permission: policy.can(current_user, permission, g.org),
    ), status


@bp.post("/<slug:org>/statements/<slug:campaign>/versions")
@requires("draft_statements")
def propose_version(campaign: str):
    found = owned_or_404(campaign)
    form = StatementForm()
    if found.kind != "statement":
        abort(404)
    if not form.validate_on_submit():
        return statement(campaign, form, 422)
    try:
        statements.propose(found, current_user, _draft(form))
    except statements.StatementError as error:
        flash(str(error))
    else:
        flash(_("The new version waits for a coalition moderator; the page shows the approved one meanwhile."))
    return redirect(url_for("admin.statement", campaign=found.slug))


@bp.post("/<slug:org>/statements/<slug:campaign>/order")
@requires("draft_statements")
def statement_order(campaign: str):
    found = owned_or_404(campaign)
    form = OrderForm()
    if found.kind != "statement" or not form.validate_on_submit():
        abort(400)
    statements.set_order(found, form.order.data)
    flash(_("Saved."))
    return redirect(url_for("admin.statement", campaign=found.slug))


@bp.get("/<slug:org>/campaigns/<slug:campaign>/signatories.csv")
@requires("view")
def signatories_csv(campaign: str):
    """The organizations listed on a statement, for its targets: no contact's personal data."""
    found = hosted_or_404(campaign)
    if found.kind != "statement":
        abort(404)
    out = io.StringIO()
    statements.write_signatories_csv(out, found)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{found.slug}-signatories.csv"'},
    )


@bp.get("/<slug:org>/campaigns/<slug:campaign>/delivery")
@requires("view")
def delivery_document(campaign: str):
    """A printable document (print it to PDF) for handing a statement or a petition to its targets."""
    found = hosted_or_404(campaign)
    is_statement = found.kind == "statement"
    return render_template(
        "admin/delivery_document.html",
        campaign=found,
        version=statements.current_version(found) if is_statement else None,
        signatories=statements.signatories(found) if is_statement else [],
        tally=tally.tally_document(tally.meta_for(found)),
    )
