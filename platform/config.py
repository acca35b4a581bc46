"""Configuration read from the environment inside the app factory (never at import time)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

#: The checkout Chorus runs from: shared templates, tenants/ and migrations/ live beside platform/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message is one line for the operator."""


def _secret_key(environ: Mapping[str, str], instance: Path, env: str) -> str:
    """Use SECRET_KEY, or generate one into the instance folder once so sessions survive restarts."""
    if environ.get("SECRET_KEY"):
        return environ["SECRET_KEY"]
    if env == "production":
        raise ConfigError("SECRET_KEY must be set when CHORUS_ENV=production")
    key_file = instance / "secret_key"
    if not key_file.exists():
        # Written whole under another name, then linked into place: a process starting at the same
        # moment reads either no file or the complete key, and of two new keys the first linked wins.
        fd, written = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(written, key_file)
        finally:
            os.unlink(written)
    key = key_file.read_text().strip()
    if len(key) < 32:  # an empty or cut key signs sessions and links with something anyone can guess
        raise ConfigError(f"{key_file} holds no usable key: delete it (a new one is made) or set SECRET_KEY")
    return key


def _whole_number(environ: Mapping[str, str], name: str, default: int, low: int = 1, high: int = 1_000_000) -> int:
    """A setting that is a whole number from `low` to `high`, else one clear line. The default bound
    (a million: seconds are 11 days) keeps a typo from overflowing a date or a timer far from here."""
    raw = environ.get(name, "")
    if not raw:
        return default
    if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:  # "²" is a digit to isdigit(), not to int()
        return int(raw)
    raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")


def _periods(environ: Mapping[str, str]) -> dict[str, int]:
    """CHORUS_EVERY_<TASK>=seconds: the period of a periodic task (chorus.services.periodic)."""
    return {name: _whole_number(environ, name, 1) for name in environ if name.startswith("CHORUS_EVERY_")}


def _tenants_dir(environ: Mapping[str, str]) -> str:
    """Checked at start: a missing folder would fail later, in a command that does not name it."""
    folder = environ.get("CHORUS_TENANTS_DIR") or str(PROJECT_ROOT / "tenants")
    if not Path(folder).is_dir():
        raise ConfigError(f"CHORUS_TENANTS_DIR must be a folder that exists, not {folder!r}")
    return folder


def _redis_url(environ: Mapping[str, str]) -> str:
    """Checked at start: redis-py reads a database number it cannot parse as 0, maybe another's keys."""
    url = environ.get("REDIS_URL", "")
    parts = urlsplit(url)
    number = (parts.path.lstrip("/") if parts.scheme in ("redis", "rediss") else "") or "0"
    if url and (parts.scheme not in ("redis", "rediss", "unix") or not (number.isascii() and number.isdigit())):
        raise ConfigError(f"REDIS_URL must be redis://HOST:PORT/N, rediss://… or unix:///PATH?db=N, not {url!r}")
    return url


def _split(url: str) -> SplitResult | None:
    """`url`'s parts, or None when its port is no number (urlsplit only says so when asked for it)."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        return None
    return parts


def _mail_url(environ: Mapping[str, str]) -> str:
    """Checked at start, not at the first mail: a typo would otherwise leave every mail waiting."""
    url = environ.get("MAIL_URL", "outbox")
    if url == "outbox":
        return url
    parts = _split(url)
    if parts is None or parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"MAIL_URL must be 'outbox', smtp://host:port or smtps://host:port, not {url!r}")
    return url


#: libpq's own limits: a connection attempt that gets no answer (a partitioned network, a server that
#: accepts and then says nothing) fails after `connect_timeout` seconds, and a connection whose peer vanished is
#: found dead by TCP in under half a minute instead of the kernel's hours; requests then get the 503
#: page (chorus.errors) instead of holding every web thread. SQLite needs none of this.
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,  # ms: data sent and not acknowledged
}


def _engine_options(database_url: str) -> dict:
    if not database_url.startswith("postgresql"):
        return {}
    # A request waits for a pooled connection at most this long (then 503), not SQLAlchemy's 30 s.
    return {"connect_args": dict(POSTGRES_CONNECT_ARGS), "pool_timeout": 10}


def _base_url(environ: Mapping[str, str]) -> str:
    """Checked at start: every e-mailed link is made from it, and a typo would break them all silently."""
    url = environ.get("CHORUS_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    parts = _split(url)
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(f"CHORUS_BASE_URL must be http(s)://HOST[:PORT], the site's public address, not {url!r}")
    return url


def _mail_domain(environ: Mapping[str, str], base_url: str) -> str:
    """The domain mail is sent from (no-reply@, letters@, Message-IDs): the site's host unless set."""
    domain = environ.get("CHORUS_MAIL_DOMAIN", "")
    if not domain:
        return urlsplit(base_url).hostname  # checked: it has one
    if not (domain.isascii() and all(label and label.replace("-", "").isalnum() for label in domain.split("."))):
        raise ConfigError(f"CHORUS_MAIL_DOMAIN must be a domain name such as example.org, not {domain!r}")
    return domain.lower()


