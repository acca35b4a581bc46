"""Platform admins answer a supporter's data-rights request made to the secretariat (by letter, by
phone): everything held about an address as the JSON of `chorus supporters export`, or its erasure
(after a confirmation step), through the same services; the audit log names the staff account."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from chorus import policy
from chorus.admin.blueprint import bp
from chorus.admin.forms import AddressForm
from chorus.i18n import gettext as _
from chorus.services import supporters


@bp.route("/data-rights", methods=["GET", "POST"])
def data_rights():
    if not policy.can(current_user, "supporter_data_rights"):
        abort(404)
    form = AddressForm()
    confirming = False
    if form.validate_on_submit():
        address, actor, step = form.email.data.strip(), f"user:{current_user.id}", request.form.get("step")
        if step == "export":
            document = supporters.export(address, actor)
            if document is not None:
                response = current_app.response_class(supporters.as_json(document) + "\n", mimetype="application/json")
                response.headers["Content-Disposition"] = 'attachment; filename="supporter-data.json"'
                response.headers["Cache-Control"] = "no-store"
                return response
        elif step == "erase" and request.form.get("confirm") == "yes":
            erased = supporters.erase(address, actor)
            if erased is not None:
                flash(
                    _(
                        "Erased: %(actions)d action(s) anonymized, %(sign_ons)d sign-on contact(s) blanked, "
                        "%(exports)d export file(s) rewritten, %(outbox)d outbox file(s) deleted.",
                        actions=erased.actions,
                        sign_ons=erased.sign_ons,
                        exports=erased.export_files,
                        outbox=erased.outbox_files,
                    )
                )
                return redirect(url_for("admin.data_rights"))
        elif step == "erase":
            confirming = True
        else:
            abort(400)
        if not confirming:
            form.email.errors.append(_("Nothing is held about this address."))
    status = 422 if form.errors else 200
    return render_template("admin/data_rights.html", form=form, confirming=confirming), status
