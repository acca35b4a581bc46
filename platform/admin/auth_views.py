"""Signing in and out, two-factor authentication, and accepting invitations."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from chorus.admin.blueprint import bp
from chorus.admin.forms import AcceptInvitationForm, CodeForm, LoginForm, TwoFactorForm
from chorus.extensions import db
from chorus.guards import safe_next
from chorus.i18n import gettext as _
from chorus.models import User
from chorus.public.forms import Form
from chorus.services import accounts
from chorus.services.accounts import MIN_PASSWORD


def _safe_next() -> str:
    return safe_next(request.args.get("next"), url_for("admin.home"), prefix="/admin")


def _finish_login(user: User):
    """A fresh session at every login (no fixation), then the page they wanted."""
    target = _safe_next()
    session.clear()
    login_user(user)
    session["seen"] = time.time()
    accounts.remember_language(user, request.cookies.get("lang"))
    return redirect(target)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), 422 if form.is_submitted() else 200
    result = accounts.authenticate(form.email.data, form.password.data, request.remote_addr or "")
    if result.throttled:
        form.form_errors.append(_("Too many failed attempts. Wait 15 minutes, then try again."))
        return render_template("admin/login.html", form=form), 429
    if result.user is None:
        form.form_errors.append(_("Wrong e-mail or password."))
        return render_template("admin/login.html", form=form), 422
    if result.user.totp_secret:
        session.clear()
        session["2fa_user"] = result.user.get_id()
        session["2fa_attempt"] = secrets.token_urlsafe(16)  # counts this sign-in's codes in Redis
        return redirect(url_for("admin.login_second_factor", next=_safe_next()))
    return _finish_login(result.user)


@bp.route("/login/code", methods=["GET", "POST"])
def login_second_factor():
    pending = session.get("2fa_user", "")
    ident, _sep, token = pending.partition(":")
    user = db.session.get(User, int(ident)) if ident.isdigit() else None
    if user is None or user.session_token != token:
        return redirect(url_for("admin.login"))
    form = CodeForm()
    if form.validate_on_submit():
        outcome = accounts.check_code(user, form.code.data, session.get("2fa_attempt", ""))
        if outcome is accounts.CodeCheck.ACCEPTED:
            return _finish_login(user)
        if outcome is accounts.CodeCheck.LOCKED:
            session.clear()  # the password step again, itself refused while the account waits
            flash(_("Too many wrong codes. Wait 15 minutes, then sign in again."))
            return redirect(url_for("admin.login"))
        form.code.errors.append(_("That code is not valid (or was already used)."))
    return render_template("admin/code.html", form=form), 422 if form.is_submitted() else 200


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        accounts.end_all_sessions(current_user)
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
def two_factor():
    """Enrol an authenticator app: the secret waits in the session until a code proves it works."""
    form = TwoFactorForm()
    secret = session.setdefault("totp_pending", pyotp.random_base32())
    attempt = session.setdefault("2fa_attempt", secrets.token_urlsafe(16))
    if form.validate_on_submit():
        try:
            accounts.replace_second_factor(
                current_user, form.password.data, form.current_code.data, secret, form.code.data, attempt
            )
        except accounts.AccountError as error:
            form.form_errors.append(str(error))
        else:
            session.pop("totp_pending")
            flash(_("Two-factor authentication is on."))
            return redirect(url_for("admin.home"))
    uri = pyotp.TOTP(secret).provisioning_uri(name=current_user.email, issuer_name="Chorus")
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app"))
    return render_template("admin/two_factor.html", form=form, secret=secret, qr=qr), (
        422 if form.is_submitted() else 200
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = accounts.open_invitation(token)
    if invitation is None:
        abort(404)
    signed_in = current_user if current_user.is_authenticated else None
    form = AcceptInvitationForm() if signed_in is None else Form()  # signed in: just a button
    if form.validate_on_submit():
        name, password = (form.name.data, form.password.data) if signed_in is None else ("", "")
        try:
            user = accounts.accept_invitation(invitation, signed_in, name, password)
        except accounts.AccountError as error:
            form.form_errors.append(str(error))
        else:
            flash(_("Welcome to Chorus."))
            return _finish_login(user) if signed_in is None else redirect(url_for("admin.home"))
    return render_template(
        "admin/invitation.html", form=form, invitation=invitation, signed_in=signed_in, min_password=MIN_PASSWORD
    ), (
        422 if form.is_submitted() else 200
    )
