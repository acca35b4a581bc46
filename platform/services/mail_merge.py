"""Mail merge: a batch of supporter mails renders each template once per distinct sender, campaign,
language and kind, with stand-ins for what belongs to one supporter, then writes each supporter's own
values in. Rendering the templates was 40 % of building a confirmation mail (bench/RESULTS.md), and
a surge's mails differ in little more than the name and the confirm link.

A render is only reused when it is safe to: the template is rendered twice with two different sets
of stand-ins, and the two must differ by exactly the stand-ins (a template that transforms a value,
`|upper`, `|truncate`, `|length`, or reads a field not merged, is rendered per mail as before). Empty
values are never stood in for: they are part of the key, so `{% if action.first_name %}` takes the
branch it would take. Each MailMerge lives for one batch, whose campaigns and members were read
once, so nothing edited since can be served from it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from flask import render_template
from markupsafe import escape

from chorus.i18n import current_lang

#: The person fields a supporter mail's templates print (chorus.models.Action's, _Anonymous's).
PERSON_FIELDS = ("first_name", "last_name", "full_name", "comment", "subject", "body", "email", "uuid", "language")


class _Unmergeable(Exception):
    """The template reads something of the person that is not merged: render it per mail."""


class _StandIn:
    """The person as the template sees it while rendering once for many: each non-empty field a
    stand-in token, anything else refused (the template is then rendered per mail)."""

    def __init__(self, fields: Mapping[str, object]):
        self.__dict__.update(fields)

    def __getattr__(self, name: str):
        raise _Unmergeable(name)


#: The two sets of stand-ins share no character at any position, differ in length and in their
#: number of words: whatever a template derives from a value (a slice, a case, a length, a count)
#: differs between the two renders. Letters, digits and a space: autoescaping leaves them as they are.
_ALPHABETS = ("abcdefghijklmABCDEFGHIJKLM01234", "nopqrstuvwxyzNOPQRSTUVWXYZ56789")


def _stand_in_token(which: int) -> str:
    """A random stand-in of set `which` (0 or 1), new for every render so no text can hold one."""
    alphabet = _ALPHABETS[which]
    word = "".join(alphabet[byte % len(alphabet)] for byte in secrets.token_bytes(16))
    return word if which == 0 else f"{word[:8]} {word[8:]}{alphabet[-1]}"


class MailMerge:
    """One batch's renders, by template name and everything the render depends on but the person."""

    def __init__(self) -> None:
        self._renders: dict[tuple, tuple[str, dict[str, str], re.Pattern] | None] = {}

    def render(
        self, names: list[str], key: tuple | None, context: dict, person: tuple[str, object], own: dict[str, str]
    ) -> list[str]:
        """Each of `names` (a mail's text and HTML parts) as `render_template(name, **context,
        **{person[0]: person[1]}, **own)`, from this batch's one render for `key` (what the render
        depends on in `context`) where it is safe; `key` None: the context holds more of the mail's
        own, render it as it is. `own`: the mail's other values of its own (its confirm link)."""
        variable, real = person

        def alone(name: str) -> str:
            return render_template(name, **context, **{variable: real}, **own)

        fields = {f: getattr(real, f, None) for f in PERSON_FIELDS}
        values = {**{f"{variable}.{f}": v for f, v in fields.items() if v}, **{k: v for k, v in own.items() if v}}
        if key is None or not all(isinstance(v, str) for v in values.values()):
            return [alone(name) for name in names]
        # Which values are empty, and how (None or ""): the render's branches depend on it.
        shape = tuple((f, bool(v) or v) for f, v in fields.items()) + tuple((k, bool(v) or v) for k, v in own.items())
        escaped = {slot: str(escape(value)) for slot, value in values.items()}
        parts = []
        for name in names:
            cache_key = (name, key, current_lang(), shape)
            if cache_key not in self._renders:
                self._renders[cache_key] = self._merged_render(name, context, variable, fields, own)
            merged = self._renders[cache_key]
            if merged is None:
                parts.append(alone(name))
            else:  # what Flask autoescapes (.html) gets each value escaped; a .txt part as it is
                parts.append(_write_in(merged, escaped if name.endswith(".html") else values))
        return parts

    @staticmethod
    def _merged_render(name: str, context: dict, variable: str, fields: dict, own: dict) -> tuple | None:
        """(render with stand-ins, {stand-in: slot}, a pattern finding the stand-ins), or None where
        reusing it would not be exact."""
        renders = []
        for which in (0, 1):
            tokens = {_stand_in_token(which): slot for slot in (f"{variable}.{f}" for f, v in fields.items() if v)}
            tokens.update({_stand_in_token(which): k for k, v in own.items() if v})
            slots = {slot: token for token, slot in tokens.items()}
            stand_in = _StandIn({f: slots.get(f"{variable}.{f}", v) for f, v in fields.items()})
            stand_ins = {k: slots.get(k, v) for k, v in own.items()}
            try:
                rendered = render_template(name, **context, **{variable: stand_in}, **stand_ins)
            except _Unmergeable:
                return None
            renders.append((rendered, tokens, slots))
        (first, tokens, first_slots), (second, _tokens, second_slots) = renders
        swapped = first
        for slot, token in first_slots.items():
            swapped = swapped.replace(token, second_slots[slot])
        if swapped != second:
            return None
        return first, tokens, re.compile("|".join(map(re.escape, tokens)))


def _write_in(merged: tuple[str, dict[str, str], re.Pattern], values: dict[str, str]) -> str:
    """The merged render with each stand-in replaced by its slot's value, in one pass."""
    rendered, tokens, pattern = merged
    return pattern.sub(lambda found: values[tokens[found.group(0)]], rendered) if tokens else rendered
