"""One check for every image Chorus accepts: by content, size-limited, SVG re-serialized without scripts."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign
from chorus.services import campaigns, storage, tenants, uploads
from tests.factories import login, make_org, make_user, session_csrf


def picture(fmt: str, colour: str = "red", size: tuple[int, int] = (4, 4)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def test_png_jpeg_and_webp_are_recognised_by_content_whatever_their_name(app):
    assert uploads.check_image(picture("PNG")).suffix == ".png"
    assert uploads.check_image(picture("JPEG")).suffix == ".jpg"
    assert uploads.check_image(picture("WEBP")).suffix == ".webp"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not what we take", "not a PNG, JPEG, WebP or SVG"),
        (picture("PNG")[:-20], "damaged"),
        (picture("JPEG")[:40], "damaged"),
        (b"x" * (uploads.LOGO_MAX_BYTES + 1), "too big"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><text>Harbor & Warehouse</text></svg>', "not valid XML"),
        (b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>', "not valid XML"),
        (b"<html><script>alert(1)</script></html>", "not an SVG image"),
    ],
)
def test_broken_unsafe_or_oversized_files_are_refused_with_a_message(app, data, message):
    with pytest.raises(uploads.UploadError, match=message):
        uploads.check_image(data, uploads.LOGO_MAX_BYTES)


def test_an_image_claiming_too_many_pixels_is_refused_before_decoding(app):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 8000, 6000, 8, 2, 0, 0, 0)  # 48 megapixels, RGB, in a few bytes
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    with pytest.raises(uploads.UploadError, match="too large"):
        uploads.check_image(bomb, uploads.IMAGE_MAX_BYTES)


def test_svg_is_rewritten_without_scripts_handlers_or_outside_references(app):
    hostile = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
        viewBox="0 0 10 10" onload="alert(1)">
      <script>alert(2)</script>
      <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
      <a href="javascript:alert(3)"><circle r="1"/></a>
      <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
      <rect width="10" height="10" fill="url(#g)" style="fill: url(https://evil.example/x)"/>
      <use xlink:href="#g"/><use href="https://evil.example/sprite.svg#a"/>
      <image href="https://evil.example/track.png"/>
      <text x="1" y="9" font-size="4">Local 12</text>
    </svg>"""
    clean = uploads.check_image(hostile).data.decode()
    for gone in ("script", "alert", "onload", "foreignObject", "evil.example", "javascript", "<image"):
        assert gone not in clean
    for kept in ('viewBox="0 0 10 10"', 'fill="url(#g)"', '<use href="#g"', ">Local 12</text>", "stop-color"):
        assert kept in clean
    assert clean.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in clean


def test_two_campaigns_of_one_member_keep_their_own_images(client):
    make_user("admin@puentes.example", "org-admin", make_org("puentes"))
    login(client, "admin@puentes.example")
    token = session_csrf(client, "/admin/puentes/campaigns/new")
    images = {"river": picture("PNG", "blue"), "school": picture("JPEG", "green")}
    for slug, data in images.items():
        created = client.post(
            "/admin/puentes/campaigns/new",
            content_type="multipart/form-data",
            data={"csrf_token": token, "title": slug, "slug": slug, "image": (io.BytesIO(data), "photo.png")},
        )
        assert created.status_code == 302
    stored = dict(db.session.execute(select(Campaign.slug, Campaign.image)).all())
    assert stored["river"] != stored["school"] and "None" not in stored["river"]
    assert stored["school"].endswith(".jpg")  # the content decides, not the name it was sent with
    for slug, data in images.items():
        preview = client.get(f"/admin/puentes/campaigns/{slug}/preview").get_data(as_text=True)
        assert f"/assets/puentes/{stored[slug]}" in preview
        assert client.get(f"/assets/puentes/{stored[slug]}").data == data


def test_a_broken_logo_is_refused_in_the_admin_and_nothing_is_saved(client):
    org = make_org("union", name="Local 12")
    make_user("ed@union.example", "org-admin", org)
    login(client, "ed@union.example")
    token = session_csrf(client, "/admin/union/branding")
    refused = client.post(
        "/admin/union/branding",
        content_type="multipart/form-data",
        data={
            "csrf_token": token,
            "name": "Renamed",
            "primary_color": "#123456",
            "accent_color": "#ffffff",
            "logo": (io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"><text>A & B</text></svg>'), "logo.svg"),
        },
    )
    assert refused.status_code == 422 and "not valid XML" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert campaigns.get_org("union").name == "Local 12" and campaigns.get_org("union").logo == ""


def test_tenants_sync_checks_logos_like_uploads(app, tmp_path: Path):
    folder = tmp_path / "members" / "harbor"
    folder.mkdir(parents=True)
    (folder / "tenant.toml").write_text('name = "Harbor"\nlogo = "logo.svg"\n')
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><title>A & B</title></svg>')
    with pytest.raises(tenants.TenantError, match=r"logo\.svg: This SVG file is not valid XML"):
        tenants.sync(tmp_path / "members")
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><title>A</title></svg>')
    tenants.sync(tmp_path / "members")
    logo = campaigns.get_org("harbor").logo
    assert "onload" not in storage.storage().path(uploads.upload_key("harbor", logo)).read_text()


def test_member_header_is_one_named_link_and_favicon_exists(client):
    org = make_org("union", name="Local 12")
    org.logo = uploads.store("union", "logo", uploads.check_image(picture("PNG")))
    db.session.commit()
    page = client.get("/union/").get_data(as_text=True)
    assert '<a class="brand" href="/union/">' in page and '<span class="name">Local 12</span>' in page
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.data[:4] == b"\x00\x00\x01\x00"
