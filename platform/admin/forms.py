"""Admin forms (session-bound CSRF through Flask-WTF, as staff are signed in)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, Regexp, ValidationError

from chorus.i18n import LANGUAGES
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.public.forms import Form, clean_text, image_upload
from chorus.services import content, slugs, theme
from chorus.services.accounts import MIN_PASSWORD
from chorus.services.uploads import IMAGE_MAX_BYTES, LOGO_MAX_BYTES


class ProposesSlug:
    """A form whose empty slug is proposed from another field (the browser does it as one types)."""

    slug_source = "title"

    def validate(self, extra_validators=None) -> bool:
        source = getattr(self, self.slug_source).data
        if not (self.slug.data or "").strip() and source:
            self.slug.data = slugs.propose(source)
        return super().validate(extra_validators)


class Translatable:
    """A form whose texts may also be written in the other languages of the app: `<field>_<lang>`
    fields (added by `translatable`), filled from and saved to the object's `translations`."""

    translated: tuple[str, ...] = ()

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        if obj is not None and not self.is_submitted():
            for lang, name, field in self.translation_fields():
                field.data = ((getattr(obj, "translations", None) or {}).get(lang) or {}).get(name, "")

    def translation_fields(self, names: tuple[str, ...] | None = None):
        for lang in content.translation_languages():
            for name in names or self.translated:
                yield lang, name, self[f"{name}_{lang}"]

    def translation_groups(self, *names: str) -> list[tuple[str, str, list]]:
        """For the template: one (language, its name, fields) per language, in the order given."""
        return [
            (lang, content.language_name(lang), [self[f"{n}_{lang}"] for n in names])
            for lang in content.translation_languages()
        ]

    def translations(self) -> dict[str, dict[str, str]]:
        values: dict[str, dict[str, str]] = {}
        for lang, name, field in self.translation_fields():
            values.setdefault(lang, {})[name] = field.data or ""
        return values


def _in_language(label, lang: str) -> str:
    """ "Title (Español)": the label in the admin's language, the language named in itself."""
    return f"{label} ({LANGUAGES[lang]})"


def translatable(*names: str):
    """Add a `<name>_<lang>` field per translation language, checked like the source field but optional."""

    def add(cls):
        for lang in content.translation_languages():
            for name in names:
                source = getattr(cls, name)
                label, validators = (list(source.args) + [None, None])[:2]
                validators = [
                    v for v in (source.kwargs.get("validators") or validators or []) if not isinstance(v, DataRequired)
                ]
                setattr(cls, f"{name}_{lang}", source.field_class(LazyString(_in_language, label, lang), validators))
        cls.translated = names
        return cls

    return add


def valid_slug(form, field):
    why = slugs.problem(field.data or "", 80)
    if why:
        raise ValidationError(why)


COLOR = Regexp(theme.COLOUR, message=_l("A colour like #1f4e79."))


class LoginForm(Form):
    email = EmailField(_l("E-mail"), [DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), [DataRequired(), Length(max=1024)])


class CodeForm(Form):
    code = StringField(_l("Code from your authenticator app"), [DataRequired(), Length(max=10)])


class TwoFactorForm(Form):
    """Turning on or replacing TOTP: a signed-in session alone is not enough."""

    password = PasswordField(_l("Your password"), [DataRequired(), Length(max=1024)])
    current_code = StringField(_l("Code from your current authenticator app (if two-factor is on)"), [Length(max=10)])
    code = StringField(_l("Code for the new key"), [DataRequired(), Length(max=10)])


class AcceptInvitationForm(Form):
    name = StringField(_l("Your name"), [DataRequired(), clean_text(200)])
    password = PasswordField(_l("Choose a password"), [DataRequired(), Length(min=MIN_PASSWORD, max=1024)])
    confirm = PasswordField(_l("Repeat the password"), [DataRequired()])

    def validate_confirm(self, field):
        if field.data != self.password.data:
            raise ValidationError(_("The passwords differ."))