def _storage_url(environ: Mapping[str, str]) -> str:
    url = environ.get("CHORUS_STORAGE_URL", "")
    if url and not (url.startswith("s3://") and len(url) > len("s3://") and url[5] not in "/?"):
        raise ConfigError(f"CHORUS_STORAGE_URL must be s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME], not {url!r}")
    return url


def from_environment(environ: Mapping[str, str] = os.environ) -> dict:
    """Settings for create_app, from the variables documented in the README."""
    instance = Path(environ.get("CHORUS_INSTANCE", "instance")).resolve()
    try:
        instance.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"CHORUS_INSTANCE: cannot use {str(instance)!r} as the instance folder ({reason})") from None
    env = environ.get("CHORUS_ENV", "development")
    if env not in ("development", "production"):
        raise ConfigError(f"CHORUS_ENV must be development or production, not {env!r}")
    unknown_hosts = environ.get("CHORUS_UNKNOWN_HOSTS") or ("404" if env == "production" else "coalition")
    if unknown_hosts not in ("coalition", "404"):
        raise ConfigError(f"CHORUS_UNKNOWN_HOSTS must be coalition or 404, not {unknown_hosts!r}")
    base_url = _base_url(environ)
    return {
        "CHORUS_ENV": env,
        "CHORUS_UNKNOWN_HOSTS": unknown_hosts,
        "CHORUS_INSTANCE": str(instance),
        "SECRET_KEY": _secret_key(environ, instance, env),
        "SQLALCHEMY_DATABASE_URI": environ.get("DATABASE_URL") or f"sqlite:///{instance / 'chorus.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(environ.get("DATABASE_URL") or ""),
        "REDIS_URL": _redis_url(environ),
        "MAIL_URL": _mail_url(environ),
        "CHORUS_BASE_URL": base_url,
        "CHORUS_MAIL_DOMAIN": _mail_domain(environ, base_url),
        "CHORUS_RATE_LIMITS": environ.get("CHORUS_RATE_LIMITS", "on").lower() != "off",
        "CHORUS_TENANTS_DIR": _tenants_dir(environ),
        "SESSION_COOKIE_SECURE": env == "production",
        "CHORUS_DELIVERY_LEASE": _whole_number(environ, "CHORUS_DELIVERY_LEASE", 60),
        "CHORUS_DOMAIN_RATE": _whole_number(environ, "CHORUS_DOMAIN_RATE", 1200),
        "CHORUS_STORAGE_URL": _storage_url(environ),
        "CHORUS_API_RATE_LIMIT": _whole_number(environ, "CHORUS_API_RATE_LIMIT", 600),
        "CHORUS_WEBHOOK_ALLOW_PRIVATE": environ.get("CHORUS_WEBHOOK_ALLOW_PRIVATE", "") == "1",
        "CHORUS_WEBHOOK_PAUSE_AFTER": _whole_number(environ, "CHORUS_WEBHOOK_PAUSE_AFTER", 10),
        # The ticker (chorus.services.periodic): seconds between ticks, a run's lease, task periods.
        "CHORUS_TICK": _whole_number(environ, "CHORUS_TICK", 5),
        "CHORUS_TASK_LEASE": _whole_number(environ, "CHORUS_TASK_LEASE", 300),
        "CHORUS_EVERY": _periods(environ),
        "CHORUS_EXPORT_LEASE": _whole_number(environ, "CHORUS_EXPORT_LEASE", 300),
        "CHORUS_MAIL_LEASE": _whole_number(environ, "CHORUS_MAIL_LEASE", 60),
        "CHORUS_MAIL_BACKOFF": _whole_number(environ, "CHORUS_MAIL_BACKOFF", 30),
        "CHORUS_MAIL_ATTEMPTS": _whole_number(environ, "CHORUS_MAIL_ATTEMPTS", 8),
        # Seconds a supporter mail may wait while a surge keeps the machine busy (chorus.services.pacing).
        "CHORUS_MAIL_SURGE_WAIT": _whole_number(environ, "CHORUS_MAIL_SURGE_WAIT", 45, low=0, high=3600),
        "CHORUS_TALLY_SETTLE": _whole_number(environ, "CHORUS_TALLY_SETTLE", 15),
        # How far below the web a worker's CPU priority sits (as nice(1)).
        "CHORUS_WORKER_NICE": _whole_number(environ, "CHORUS_WORKER_NICE", 10, low=0, high=19),
    }
