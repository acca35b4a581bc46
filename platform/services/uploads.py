"""The one check for uploaded images (members' logos, campaign images, organizations' sign-on
logos): the type is read from the content, never from the name, and SVG is parsed and written again
keeping only drawing elements, so no script, event handler or external reference survives."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from chorus.i18n import gettext as _

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
#: Drawing elements only: no script, foreignObject, use of external files, animation or links.
SVG_ELEMENTS = frozenset(
    "svg g defs title desc path rect circle ellipse line polyline polygon text tspan "
    "linearGradient radialGradient stop clipPath mask symbol use".split()
)
SVG_ATTRIBUTES = frozenset(
    "viewBox width height x y x1 y1 x2 y2 cx cy r rx ry d points fill stroke stroke-width "
    "stroke-linecap stroke-linejoin stroke-miterlimit stroke-dasharray stroke-opacity fill-opacity "
    "fill-rule clip-rule opacity transform id class offset stop-color stop-opacity gradientUnits "
    "gradientTransform clip-path mask font-family font-size font-weight text-anchor "
    "preserveAspectRatio version href".split()
)
_LOCAL_REF = re.compile(r"^#[A-Za-z][\w.-]*$")
_URL_REF = re.compile(r"url\(\s*(?!#)", re.IGNORECASE)


class UploadError(ValueError):
    pass


@dataclass(frozen=True)
class Image:
    suffix: str  # ".png", ".jpg", ".webp" or ".svg", from the content
    data: bytes


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if len(data) > 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def check(upload, max_bytes: int, allow_svg: bool = True) -> Image | None:
    """Read an uploaded file (a werkzeug FileStorage) and return what may be stored, or None when
    nothing was uploaded. Raises UploadError with a message for the person who uploaded it."""
    if upload is None or not getattr(upload, "filename", ""):
        return None
    upload.stream.seek(0)
    data = upload.stream.read(max_bytes + 1)
    upload.stream.seek(0)
    if len(data) > max_bytes:
        raise UploadError(_("The file is too large: at most %(kb)d kB.", kb=max_bytes // 1024))
    suffix = sniff(data)
    if suffix is not None:
        return Image(suffix, data)
    if allow_svg:
        return Image(".svg", clean_svg(data))
    raise UploadError(_("Upload a PNG, JPEG or WebP image."))


def clean_svg(data: bytes) -> bytes:
    """Parse an SVG and serialize only allowed elements and attributes (no DTD, no entities)."""
    not_svg = UploadError(_("Upload a PNG, JPEG, WebP or SVG image."))
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise not_svg  # no entity expansion, no external DTD
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError) as error:
        raise not_svg from error
    if root.tag != f"{{{SVG_NS}}}svg":
        raise not_svg
    _clean_element(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _local_name(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        namespace, _sep, local = name[1:].partition("}")
        return namespace, local
    return "", name


def _clean_element(element: ET.Element) -> None:
    for child in list(element):
        namespace, local = _local_name(child.tag) if isinstance(child.tag, str) else ("", "")
        if namespace != SVG_NS or local not in SVG_ELEMENTS:
            element.remove(child)
            continue
        _clean_element(child)
    for name, value in list(element.attrib.items()):
        namespace, local = _local_name(name)
        allowed = namespace in ("", XLINK_NS) and local in SVG_ATTRIBUTES
        if local == "href":
            allowed = allowed and bool(_LOCAL_REF.match(value.strip()))
        if not allowed or _URL_REF.search(value):
            del element.attrib[name]
