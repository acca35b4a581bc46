"""The bare reference the benchmarks measure Chorus against (issue 11): what the same stack does when it
does only the essentials. Not part of the product; left as committed so ratios stay comparable.

- `POST /<org>/<campaign>`: WTForms validates the action form's fields (first_name, last_name, email,
  postal_code, country, comment), one INSERT under a unique (campaign, email) constraint, one Redis
  HINCRBY, a 303 to `thanks?status=signed` (`?status=counted` for a repeat, which inserts nothing).
  No CSRF, no tenancy, no consent, no mail.
- `GET /<org>/<campaign>/tally.json`: one Redis HGETALL, as JSON.
- `GET /<org>/<campaign>`: a page with a dummy `csrf_token` input, so the load generator is the same.

Served by gunicorn exactly as `chorus up` serves the product (`--workers 2 --threads 4`):
    DATABASE_URL=postgresql+psycopg://... REDIS_URL=redis://... \
        .venv/bin/python -m gunicorn --chdir bench reference_app:app --workers 2 --threads 4
`python bench/reference_app.py --create-table` creates its one table (the bench does that first).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import pycountry
from email_validator import EmailNotValidError, validate_email
from flask import Flask, Response, redirect, request
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from sqlalchemy.exc import IntegrityError
from wtforms import Form, SelectField, StringField, TextAreaField, ValidationError, validators
from wtforms.fields.choices import SelectChoice

db = SQLAlchemy()
COUNTRIES = [SelectChoice(c.alpha_2, c.name) for c in pycountry.countries]


class ReferenceSignature(db.Model):
    __tablename__ = "reference_signatures"
    __table_args__ = (db.UniqueConstraint("campaign", "email"),)
    id = db.Column(db.Integer, primary_key=True)
    campaign = db.Column(db.String(100), nullable=False)
    org = db.Column(db.String(100), nullable=False)
    first_name = db.Column(db.String(100), nullable=False)
    last_name = db.Column(db.String(100), nullable=False)
    email = db.Column(db.String(254), nullable=False)
    postal_code = db.Column(db.String(20), nullable=False)
    country = db.Column(db.String(2), nullable=False)
    comment = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False)


def _email(form, field):
    try:
        validate_email((field.data or "").strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError("Enter a valid e-mail address.") from error


class SignForm(Form):
    first_name = StringField("First name", [validators.InputRequired(), validators.Length(max=100)])
    last_name = StringField("Last name", [validators.InputRequired(), validators.Length(max=100)])
    email = StringField("Email", [validators.InputRequired(), validators.Length(max=254), _email])
    postal_code = StringField("Postal code", [validators.Length(max=20)])
    country = SelectField("Country", choices=COUNTRIES, default="US")
    comment = TextAreaField("Comment", [validators.Length(max=1000)])


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    redis = app.extensions["reference.redis"] = Redis.from_url(os.environ["REDIS_URL"])

    @app.get("/<org>/<campaign>")
    def page(org: str, campaign: str):
        return '<form method="post"><input type="hidden" name="csrf_token" value="none"></form>'

    @app.post("/<org>/<campaign>")
    def sign(org: str, campaign: str):
        form = SignForm(request.form)
        if not form.validate():
            return json.dumps(form.errors), 422
        row = ReferenceSignature(
            campaign=campaign,
            org=org,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data.strip().lower(),
            postal_code=form.postal_code.data or "",
            country=form.country.data,
            comment=form.comment.data or "",
            created_at=datetime.now(UTC),
        )
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return redirect(f"/{org}/{campaign}/thanks?status=counted", 303)
        redis.hincrby(f"reference:tally:{campaign}", org, 1)
        return redirect(f"/{org}/{campaign}/thanks?status=signed", 303)

    @app.get("/<org>/<campaign>/tally.json")
    def tally(org: str, campaign: str):
        by_org = {k.decode(): int(v) for k, v in redis.hgetall(f"reference:tally:{campaign}").items()}
        body = {
            "campaign": campaign,
            "kind": "petition",
            "total": sum(by_org.values()),
            "goal": None,
            "by_org": by_org,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        return Response(json.dumps(body), mimetype="application/json")

    return app


app = create_app()

if __name__ == "__main__" and sys.argv[1:] == ["--create-table"]:
    with app.app_context():
        db.create_all()
