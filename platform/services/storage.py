"""Where uploaded images and export files live, so that any web node serves what another stored.

Two backends behind one small interface, chosen by CHORUS_STORAGE_URL:
- unset (the embedded default): files under the instance folder (`uploads/<org>/...`, `exports/...`),
  right for one machine;
- `s3://BUCKET[/PREFIX]?endpoint=URL&region=NAME`: an S3-API object store (AWS S3, MinIO, Ceph,
  Garage...), shared by every node. Credentials come the way boto3 finds them (AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from the URL.

Keys are a few plain names joined by "/", such as `uploads/puentes/logo-1a2b3c.png` or
`exports/<uuid>.csv`. Files are streamed through the web node, never handed out as public URLs: an
export holds personal data.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from flask import Response, current_app, send_file

_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
_MISSING = ("404", "NoSuchKey", "NotFound")


def check_key(key: str) -> str:
    """No "..", no hidden names, nothing a URL could smuggle in: ValueError otherwise."""
    if not all(_SEGMENT.match(part) for part in key.split("/")):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def save(self, key: str, source: BinaryIO | Path) -> None:
        """Store `source` under `key`, atomically: an open binary file is copied; a local file (on the
        instance folder's file system, as an export's working file is) is moved."""
        target = self.path(key)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if isinstance(source, Path):
            os.replace(source, target)
            return
        partial = target.with_name(target.name + ".part")
        with open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(partial, target)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def send(self, key: str, **options) -> Response | None:
        """The file as a response (conditional: ETag, Last-Modified, ranges), or None if absent."""
        path = self.path(key)
        return send_file(path, **options) if path.is_file() else None


class S3Storage:
    def __init__(self, url: str):
        import boto3

        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.client = boto3.client("s3", endpoint_url=query.get("endpoint"), region_name=query.get("region"))

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def save(self, key: str, source: BinaryIO | Path) -> None:
        """One PUT (multipart past 8 MB): the object appears whole or not at all. A local file is
        removed once uploaded (an export's working file holds personal data)."""
        if isinstance(source, Path):
            self.client.upload_file(str(source), self.bucket, self._key(key))
            source.unlink()
        else:
            self.client.upload_fileobj(source, self.bucket, self._key(key))

    def delete(self, key: str) -> None:
        """S3 answers a missing key with success too."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def send(
        self,
        key: str,
        *,
        mimetype: str | None = None,
        as_attachment: bool = False,
        download_name: str | None = None,
        max_age: int | None = None,
    ) -> Response | None:
        """The object streamed through this node, or None if absent."""
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        body = found["Body"]
        name = download_name or key.rsplit("/", 1)[-1]
        response = Response(
            body.iter_chunks(64 * 1024),
            mimetype=mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
            direct_passthrough=True,
        )
        response.content_length = found.get("ContentLength")
        if found.get("ETag"):
            response.set_etag(found["ETag"].strip('"'))
        if as_attachment:
            response.headers.set("Content-Disposition", "attachment", filename=name)
        if max_age is not None:
            response.cache_control.public = True
            response.cache_control.max_age = max_age
        response.call_on_close(body.close)
        return response


def storage() -> LocalStorage | S3Storage:
    """This app's store, made once per process (boto3's client is thread-safe and keeps connections)."""
    store = current_app.extensions.get("chorus.storage")
    if store is None:
        url = current_app.config.get("CHORUS_STORAGE_URL") or ""
        store = S3Storage(url) if url else LocalStorage(Path(current_app.config["CHORUS_INSTANCE"]))
        current_app.extensions["chorus.storage"] = store
    return store
