"""One rule for text that can reach a mail header (names, titles, subjects, organization names):
no Unicode control, format, line separator or paragraph separator character (categories Cc, Cf,
Zl, Zp; CR and LF are Cc), except the zero-width joiner and non-joiner, which Persian, the scripts
of India and emoji sequences need and which cannot break a header. Forms refuse such text at input
(chorus.public.forms.clean_text), and mail composition removes it again
(chorus.services.mail.plain_message), so text stored before the rule, or arriving by another path,
cannot break a message either.
"""

from __future__ import annotations

import unicodedata

HEADER_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp"})
JOINERS = frozenset("\u200c\u200d")


def _unsafe(c: str) -> bool:
    return unicodedata.category(c) in HEADER_UNSAFE and c not in JOINERS


def header_unsafe(value: str) -> bool:
    """True if `value` holds a character that must never reach a header."""
    if value.isascii():  # the common case, at C speed: ASCII's only such characters are Cc (0-31, 127)
        return not value.isprintable()
    return any(map(_unsafe, value))


def one_line(value: str) -> str:
    """`value` with each header-unsafe character turned into a space."""
    if not header_unsafe(value):
        return value
    return "".join(" " if _unsafe(c) else c for c in value)
