"""The URL converters every blueprint's routes use, registered once by the app factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, IntegerConverter

#: The largest id a row can have: SQLite's integers are 64-bit, and a bigger number raises OverflowError.
MAX_ROW_ID = 2**63 - 1


class SlugConverter(BaseConverter):
    regex = r"[a-z0-9][a-z0-9-]{0,79}"


class RowIdConverter(IntegerConverter):
    """Every `<int:...>` route, admin and public: a number no row can have is no page (404), never an
    OverflowError."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int = MAX_ROW_ID, signed=False):
        super().__init__(url_map, fixed_digits, min, max, signed)


def row_id(value: str) -> int | None:
    """An id sent in a form or query string: ASCII digits naming a row that may exist, else None."""
    well_formed = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ROW_ID))
    return int(value) if well_formed and int(value) <= MAX_ROW_ID else None


def init_app(app: Flask) -> None:
    app.url_map.converters["slug"] = SlugConverter
    app.url_map.converters["int"] = RowIdConverter
