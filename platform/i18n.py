"""English and Spanish through Flask-Babel. The English text is the message id; translations are the
gettext catalogues in platform/translations/<lang>/LC_MESSAGES/messages.po (`make i18n` extracts new
strings into them).

The catalogues are read from the .po files when the app starts: no compiled .mo file is kept in the
repository (binary files do not merge) and nothing needs compiling before the app runs.

The language is chosen once per request: `?lang=` (remembered in a cookie), then the cookie, then
the browser's Accept-Language. Jobs set `g.lang` to the supporter's recorded language, and since the
catalogue is looked up from `current_lang()` at every call, a job can switch between supporters.
"""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, Domain, lazy_gettext, ngettext
from werkzeug.datastructures import LanguageAccept

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "current_lang", "gettext", "lazy_gettext", "ngettext", "KIND_NAMES"]

#: The app's languages, each named in itself (the language menu). The first is the one admins write
#: campaigns in; the others are the languages of translations (chorus.services.content).
LANGUAGES = {"en": "English", "es": "Español"}
#: The same languages named in the reader's language ("shown in English" / "se muestra en inglés").
LANGUAGE_NAMES = {"en": lazy_gettext("English"), "es": lazy_gettext("Spanish")}
CATALOGUES = Path(__file__).resolve().parent / "translations"

KIND_NAMES = {"petition": lazy_gettext("petition"), "letter": lazy_gettext("letter"),
              "statement": lazy_gettext("statement")}


def current_lang() -> str:
    """Chosen on first use, so error pages raised before any view (404 on a member) are translated."""
    if "lang" not in g:
        g.lang = _choose_language() if has_request_context() else "en"
    return g.lang


@contextlib.contextmanager
def in_language(lang: str | None):
    """Render something (a mail to one staff member) in `lang`, then give back the language chosen before."""
    before = g.get("lang")
    g.lang = lang if lang in LANGUAGES else "en"
    try:
        yield
    finally:
        if before is None:
            g.pop("lang", None)
        else:
            g.lang = before


@functools.cache
def _catalogue(po_path: Path, mtime: float) -> Translations:
    """Parse one .po file (once per version of the file) into gettext translations, fuzzy entries left out."""
    with po_path.open("rb") as po:
        catalog = read_po(po, locale=po_path.parent.parent.name)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def load_catalogues(directory: Path = CATALOGUES) -> dict[str, Translations]:
    return {
        po.parent.parent.name: _catalogue(po, po.stat().st_mtime)
        for po in sorted(directory.glob("*/LC_MESSAGES/messages.po"))
    }


#: English, the source language, has no catalogue; one shared object (asked for at every gettext call).
_UNTRANSLATED = NullTranslations()


def translations() -> NullTranslations:
    """The catalogue of `current_lang()`, loaded at app start. Looked up directly: Flask-Babel's way
    to it, through its domain and context at every call, was a sixth of building a supporter mail."""
    if not has_app_context():
        return _UNTRANSLATED
    return current_app.extensions["chorus.catalogues"].get(current_lang()) or _UNTRANSLATED


def gettext(string: str, **variables) -> str:
    """Flask-Babel's gettext on `translations()`: `gettext("Hello %(name)s", name=...)`."""
    translated = translations().ugettext(string)
    return translated % variables if variables else translated


class _CatalogueDomain(Domain):
    """Flask-Babel's domain (lazy_gettext, ngettext), reading the catalogues loaded at app start."""

    def get_translations(self):
        return translations()


class _Babel(Babel):
    @property
    def domain_instance(self) -> Domain:
        return _DOMAIN


_DOMAIN = _CatalogueDomain()


def _choose_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.remember_lang = True
        return asked
    return language_of(request.cookies.get("lang"), request.accept_languages)


def language_of(cookie: str | None, accept_languages: LanguageAccept) -> str:
    """Without `?lang=`: the language cookie, then the browser's Accept-Language, then English."""
    return cookie if cookie in LANGUAGES else (accept_languages.best_match(LANGUAGES) or "en")


#: Every page's language depends on these request headers (caches must keep one copy per value).
VARY = ("Cookie", "Accept-Language")


def _remember_language(response):
    if getattr(g, "remember_lang", False):
        response.set_cookie("lang", current_lang(), max_age=365 * 86400, samesite="Lax")
    for header in VARY:
        response.vary.add(header)
    return response


def init_app(app: Flask) -> None:
    """Flask-Babel installs Jinja's i18n extension (`_`, `gettext`, `ngettext` in templates)."""
    app.extensions["chorus.catalogues"] = load_catalogues()
    _Babel(app, locale_selector=current_lang)
    app.jinja_env.install_gettext_callables(  # Flask-Babel's, without its way round (translations())
        gettext=lambda string: translations().ugettext(string),
        ngettext=lambda singular, plural, n: translations().ungettext(singular, plural, n),
        newstyle=True,
    )
    app.after_request(_remember_language)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_lang=current_lang, KIND_NAMES=KIND_NAMES)
