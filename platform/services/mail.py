"""Outgoing mail: composing supporter messages and sending them in batches over one connection.

MAIL_URL chooses the transport: `outbox` writes one RFC 5322 .eml file per message into
<instance>/outbox/ (the embedded default), `smtp://user:pass@host:port` (`?starttls=1`) or
`smtps://...` talks to a real server.
"""

from __future__ import annotations

import binascii
import functools
import re
import smtplib
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from email import charset as email_charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, getaddresses
from hashlib import sha256
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from itsdangerous import BadSignature, Serializer, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from chorus import tenancy, text
from chorus.i18n import gettext
from chorus.models.base import utcnow


class _RawPolicy(Compat32):
    """compat32 writing our one-line 7-bit header values as they are: its own folding parses each one
    into an `email.header.Header` again (40 % of building a supporter mail). Anything else (a value
    folded by RFC 2047 encoding, or not ASCII) is folded as compat32 does."""

    def fold_binary(self, name, value):
        if isinstance(value, str) and value.isascii() and "\n" not in value and len(name) + len(value) < 996:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


#: The policy of `plain_message`: headers stored as the strings we encode ourselves.
_RAW_POLICY = _RawPolicy(linesep="\r\n", max_line_length=998)
_UTF8 = email_charset.Charset("utf-8")
_UTF8.header_encoding = email_charset.QP
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


#: An address header's (display name, address): written as it is, where a string would be parsed.
Address = tuple[str, str]


def _header_value(name: str, value: str | Address) -> str:
    """One header value, on one line and 7-bit: chorus.text's rule, then RFC 2047 for what is not
    ASCII (display names in address headers, the rest whole)."""
    if isinstance(value, tuple):
        display_name, address = (text.one_line(part) for part in value)
        return _address(display_name, address)
    value = text.one_line(value)
    if name.lower() in _ADDRESS_HEADERS:
        return ", ".join(_address(*pair) for pair in getaddresses([value]))
    return value if _literal(value) else Header(value, _UTF8, maxlinelen=998).encode()


def _literal(value: str) -> bool:
    """Text a mail reader shows as written: ASCII that holds no "=?", which readers would decode as
    an RFC 2047 encoded word (typed by someone, it could carry a CR LF or a bidi override past
    chorus.text's rule); such text is encoded itself, so it reads back as typed."""
    return value.isascii() and "=?" not in value


def _address(display_name: str, address: str) -> str:
    if display_name and not _literal(display_name):
        display_name = Header(display_name, _UTF8, maxlinelen=998).encode()
    return formataddr((display_name, address), charset=_UTF8)


def _text_part(content: str, subtype: str) -> Message:
    """A text part with its MIME headers written here: 7-bit as it is where it can be (ASCII, no line
    over SMTP's 998 characters), else UTF-8 quoted-printable. MIMEText's parsing of its own
    Content-Type parameters was a tenth of a delivery worker's CPU; the quoted-printable is
    binascii's (C), a quarter of the time of the email package's own encoder."""
    seven_bit = content.isascii() and max(map(len, content.splitlines()), default=0) <= 998
    part = Message(policy=_RAW_POLICY)
    part["MIME-Version"] = "1.0"
    part["Content-Type"] = f'text/{subtype}; charset="{"us-ascii" if seven_bit else "utf-8"}"'
    part["Content-Transfer-Encoding"] = "7bit" if seven_bit else "quoted-printable"
    part.set_payload(content if seven_bit else binascii.b2a_qp(content.encode(), istext=True).decode("ascii"))
    return part


def _boundary() -> str:
    return f"=_{uuid.uuid4().hex}"