class InviteForm(Form):
    email = EmailField(_l("E-mail"), [DataRequired(), Email(), Length(max=254)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("org-editor", _l("Organization editor: drafts and edits campaigns")),
            SelectChoice(
                "org-admin", _l("Organization admin: also publishes, exports supporters, manages the team and branding")
            ),
        ],
    )
    #: The invitation mail's and the new account's language; the view proposes the inviter's.
    language = SelectField(
        _l("Language of the invitation"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()]
    )


class AddressForm(Form):
    """A supporter's address, for the platform admins' data-rights page."""

    email = EmailField(_l("Supporter's e-mail address"), [DataRequired(), Email(), Length(max=254)])


@translatable(
    "title",
    "addressee",
    "summary",
    "body",
    "thanks_text",
    "letter_subject",
    "letter_greeting",
    "letter_body",
    "letter_closing",
)
class CampaignForm(Translatable, ProposesSlug, Form):
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("petition", _l("Petition")), SelectChoice("letter", _l("Letter to decision makers"))],
        default="petition",
    )
    title = StringField(_l("Title"), [DataRequired(), clean_text(200)])
    slug = StringField(_l("Address (slug)"), [DataRequired(), Length(max=80), valid_slug])
    addressee = StringField(_l("Addressed to (“To: …” on a petition), e.g. the U.S. Congress"), [clean_text(300)])
    summary = TextAreaField(
        _l("Summary: one or two sentences shown first on phones"), [clean_text(500, multiline=True)]
    )
    body = TextAreaField(_l("Text (Markdown)"), [clean_text(50_000, multiline=True)])
    goal = IntegerField(_l("Goal"), [Optional(), NumberRange(min=1, max=100_000_000)])
    require_confirmation = BooleanField(_l("Count an action only once its e-mail is confirmed"), default=True)
    ask_location = BooleanField(_l("Ask supporters for their postal code and country"))
    public_comments = BooleanField(_l("Show supporters' comments publicly (after moderation)"))
    ends_at = DateField(_l("End date"), [Optional()])
    unconfirmed_retention_days = IntegerField(
        _l("Days before unconfirmed actions are deleted"), [Optional(), NumberRange(1, 365)], default=30
    )
    closed_retention_days = IntegerField(
        _l("Days after closing before supporters' data is anonymized"), [Optional(), NumberRange(1, 3650)], default=365
    )
    image = FileField(_l("Image (PNG, JPEG, WebP or SVG, at most 2 MB)"), [image_upload(IMAGE_MAX_BYTES)])
    image_alt = StringField(_l("Image description, for people who cannot see it"), [clean_text(300)])
    thanks_text = TextAreaField(
        _l("Thank-you message (Markdown), shown after the action"), [clean_text(5000, multiline=True)]
    )

    # Letter campaigns
    letter_subject = StringField(_l("Letter subject"), [clean_text(200)])
    letter_greeting = StringField(_l("Greeting (supporters cannot change it)"), [clean_text(200)])
    letter_body = TextAreaField(_l("Draft letter (supporters may edit it)"), [clean_text(20_000, multiline=True)])
    letter_closing = TextAreaField(_l("Closing (supporters cannot change it)"), [clean_text(1000, multiline=True)])
    letter_max_length = IntegerField(
        _l("Longest letter a supporter may send (characters)"), [Optional(), NumberRange(100, 20_000)]
    )
    targeting = SelectField(
        _l("Who receives the letters"),
        choices=[
            SelectChoice("fixed", _l("The targets chosen below")),
            SelectChoice("location", _l("The officials of each supporter's postal code")),
        ],
        default="fixed",
    )
    targets = SelectMultipleField(_l("Targets"), coerce=int, choices=[], validate_choice=False)
    delivery_mode = SelectField(
        _l("Delivery"),
        choices=[
            SelectChoice("individual", _l("One message per letter")),
            SelectChoice("digest", _l("One digest per target per day")),
        ],
        default="individual",
    )
    daily_cap_per_target = IntegerField(_l("Letters per target per day at most"), [Optional(), NumberRange(1, 100_000)])
    send_window_start = IntegerField(_l("Send from hour (UTC)"), [Optional(), NumberRange(0, 23)])
    send_window_end = IntegerField(_l("Send until hour (UTC)"), [Optional(), NumberRange(0, 24)])

    def validate_targets(self, field):
        known = {choice.value for choice in field.choices}
        if any(value not in known for value in field.data or []):
            raise ValidationError(_("Choose targets from the list."))
        if self.kind.data == "letter" and self.targeting.data == "fixed" and not field.data:
            raise ValidationError(_("A letter with fixed targets needs at least one target."))

    # Optional() ends the checks of an empty hour, so each given hour checks that the other one is given.
    def validate_send_window_start(self, field):
        _other_hour_given(self.send_window_end)

    def validate_send_window_end(self, field):
        _other_hour_given(self.send_window_start)


