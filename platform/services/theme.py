"""A member's colours as the pages use them, and the WCAG AA check of every text/background pair.

The admin refuses colours that fail (naming the pair); colours that arrive otherwise (tenants/, older
rows) are adjusted when the page is drawn, so no page ever ships unreadable text.
"""

from __future__ import annotations

import re

from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l

WHITE, BLACK, PAGE = "#ffffff", "#000000", "#fafafa"
#: A colour as members give it, #rrggbb (\Z, not $: "$" would let a trailing line break through).
COLOUR = re.compile(r"#[0-9a-fA-F]{6}\Z")
AA = 4.5


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


#: What each pair is, in the order of `pairs` (the branding page's live preview names them the same way).
PAIR_NAMES = (
    _l("white text on the main colour (page header, buttons)"),
    _l("the main colour as text on the page (links, counters)"),
    _l("black text on the accent colour (campaign labels)"),
)


def pairs(primary: str, accent: str) -> list[tuple[str, str, str, str]]:
    """(which colour, what it is, text, background) for every text the theme draws in the member's colours."""
    white, main, black = PAIR_NAMES
    return [("primary", white, WHITE, primary), ("primary", main, primary, PAGE), ("accent", black, BLACK, accent)]


def problems(primary: str, accent: str, which: str) -> list[str]:
    """One sentence per pair of colour `which` ("primary" or "accent") below AA, naming the pair."""
    return [
        _(
            "Not enough contrast for %(what)s: %(ratio).1f:1, at least %(needed)s:1 is needed.",
            what=what,
            ratio=contrast(fg, bg),
            needed=AA,
        )
        for key, what, fg, bg in pairs(primary, accent)
        if key == which and contrast(fg, bg) < AA
    ]


def _darken(colour: str, background: str) -> str:
    """The colour mixed with black just enough to read on `background`."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    for step in range(21):
        mixed = "#" + "".join(f"{round(c * (1 - step / 20)):02x}" for c in rgb)
        if contrast(mixed, background) >= AA:
            return mixed
    return BLACK


def variables(primary: str, accent: str) -> dict[str, str]:
    """CSS custom properties for base.html: the colours, and the text colours that read on them."""
    return {
        "--brand": primary,
        "--accent": accent,
        "--brand-ink": WHITE if contrast(WHITE, primary) >= AA else BLACK,
        "--brand-text": _darken(primary, PAGE),
        "--accent-ink": BLACK if contrast(BLACK, accent) >= AA else WHITE,
    }