def plain_message(
    headers: dict[str, str | Address], text: str, html: str | None = None, attachments: list[tuple[str, str]] = ()
) -> Message:
    """A text message (with an optional HTML alternative, and text files attached as (name, text))
    whose headers are encoded here instead of by the modern email policy, whose header parser took
    half a delivery worker's CPU (bench/RESULTS.md): building one this way costs a fifth. Every
    header passes chorus.text's rule (`_header_value`); give address headers as `Address` pairs
    where the parts are known (parsing strings back into them was a tenth of a worker's CPU).

    Multipart boundaries are random 128-bit tokens chosen here: no text can hold one it never saw,
    and the generator's own choice compiles a new regular expression per message to check its
    candidate against the text (a tenth of building a confirmation mail)."""
    msg = _text_part(text, "plain")
    if html is not None:
        alternative = MIMEMultipart("alternative", boundary=_boundary(), policy=_RAW_POLICY)
        alternative.attach(msg)
        alternative.attach(_text_part(html, "html"))
        msg = alternative
    if attachments:
        mixed = MIMEMultipart("mixed", boundary=_boundary(), policy=_RAW_POLICY)
        mixed.attach(msg)
        for filename, content in attachments:
            part = _text_part(content, "plain")
            part.add_header("Content-Disposition", "attachment", filename=filename)
            mixed.attach(part)
        msg = mixed
    for name, value in headers.items():
        msg[name] = _header_value(name, value)
    return msg