def _other_hour_given(other) -> None:
    """Typed in (even if unreadable, which has its own message) or kept from the campaign."""
    if other.data is None and not "".join(other.raw_data or []).strip():
        raise ValidationError(_("Give both hours of the sending window, or neither."))


class ColoursForm(Form):
    """Main and accent colours, refused when a text the theme draws in them would fail WCAG AA."""

    primary_color = StringField(_l("Main colour"), [DataRequired(), COLOR])
    accent_color = StringField(_l("Accent colour"), [DataRequired(), COLOR])

    def _contrast(self, which: str) -> None:
        primary, accent = self.primary_color.data or "", self.accent_color.data or ""
        if theme.COLOUR.match(primary) and theme.COLOUR.match(accent):
            messages = theme.problems(primary, accent, which)
            if messages:
                raise ValidationError(" ".join(messages))

    def validate_primary_color(self, field):
        self._contrast("primary")

    def validate_accent_color(self, field):
        self._contrast("accent")


@translatable("tagline", "intro", "footer")
class BrandingForm(Translatable, ColoursForm):
    name = StringField(_l("Name"), [DataRequired(), clean_text(200)])
    tagline = StringField(_l("Tagline"), [clean_text(300)])
    intro = TextAreaField(_l("Introduction (Markdown)"), [clean_text(5000, multiline=True)])
    website = StringField(_l("Website"), [Optional(), URL(), Length(max=300)])
    footer = TextAreaField(_l("Footer"), [clean_text(1000, multiline=True)])
    logo = FileField(_l("Logo (SVG, PNG, JPEG or WebP, at most 512 kB)"), [image_upload(LOGO_MAX_BYTES)])


@translatable("title", "body", "call_to_action")
class StatementForm(Translatable, Form):
    """A statement's text; a change to a published one becomes a new version for the moderators."""

    title = StringField(_l("Title"), [DataRequired(), clean_text(200)])
    body = TextAreaField(_l("Text (Markdown)"), [DataRequired(), clean_text(50_000, multiline=True)])
    call_to_action = TextAreaField(_l("Call to action"), [clean_text(500, multiline=True)])


class NewStatementForm(StatementForm):
    slug = StringField(_l("Address (slug)"), [DataRequired(), Length(max=80), valid_slug])
    hosts = SelectMultipleField(_l("Also published on the sites of"), choices=[], validate_choice=True)
    order = SelectField(
        _l("Order of the signatories"),
        choices=[
            SelectChoice("alphabetical", _l("Alphabetical (member organizations first)")),
            SelectChoice("time", _l("By time of signing")),
        ],
        default="alphabetical",
    )


class OrderForm(Form):
    order = NewStatementForm.order


class NewOrganizationForm(ProposesSlug, ColoursForm):
    """A platform admin adds a member without a tenants/ folder; it can be edited in the admin later."""

    slug_source = "name"
    name = StringField(_l("Name"), [DataRequired(), clean_text(200)])
    slug = StringField(_l("Address (slug)"), [DataRequired(), Length(max=63), valid_slug])
    tagline = StringField(_l("Tagline"), [clean_text(300)])


class HostForm(Form):
    host = StringField(_l("Host name of your own site"), [DataRequired(), Length(max=253)])
