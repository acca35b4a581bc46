"""The public action form. Its CSRF token is signed, not stored in a session, so campaign pages
need no cookie: they can be cached under a crowd and embedded in a member's own website."""

from __future__ import annotations

import functools
import gettext as stdlib_gettext
import re
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import unquote_to_bytes

import pycountry
from flask import current_app, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.form import _Auto  # the "read the request" default that Meta.wrap_formdata receives
from itsdangerous import BadSignature, TimestampSigner
from werkzeug.datastructures import MultiDict
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, ValidationError
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from chorus.i18n import current_lang
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.models import Campaign, Organization
from chorus.services import content, letters, uploads
from chorus.services.signing import Supporter, validated_email
from chorus.services.statements import SIGN_ON_LOGO_MAX_BYTES, OrgSignature, normalize_name
from chorus.text import header_unsafe

TOKEN_MAX_AGE = 12 * 3600
# Control characters (a NUL breaks PostgreSQL), U+FFFD, which is what undecodable bytes become, and
# lone UTF-16 surrogates (JSON's "\ud800" decodes to one; no encoding can store or send it).
# One-line fields may reach a mail header: chorus.text's rule refuses every Unicode control, format,
# line and paragraph separator there.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ud800-\udfff]")


class SignedTokenCSRF(CSRF):
    """A token bound to the form's scope (the campaign) and signed with the app's key."""

    def setup_form(self, form):
        self.scope = form.meta.csrf_context
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field) -> str:
        return _signer().sign(self.scope).decode()

    def validate_csrf_token(self, form, field) -> None:
        if not token_valid(field.data, self.scope):
            raise ValidationError(_("The form expired or was not sent by this site. Please submit it again."))


def _signer() -> TimestampSigner:
    return TimestampSigner(current_app.config["SECRET_KEY"], salt="chorus.public-form")


def token_valid(token: str | None, scope: str) -> bool:
    """Whether a public form's token was signed by this site for `scope` within TOKEN_MAX_AGE."""
    try:
        return _signer().unsign(token or "", max_age=TOKEN_MAX_AGE).decode() == scope
    except (BadSignature, UnicodeDecodeError):
        return False


def undecodable_fields() -> set[str]:
    """Names of urlencoded fields whose bytes are not UTF-8. Werkzeug keeps such a value as its
    %-escapes (or drops the whole body), so it would otherwise be stored as if the visitor typed it."""
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return set()
    bad = set()
    for pair in request.get_data(cache=True).split(b"&"):
        name, _sep, value = pair.partition(b"=")
        try:
            unquote_to_bytes(name.replace(b"+", b" ")).decode()
            unquote_to_bytes(value.replace(b"+", b" ")).decode()
        except UnicodeDecodeError:
            bad.add(unquote_to_bytes(name).decode(errors="replace"))
    return bad


class Form(FlaskForm):
    """Every Chorus form reads only form fields (urlencoded or multipart), and files only into its
    file fields: a text field sent as a file part, or a JSON body of numbers and lists, is simply
    missing (and so refused by its validators) instead of reaching a validator as an object."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto or not form.is_submitted():
                return super().wrap_formdata(form, formdata)
            data = MultiDict(request.form)
            files = {name for name, field in form._fields.items() if isinstance(field, FileField)}
            for name, value in request.files.items(multi=True):
                if name in files:
                    data.add(name, value)
            return data or None


class PublicForm(Form):
    class Meta:
        csrf_class = SignedTokenCSRF

    def __init__(self, *args, **kwargs):
        self._undecodable = undecodable_fields()  # before the parent parses (and consumes) the body
        super().__init__(*args, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name in self._undecodable & set(self._fields):
            self._fields[name].errors.append(_("Contains characters that are not allowed."))
            valid = False
        if self._undecodable and not valid:
            return False
        return valid and not self._undecodable


def forbidden_text(value: str, multiline: bool = False) -> bool:
    """The input rule for every text field (forms and the API): no NUL or other control character,
    no U+FFFD, no lone surrogate; one-line fields (they may reach a mail header) also follow chorus.text's rule."""
    return bool(_FORBIDDEN.search(value)) or (not multiline and header_unsafe(value))


def clean_text(max_length: int, multiline: bool = False):
    """The first check of a text field: it stops there when it fails (one clear message per field, not
    "too long" and then "not an address" about the same text)."""

    def check(form, field):
        value = field.data or ""
        if forbidden_text(value, multiline):
            raise StopValidation(_("Contains characters that are not allowed."))
        if len(value) > max_length:
            raise StopValidation(_("Too long: at most %(max)d characters.", max=max_length))

    return check