class _Unzipped:
    """itsdangerous' URL-safe payload without trying zlib on it first: our values (an id, a member and
    an address) are too short to shrink, so the token is the same, and the attempt was half the cost
    of making one (three per supporter mail). `loads` reads both kinds as before."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class _Serializer(_Unzipped, URLSafeSerializer):
    pass


class _TimedSerializer(_Unzipped, URLSafeTimedSerializer):
    pass


@functools.lru_cache(maxsize=32)
def _signing(kind: type[URLSafeSerializer], secret_key: str, salt: str) -> URLSafeSerializer:
    return kind(secret_key, salt=salt)


def _serializer(purpose: str, timed: bool = False) -> URLSafeSerializer:
    """The serializer of links for `purpose` (made once per key and purpose)."""
    return _signing(_TimedSerializer if timed else _Serializer, current_app.config["SECRET_KEY"], f"chorus.{purpose}")


def make_token(purpose: str, value: str) -> str:
    """A stateless signed token (confirm links, unsubscribe links): jobs rebuild it from an id."""
    return _serializer(purpose).dumps(value)


def in_language(language: str) -> str:
    """The query that opens a mailed link in the language the person acted in, whatever their browser
    prefers (the link may point to a member's own host, where no language cookie is set yet)."""
    return f"?lang={language}" if language != "en" else ""


def read_token(purpose: str, token: str) -> str | None:
    try:
        value = _serializer(purpose).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def unsubscribe_url(email_normalized: str, org_slug: str | None, root: str | None = None) -> str:
    """The link in a member's mail stops that member's mail; without a member, the coalition's.
    `root` is the member's own host when it has one (chorus.tenancy.public_root)."""
    value = f"{org_slug or ''}\n{email_normalized}"
    return f"{root or current_app.config['CHORUS_BASE_URL']}/unsubscribe/{make_token('unsubscribe', value)}"


def read_unsubscribe(token: str) -> tuple[str | None, str] | None:
    """(member slug or None, address) from an unsubscribe link; links sent before members were
    named in them carry only the address."""
    value = read_token("unsubscribe", token)
    if value is None:
        return None
    slug, sep, address = value.partition("\n")
    return (slug or None, address) if sep else (None, value)


#: Seconds a "manage my data" link works: long enough to open it, short enough that an old mail
#: forwarded or left in a shared inbox does not keep the door open.
MANAGE_MAX_AGE = 48 * 3600


def manage_url(email_normalized: str, org_slug: str | None, root: str | None = None) -> str:
    """The supporter's own "manage my data" page (chorus.services.my_data), signed and expiring.
    `org_slug` only brands the page; what it shows is everything held about the address."""
    token = _serializer("my-data", timed=True).dumps(f"{org_slug or ''}\n{email_normalized}")
    return f"{root or current_app.config['CHORUS_BASE_URL']}/my-data/{token}"


class ExpiredLink(Exception):
    """A genuine link past its age: the page offers a new one instead of a bare 404."""


def read_manage(token: str) -> tuple[str | None, str] | None:
    """(member slug or None, address) from a manage link; None if it is not ours; ExpiredLink if old."""
    try:
        value = _serializer("my-data", timed=True).loads(token, max_age=MANAGE_MAX_AGE)
    except SignatureExpired as error:
        raise ExpiredLink from error
    except BadSignature:
        return None
    if not isinstance(value, str) or "\n" not in value:
        return None
    slug, _sep, address = value.partition("\n")
    return slug or None, address


def external_url(path: str) -> str:
    return current_app.config["CHORUS_BASE_URL"] + path


def mail_domain() -> str:
    return current_app.config["CHORUS_MAIL_DOMAIN"]


def new_message(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    sender: Address,
    message_id: str,
    unsubscribe: str,
    manage: str | None = None,
) -> Message:
    """A supporter message with a stable Message-ID and RFC 8058 one-click unsubscribe headers.
    `manage` (`to_supporter` passes it to every supporter mail) adds the
    link to the supporter's "manage my data" page at the foot of the text and HTML parts."""
    if manage:
        words = gettext("See, download or erase what we hold about you, and change what you agreed to:")
        text = f"{text.rstrip()}\n\n-- \n{words}\n{manage}\n"
        if html:
            footer = f'<p style="color: #5a5a5a">{escape(words)} <a href="{escape(manage)}">{escape(manage)}</a></p>'
            html = html.replace("</body>", footer + "\n</body>") if "</body>" in html else html + footer
    headers = {
        "From": sender,
        "To": to,
        "Subject": subject,
        "Date": format_datetime(utcnow()),
        "Message-ID": f"<{message_id}@{mail_domain()}>",
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return plain_message(headers, text, html or None)


def manage_link(address: str, site) -> str:
    """The address's own "manage my data" page, on the member's host."""
    return manage_url(address.lower(), site.slug, tenancy.public_root(site))


def to_supporter(
    *, to: str, site, subject: str, text: str, html: str | None, message_id: str, footer: bool = True
) -> Message:
    """Every mail to a supporter (confirmations, copies, repeats, sign-ons, version notices…) is made
    here: from the member `site`, with its scoped unsubscribe link in the headers and the supporter's
    "manage my data" link at the foot (`footer=False`: a mail to staff, such as a statement's author)."""
    return new_message(
        to=to,
        subject=subject,
        text=text,
        html=html,
        sender=default_sender(site.name),
        message_id=message_id,
        unsubscribe=unsubscribe_url(to.lower(), site.slug, tenancy.public_root(site)),
        manage=manage_link(to, site) if footer else None,
    )


def smtp_error(error: Exception) -> tuple[bool, str]:
    """(permanent?, description) for an SMTP failure; connection trouble is temporary."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
    elif isinstance(error, smtplib.SMTPResponseException):
        code, reply = error.smtp_code, error.smtp_error
    else:
        return False, f"{type(error).__name__}: {error}"
    reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return code >= 500, f"{code} {reply}"


def build_failure(error: Exception) -> str:
    """The reason shown to admins for a message that could not be composed."""
    return f"cannot be built: {type(error).__name__}: {error}"[:500]


def default_sender(display_name: str) -> Address:
    return f"{display_name} via Chorus".replace('"', "'"), f"no-reply@{mail_domain()}"


def _wait(before_accept: Callable[[], None] | None, abandon: Callable[[], object]) -> None:
    """Run `before_accept` before the message goes; if it raises, `abandon` the transaction first, so
    the server takes nothing."""
    if before_accept is None:
        return
    try:
        before_accept()
    except BaseException:
        abandon()
        raise


def _envelope_sender(msg: Message) -> str:
    """The address of a From header `_header_value` wrote (formataddr's `name <address>` or a bare
    address: an address never holds "<")."""
    value = msg["From"]
    return value.rpartition("<")[2].rstrip(">") if value.endswith(">") else value


class Transport:
    """Sends a batch of messages: one SMTP connection, or files in the outbox folder."""

    def __init__(self, url: str, instance: str):
        self.url = url  # checked when the settings were read (chorus.config)
        self.instance = instance

    def send(self, messages: list[Message]) -> None:
        if not messages:
            return
        with self.connect() as connection:
            for msg in messages:
                connection.send(msg)

    @contextmanager
    def connect(self):
        """One connection for many messages: `with transport.connect() as c: c.send(msg)`."""
        if self.url == "outbox":
            yield _Outbox(Path(self.instance) / "outbox")
            return
        parts = urlsplit(self.url)
        options = parse_qs(parts.query)
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(parts.hostname, port, timeout=30) as smtp:
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            yield _Smtp(smtp)


class _Smtp:
    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp

    def send(self, msg: Message, to: str | None = None, before_accept: Callable[[], None] | None = None) -> None:
        """To `to` when given (without parsing the headers again, nor copying the message, as
        `send_message` does), else to the message's own recipients.

        `before_accept` runs once the envelope is accepted and before DATA, the step at which the
        server takes the message: whatever it waits for overlaps the MAIL and RCPT round trips, and
        if it raises, the transaction is reset and nothing was sent."""
        if to is None:
            self.smtp.send_message(msg)
            return
        smtp, sender = self.smtp, _envelope_sender(msg)  # smtplib.sendmail's steps and errors, paused before DATA
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("pipelining"):
            self._send_pipelined(msg, sender, to, before_accept)
            return
        mail_reply = smtp.mail(sender)
        refusal = _envelope_refusal(sender, to, mail_reply, smtp.rcpt(to) if mail_reply[0] == 250 else None)
        if refusal is not None:
            self._reset()
            raise refusal
        _wait(before_accept, abandon=self._reset)
        self._taken(smtp.data(msg.as_bytes()))

    def _send_pipelined(
        self, msg: Message, sender: str, to: str, before_accept: Callable[[], None] | None
    ) -> None:
        """The same transaction in two round trips instead of four, where the server offers
        PIPELINING (RFC 2920; Postfix, Exim and the big relays do): MAIL, RCPT and DATA go in one
        write, their three replies are read together, then the message goes. A refusal is raised as
        in `send`. Once DATA is answered with 354 the transaction can only be ended by sending the
        message or by closing the connection, which the server takes as "not sent"."""
        smtp = self.smtp
        smtp.send(f"MAIL FROM:{smtplib.quoteaddr(sender)}\r\nRCPT TO:{smtplib.quoteaddr(to)}\r\nDATA\r\n")
        mail_reply, rcpt_reply, data_reply = [smtp.getreply() for _ in range(3)]
        refusal = _envelope_refusal(sender, to, mail_reply, rcpt_reply)
        if refusal is None and data_reply[0] != 354:
            refusal = smtplib.SMTPDataError(*data_reply)
        if refusal is not None:
            if data_reply[0] == 354:  # a server that opened DATA anyway: leave without sending
                smtp.close()
            else:
                self._reset()
            raise refusal
        _wait(before_accept, abandon=smtp.close)  # past DATA's 354, only closing takes nothing
        body = _DOT_AT_LINE_START.sub(b"..", msg.as_bytes())
        smtp.send(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
        self._taken(smtp.getreply())

    def _taken(self, reply: tuple[int, bytes]) -> None:
        """The server's answer to the message itself: taken (250), or reset and raised as smtplib does."""
        if reply[0] != 250:
            self._reset()
            raise smtplib.SMTPDataError(*reply)

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except smtplib.SMTPServerDisconnected:
            pass


def _envelope_refusal(
    sender: str, to: str, mail_reply: tuple[int, bytes], rcpt_reply: tuple[int, bytes] | None
) -> smtplib.SMTPException | None:
    """What smtplib.sendmail raises for a refused MAIL FROM or RCPT TO (`rcpt_reply` None: not asked)."""
    if mail_reply[0] != 250:
        return smtplib.SMTPSenderRefused(*mail_reply, sender)
    if rcpt_reply[0] not in (250, 251):
        return smtplib.SMTPRecipientsRefused({to: rcpt_reply})
    return None


#: Dot-stuffing (RFC 5321 4.5.2), as smtplib.SMTP.data does it.
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class _Outbox:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, msg: Message, to: str | None = None, before_accept: Callable[[], None] | None = None) -> None:
        if before_accept is not None:
            before_accept()
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{sha256(msg['Message-ID'].encode()).hexdigest()[:12]}.eml"
        tmp = self.folder / f".{name}.tmp"
        try:
            tmp.write_bytes(msg.as_bytes())
        except OSError:  # a full disk: the mail is retried later; leave no half-written file behind
            tmp.unlink(missing_ok=True)
            raise
        tmp.rename(self.folder / name)  # readers never see half a file


def transport() -> Transport:
    return Transport(current_app.config["MAIL_URL"], current_app.config["CHORUS_INSTANCE"])
