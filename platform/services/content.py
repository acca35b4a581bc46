"""What admins write, in the supporter's language: campaigns' texts, members' tagline, intro and
footer, and statements' text (per version).

The columns hold the source language (`SOURCE_LANG`, the app's first language); every other
language of `chorus.i18n.LANGUAGES` is kept in the object's `translations` JSON,
`{"es": {"title": "…"}}`. One question is answered here, for pages, forms and mails alike: "this
field in this language", which gives the translation, or the source text flagged as a fallback
(pages then mark it with a `lang` attribute and say so).
"""

from __future__ import annotations

from markupsafe import Markup

from chorus.i18n import LANGUAGE_NAMES, LANGUAGES, current_lang, gettext, lazy_gettext
from chorus.models import Campaign, Organization, StatementVersion

SOURCE_LANG = next(iter(LANGUAGES))

CAMPAIGN_FIELDS = ("title", "summary", "body", "thanks_text")
LETTER_FIELDS = ("letter_subject", "letter_greeting", "letter_body", "letter_closing")
PETITION_FIELDS = ("addressee",)  # "To: …" (a letter names its targets instead)
ORG_FIELDS = ("tagline", "intro", "footer")
VERSION_FIELDS = ("title", "body", "call_to_action")
#: A statement's campaign mirrors its approved version: version field -> campaign column.
VERSION_TO_CAMPAIGN = {"title": "title", "body": "body", "call_to_action": "summary"}

FIELD_NAMES = {
    "title": lazy_gettext("Title"),
    "addressee": lazy_gettext("Addressed to"),
    "summary": lazy_gettext("Summary"),
    "body": lazy_gettext("Text"),
    "thanks_text": lazy_gettext("Thank-you message"),
    "letter_subject": lazy_gettext("Letter subject"),
    "letter_greeting": lazy_gettext("Greeting"),
    "letter_body": lazy_gettext("Draft letter"),
    "letter_closing": lazy_gettext("Closing"),
    "tagline": lazy_gettext("Tagline"),
    "intro": lazy_gettext("Introduction"),
    "footer": lazy_gettext("Footer"),
    "call_to_action": lazy_gettext("Call to action"),
}


class TranslationError(ValueError):
    pass


class Text(str):
    """A text with the language it is in, and whether it stands in for a missing translation."""

    lang: str
    fallback: bool

    def __new__(cls, value: str, lang: str, fallback: bool = False) -> Text:
        made = super().__new__(cls, value)
        made.lang, made.fallback = lang, fallback
        return made

    @property
    def lang_attr(self) -> Markup:
        """` lang="en"` on an element showing a fallback, so screen readers read it in its language."""
        return Markup(' lang="{}"').format(self.lang) if self.fallback else Markup("")


def translation_languages() -> list[str]:
    """The languages admins may translate into: every language of the app but the source one."""
    return [code for code in LANGUAGES if code != SOURCE_LANG]


def fields_of(obj) -> tuple[str, ...]:
    """The translatable fields this object shows (a petition has no letter)."""
    if isinstance(obj, Organization):
        return ORG_FIELDS
    if isinstance(obj, StatementVersion):
        return VERSION_FIELDS
    if obj.kind == "statement":
        return ("title", "summary", "body")
    return CAMPAIGN_FIELDS + (LETTER_FIELDS if obj.kind == "letter" else PETITION_FIELDS)


def _translated(obj, field: str, lang: str) -> str:
    return ((obj.translations or {}).get(lang) or {}).get(field, "")


def text(obj, field: str, lang: str | None = None) -> Text:
    """The field in `lang` (the request's or job's language by default), else the source text."""
    lang = lang or current_lang()
    source = getattr(obj, field) or ""
    if lang != SOURCE_LANG:
        translated = _translated(obj, field, lang)
        if translated:
            return Text(translated, lang)
        return Text(source, SOURCE_LANG, fallback=bool(source))
    return Text(source, SOURCE_LANG)


def missing(obj, lang: str) -> list[str]:
    """Fields with a source text and no translation into `lang`."""
    if lang == SOURCE_LANG:
        return []
    return [f for f in fields_of(obj) if (getattr(obj, f) or "").strip() and not _translated(obj, f, lang)]


def missing_by_language(obj) -> dict[str, list[str]]:
    """For the admin: {language: [missing fields]} over every translation language."""
    return {lang: missing(obj, lang) for lang in translation_languages()}


def missing_report(obj) -> list[tuple[str, str, list[str]]]:
    """For the admin pages: (language, its name, names of the missing fields) per translation language."""
    gaps_by_language = missing_by_language(obj)
    return [(lang, language_name(lang), [str(FIELD_NAMES[f]) for f in gaps]) for lang, gaps in gaps_by_language.items()]


def notice(campaign: Campaign, lang: str | None = None) -> str:
    """The line a public page shows when the campaign is not (fully) in the supporter's language."""
    lang = lang or current_lang()
    gaps = missing(campaign, lang)
    if not gaps:
        return ""
    names = {"language": language_name(lang), "source": language_name(SOURCE_LANG)}
    statement = campaign.kind == "statement"
    if "title" in gaps:
        if statement:
            return gettext("This statement is not yet available in %(language)s; shown in %(source)s.", **names)
        return gettext("This campaign is not yet available in %(language)s; shown in %(source)s.", **names)
    if statement:
        return gettext(
            "Parts of this statement are not yet available in %(language)s; they are shown in %(source)s.", **names
        )
    return gettext(
        "Parts of this campaign are not yet available in %(language)s; they are shown in %(source)s.", **names
    )


def language_name(lang: str) -> str:
    """A language added to the app's list without a translated name is called by its own name."""
    return LANGUAGE_NAMES.get(lang) or LANGUAGES[lang]


def translations_for(values: dict[str, dict[str, str]], fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A clean translations document: known languages and fields only, texts trimmed, empty ones left out
    (an emptied field falls back to the source again)."""
    document: dict[str, dict[str, str]] = {}
    for lang, texts in values.items():
        if lang not in translation_languages():
            raise TranslationError(f"Unknown language: {lang}.")
        for field, value in texts.items():
            if field not in fields:
                raise TranslationError(f"Unknown field: {field}.")
            cleaned = (value or "").strip()
            if cleaned:
                document.setdefault(lang, {})[field] = cleaned
    return document


def set_translations(obj, values: dict[str, dict[str, str]]) -> None:
    """Replace the object's translations for the languages given (a new dict, so the JSON change is saved).
    Fields the object does not show are ignored. The caller commits."""
    fields = fields_of(obj)  # a petition's form also carries the (empty) letter fields: left out
    shown = {lang: {f: v for f, v in texts.items() if f in fields} for lang, texts in values.items()}
    document = {k: v for k, v in (obj.translations or {}).items() if k not in values}
    document.update(translations_for(shown, fields))
    obj.translations = document


def mirror_version(campaign: Campaign, version: StatementVersion) -> None:
    """A statement's campaign shows its approved version: the translations follow the source columns."""
    campaign.translations = {
        lang: {VERSION_TO_CAMPAIGN[f]: value for f, value in texts.items() if f in VERSION_TO_CAMPAIGN}
        for lang, texts in (version.translations or {}).items()
    }