def image_upload(max_bytes: int):
    """The one image check (chorus.services.uploads) as a field validator: the checked image is kept on
    the field as `field.image` (None when nothing was chosen) for the service that stores it."""

    def check(form, field):
        try:
            field.image = uploads.read_upload(field.data, max_bytes)
        except uploads.UploadError as error:
            field.image = None
            raise ValidationError(str(error)) from error

    return check


def required(form, field):
    if not (field.data or "").strip():
        raise StopValidation(_("This field is required."))  # nothing else to say about an empty field


def valid_email(form, field):
    if validated_email((field.data or "").strip()) is None:
        raise ValidationError(_("Enter a valid e-mail address."))


@functools.cache
def _country_choices(lang: str) -> tuple[SelectChoice, ...]:
    """Built once per language: 250 choices per request were a tenth of a signature's CPU."""
    translation = stdlib_gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
    names = sorted(((c.alpha_2, translation.gettext(c.name)) for c in pycountry.countries), key=lambda p: p[1])
    return tuple(SelectChoice(code, name) for code, name in names)


COUNTRY_CODES = frozenset(c.alpha_2 for c in pycountry.countries)
COUNTRY_DEFAULT = "US"


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


#: The action form's text fields and their checks (also run by chorus.public.sign_shortcut).
ACTION_RULES = {
    "first_name": [clean_text(100), required],
    "last_name": [clean_text(100), required],
    "email": [clean_text(254), required, valid_email],
    "postal_code": [clean_text(20)],
    "comment": [clean_text(1000, multiline=True)],
}


class _Value:
    """What a field validator reads of its field."""

    def __init__(self, data: str | None):
        self.data = data


def plain_action_valid(values: Mapping[str, str], asks_location: bool) -> bool:
    """The action form's checks on plain values (one each, no checkbox ticked): True when the form
    would accept them. The form itself stays the one place that words the errors."""
    try:
        for name, rules in ACTION_RULES.items():
            field = _Value(values.get(name))
            for rule in rules:
                rule(None, field)
    except (ValidationError, StopValidation):
        return False
    return not asks_location or values.get("country", COUNTRY_DEFAULT) in COUNTRY_CODES


def supporter_from(values: Mapping[str, str | None], asks_location: bool, language: str, **lists) -> Supporter:
    """The Supporter an accepted action form describes (`lists`: share_with and updates_from)."""
    return Supporter(
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"],
        postal_code=(values.get("postal_code") or "") if asks_location else "",
        country=values.get("country", COUNTRY_DEFAULT) if asks_location else "",
        comment=values.get("comment") or "",
        language=language,
        **lists,
    )


class ActionForm(PublicForm):
    first_name = StringField(_l("First name"), ACTION_RULES["first_name"])
    last_name = StringField(_l("Last name"), ACTION_RULES["last_name"])
    email = StringField(_l("Email"), ACTION_RULES["email"])
    postal_code = StringField(_l("Postal code"), ACTION_RULES["postal_code"])
    country = SelectField(_l("Country"), default=COUNTRY_DEFAULT, validate_choice=False)
    comment = TextAreaField(_l("Comment (optional)"), ACTION_RULES["comment"])
    share_with = CheckboxesField(_l("Share my details with"), choices=[], validate_choice=False)
    updates_from = CheckboxesField(_l("Send me e-mail updates from"), choices=[], validate_choice=False)

    @classmethod
    def for_campaign(cls, campaign: Campaign, site: Organization) -> ActionForm:
        form = cls(meta={"csrf_context": campaign.slug})
        form.asks_location = campaign.needs_location  # otherwise the form stays short: no postal code, no country
        form.country.choices = _country_choices(current_lang())
        hosts = campaign.host_orgs()
        form.share_with.choices = [SelectChoice(o.slug, o.name) for o in hosts if o.id != site.id]
        form.updates_from.choices = [SelectChoice(o.slug, o.name) for o in sorted(hosts, key=lambda o: o.id != site.id)]
        if campaign.kind == "statement":
            form.comment.label.text = _l("Message of solidarity (optional)")
        elif campaign.public_comments:
            form.comment.label.text = _l("Public comment (optional, shown once a moderator approves it)")
        return form

    def validate_country(self, field):
        if self.asks_location and field.data not in COUNTRY_CODES:
            raise ValidationError(_("Choose a country from the list."))

    def validate_updates_from(self, field):
        self.validate_share_with(field)

    def validate_share_with(self, field):
        allowed = {choice.value for choice in field.choices}
        if any(value not in allowed for value in field.data or []):
            raise ValidationError(_("Choose among the member sites listed."))

    def supporter(self) -> Supporter:
        values = {name: self[name].data for name in (*ACTION_RULES, "country")}
        return supporter_from(
            values,
            self.asks_location,
            current_lang(),
            share_with=list(self.share_with.data or []),
            updates_from=list(self.updates_from.data or []),
        )


