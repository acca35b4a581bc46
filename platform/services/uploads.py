"""One check for every image the platform accepts: member logos (admin or tenants/), campaign images,
organizations' sign-on logos.

The content decides, never the file name: PNG, JPEG and WebP are decoded completely with Pillow, so a
truncated or corrupt file is refused; an SVG is parsed with defusedxml (no DTD, no entities) and written
out again from an allow-list of elements and attributes, so scripts, event handlers, foreignObject and
references to anything outside the file never reach a browser. Stored names carry a hash of the
content: a new image gets a new URL (no stale cache) and two campaigns never share a file by accident.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from xml.etree import ElementTree

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from chorus.i18n import gettext as _
from chorus.services import storage

LOGO_MAX_BYTES = 512 * 1024
IMAGE_MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a few kB of PNG can claim gigapixels; refuse before decoding
RASTER = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "title", "desc", "path", "rect", "circle", "ellipse", "line",
    "polyline", "polygon", "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask",
}  # fmt: skip
SVG_ATTRIBUTES = {
    "id", "class", "viewBox", "preserveAspectRatio", "width", "height", "x", "y", "x1", "y1", "x2", "y2",
    "cx", "cy", "r", "rx", "ry", "d", "points", "transform", "fill", "fill-opacity", "fill-rule", "stroke",
    "stroke-width", "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-dasharray",
    "stroke-miterlimit", "opacity", "clip-path", "clip-rule", "mask", "offset", "stop-color", "stop-opacity",
    "gradientUnits", "gradientTransform", "spreadMethod", "fx", "fy", "font-family", "font-size",
    "font-weight", "font-style", "text-anchor", "dominant-baseline", "letter-spacing", "dx", "dy", "role",
    "aria-label", "aria-hidden", "focusable", "version", "style", "href", "display", "visibility",
}  # fmt: skip
#: url(...) pointing anywhere but inside the file, CSS imports, script-ish values.
UNSAFE_VALUE = re.compile(r"url\s*\(\s*['\"]?\s*[^#'\"\s]|@import|javascript:|expression\s*\(", re.IGNORECASE)


class UploadError(ValueError):
    """The file is not an image the platform accepts; the message says why, for the person uploading."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    suffix: str  # .png .jpg .webp .svg

    def name(self, stem: str) -> str:
        return f"{stem}-{hashlib.sha256(self.data).hexdigest()[:12]}{self.suffix}"


def check_image(data: bytes, max_bytes: int = IMAGE_MAX_BYTES) -> CheckedImage:
    """The image to store, or UploadError: too big, not PNG/JPEG/WebP/SVG, broken or unsafe."""
    if not data:
        raise UploadError(_("The file is empty."))
    if len(data) > max_bytes:
        raise UploadError(_("The file is too big: at most %(size)d kB.", size=max_bytes // 1024))
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return CheckedImage(_clean_svg(data), ".svg")
    return CheckedImage(data, _raster_suffix(data))


def read_upload(upload, max_bytes: int = IMAGE_MAX_BYTES) -> CheckedImage | None:
    """Check a werkzeug FileStorage; None when the field was left empty."""
    if upload is None or not getattr(upload, "filename", ""):
        return None
    return check_image(upload.stream.read(max_bytes + 1), max_bytes)


def upload_key(org_slug: str, name: str) -> str:
    """Where a member's image lives in chorus.services.storage (never in the checkout's tenants/)."""
    return f"uploads/{org_slug}/{name}"


def store(org_slug: str, stem: str, image: CheckedImage) -> str:
    """Store the checked image as <stem>-<hash><suffix>; returns the name served from /assets/<org>/."""
    name = image.name(stem)
    storage.storage().save(upload_key(org_slug, name), io.BytesIO(image.data))
    return name


def remove(org_slug: str, name: str) -> None:
    """Remove a stored image (a sign-on's logo whose sign-on is gone); absent is fine."""
    if name:
        storage.storage().delete(upload_key(org_slug, name))


def _raster_suffix(data: bytes) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(RASTER)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UploadError(_("The image is too large: at most 40 megapixels."))
                image.load()  # decodes every pixel: a truncated file fails here
                return RASTER[image.format]
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as error:
        raise UploadError(_("This file is not a PNG, JPEG, WebP or SVG image, or it is damaged.")) from error
    except Image.DecompressionBombError as error:
        raise UploadError(_("The image is too large: at most 40 megapixels.")) from error


def _clean_svg(data: bytes) -> bytes:
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise UploadError(_("This SVG file is not valid XML (for example an unescaped &).")) from error
    if root.tag != f"{{{SVG_NS}}}svg":
        raise UploadError(_("This file is not an SVG image (its root must be <svg> in the SVG namespace)."))
    clean = _copy_allowed(root)
    clean.set("xmlns", SVG_NS)  # the copy uses local names; the namespace is declared once on the root
    return ElementTree.tostring(clean, encoding="utf-8")


def _copy_allowed(source: ElementTree.Element) -> ElementTree.Element:
    """A copy of an allowed element with its allowed attributes and children; everything else is left out."""
    copy = ElementTree.Element(source.tag[len(SVG_NS) + 2 :])
    for key, value in source.attrib.items():
        name = "href" if key == f"{{{XLINK_NS}}}href" else key
        if name not in SVG_ATTRIBUTES or UNSAFE_VALUE.search(value):
            continue
        if name == "href" and not value.startswith("#"):
            continue  # only references inside the file
        copy.set(name, value)
    copy.text = source.text
    for child in source:
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{SVG_NS}}}"):
            if child.tag[len(SVG_NS) + 2 :] in SVG_ELEMENTS:
                kept = _copy_allowed(child)
                kept.tail = child.tail
                copy.append(kept)
    return copy
