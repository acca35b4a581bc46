"""Past one machine: two `chorus up` nodes on one PostgreSQL, one Redis and one S3-API object store
(moto's server on 127.0.0.1) share everything a supporter or an admin sees."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Export, Organization
from tests.factories import PASSWORD, confirm_link

CAMPAIGN = "/puentes/keep-families-together"
BUCKET = "chorus-nodes"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "#1f4e79").save(out, "PNG")
    return out.getvalue()


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def object_store(monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield f"s3://{BUCKET}/chorus?endpoint={endpoint}&region=us-east-1", client
    finally:
        client.close()
        server.stop()


def _wait_until_serving(url: str, node: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert node.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(url, timeout=15).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer: {log.read_text()[-3000:]}")


def _stop(node: subprocess.Popen) -> None:
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


def _token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return TOKEN.search(page.text).group(1)


def _tally(base: str) -> int:
    return requests.get(f"{base}{CAMPAIGN}/tally.json", timeout=30).json()["total"]


def _until(check, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot each look
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_two_nodes_share_signatures_tally_uploads_and_exports(backend, app, app_env, mailbox, object_store, tmp_path):
    if backend.name != "postgresql":
        pytest.skip("nodes share a PostgreSQL server; SQLite is one machine's database")
    storage_url, s3 = object_store
    chorus = str(Path(sys.executable).parent / "chorus")
    ports = [_free_port(), _free_port()]
    env = {
        **os.environ,
        **app_env,
        "CHORUS_STORAGE_URL": storage_url,
        "CHORUS_RATE_LIMITS": "off",
    }
    nodes, logs = [], []
    try:
        for n, port in enumerate(ports):  # started together: migrations and the demo load under a lock
            log = tmp_path / f"node-{n}.log"
            logs.append(log)
            node_env = {**env, "CHORUS_INSTANCE": str(tmp_path / f"node-{n}")}
            nodes.append(
                subprocess.Popen(
                    [chorus, "up", "--port", str(port), "--web-workers", "1"],
                    env=node_env,
                    stdout=subprocess.DEVNULL,
                    stderr=log.open("w"),
                )
            )
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        for base, node, log in zip((a, b), nodes, logs, strict=True):
            _wait_until_serving(f"{base}/puentes/", node, log)
        before = _tally(a)
        assert _tally(b) == before

        # A supporter signs on node A and confirms on node B; both nodes count it once.
        supporter = requests.Session()
        signed = supporter.post(
            f"{a}{CAMPAIGN}",
            data={
                "first_name": "Ana",
                "last_name": "Nodes",
                "email": "ana.nodes@example.org",
                "postal_code": "10001",
                "country": "US",
                "csrf_token": _token(supporter, f"{a}{CAMPAIGN}"),
            },
            allow_redirects=False,
            timeout=30,
        )
        assert signed.status_code == 303, signed.text[:500]
        message = _until(lambda: next((m for m in mailbox.messages if "ana.nodes@example.org" in m["To"]), None))
        link = f"{b}{confirm_link(message)}"
        confirmed = supporter.post(link, data={"csrf_token": _token(supporter, link)}, timeout=30)
        assert confirmed.status_code == 200
        assert _until(lambda: _tally(a) == before + 1 and _tally(b) == before + 1)

        # An admin uploads a logo on node A; node B serves it.
        done = subprocess.run(
            [chorus, "admin", "create", "admin@puentes.example", "--role", "org-admin", "--org", "puentes",
             "--password-stdin"],
            input=PASSWORD + "\n", env={**env, "CHORUS_INSTANCE": str(tmp_path / "node-0")},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        admin = requests.Session()
        login = admin.post(
            f"{a}/admin/login",
            data={
                "email": "admin@puentes.example",
                "password": PASSWORD,
                "csrf_token": _token(admin, f"{a}/admin/login"),
            },
            timeout=60,
        )
        assert login.status_code == 200 and "/admin/login" not in login.url
        png = _png()
        uploaded = admin.post(
            f"{a}/admin/puentes/branding",
            data={
                "name": "Puentes",
                "primary_color": "#1f4e79",
                "accent_color": "#f2a900",  # the demo's colours pass the contrast check
                "csrf_token": _token(admin, f"{a}/admin/puentes/branding"),
            },
            files={"logo": ("logo.png", png, "image/png")},
            timeout=30,
        )
        assert uploaded.status_code == 200, uploaded.text[:500]
        logo = _until(lambda: db.session.scalar(select(Organization.logo).where(Organization.slug == "puentes")))
        served = requests.get(f"{b}/assets/puentes/{logo}", timeout=30)
        assert (served.status_code, served.content) == (200, png)

        # An export asked for on node A is written by whichever worker takes it and downloads from node B.
        token = _token(admin, f"{a}/admin/puentes/campaigns/keep-families-together")
        requested = admin.post(
            f"{a}/admin/puentes/campaigns/keep-families-together/exports", data={"csrf_token": token}
        )
        assert requested.status_code == 200
        export = _until(lambda: db.session.scalar(select(Export).where(Export.status == "done")))
        download = admin.get(f"{b}/admin/puentes/exports/{export.uuid}/download", timeout=30)
        assert download.status_code == 200 and "ana.nodes@example.org" in download.text

        stored = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert {f"chorus/uploads/puentes/{logo}", f"chorus/exports/{export.uuid}.csv"} <= stored
        assert [p for n in (0, 1) for p in (tmp_path / f"node-{n}" / "exports").glob("*")] == []  # no local copy
    finally:
        for node in nodes:
            _stop(node)