class LetterForm(ActionForm):
    """A letter: the supporter edits the subject and body; the greeting and closing stay fixed."""

    subject = StringField(_l("Subject"), [clean_text(200), required])
    body = TextAreaField(_l("Your letter"), [clean_text(20_000, multiline=True), required])

    @classmethod
    def for_campaign(cls, campaign: Campaign, site: Organization) -> LetterForm:
        form = super().for_campaign(campaign, site)
        form.campaign = campaign
        if not form.is_submitted():
            form.subject.data = content.text(campaign, "letter_subject")
            form.body.data = content.text(campaign, "letter_body")
        return form

    def validate_body(self, field):
        limit = self.campaign.letter_max_length
        if len(field.data or "") > limit:
            raise ValidationError(_("Too long: at most %(max)d characters.", max=limit))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        fixed = {name: content.text(self.campaign, f"letter_{name}") for name in ("greeting", "closing")}
        if any(name in request.form and request.form[name].strip() != text.strip() for name, text in fixed.items()):
            self.form_errors.append(_("The greeting and closing of this letter cannot be changed."))
            valid = False
        if valid and not self.targets():
            self.postal_code.errors.append(_("We found no decision maker for this postal code."))
            valid = False
        return valid

    def targets(self):
        return letters.targets_for(self.campaign, self.country.data or "", self.postal_code.data or "")

    def preview(self) -> str:
        return letters.compose(self.campaign, self.body.data or "", letters.signature_of(self.supporter()))

    def supporter(self) -> Supporter:
        return replace(super().supporter(), subject=self.subject.data, body=self.body.data)


#: A website as organizations give it: its full address (the form and the API check the same).
WEBSITE = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def valid_website(form, field):
    value = (field.data or "").strip()
    if value and not WEBSITE.fullmatch(value):
        raise ValidationError(_("Enter the website's full address, starting with https://"))


class SignOnForm(PublicForm):
    """An organization signs a statement (the POST carries `organization_name`)."""

    organization_name = StringField(_l("Organization"), [clean_text(200), required])
    contact_name = StringField(_l("Contact person"), [clean_text(200), required])
    email = StringField(_l("Email"), [clean_text(254), required, valid_email])
    website = StringField(_l("Website"), [clean_text(300), valid_website])
    country = SelectField(_l("Country"), default="US", validate_choice=False)
    logo = FileField(
        _l("Logo (optional: PNG, JPEG, WebP or SVG, under 256 kB)"), [image_upload(SIGN_ON_LOGO_MAX_BYTES)]
    )
    message = TextAreaField(_l("Message of solidarity (optional)"), [clean_text(1000, multiline=True)])

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> SignOnForm:
        form = cls(meta={"csrf_context": campaign.slug})
        form.asks_location = True  # an organization's country is shown beside its name in the list
        form.country.choices = _country_choices(current_lang())
        return form

    validate_country = ActionForm.validate_country

    def validate_organization_name(self, field):
        if not normalize_name(field.data or ""):
            raise ValidationError(_("Write the organization's name with at least one letter or digit."))

    def signature(self) -> OrgSignature:
        return OrgSignature(
            organization_name=self.organization_name.data,
            contact_name=self.contact_name.data,
            email=self.email.data,
            website=(self.website.data or "").strip(),
            country=self.country.data,
            message=self.message.data or "",
            language=current_lang(),
            logo=getattr(self.logo, "image", None),
        )


def form_for(campaign: Campaign, site: Organization) -> ActionForm:
    return (LetterForm if campaign.kind == "letter" else ActionForm).for_campaign(campaign, site)


class MyDataForm(PublicForm):
    """The address whose "manage my data" link to mail (chorus.services.my_data)."""

    email = StringField(_l("Email"), [clean_text(254), required, valid_email])


class ButtonForm(PublicForm):
    """A form that is only a button (confirm, unsubscribe); its CSRF scope is the link's token."""
