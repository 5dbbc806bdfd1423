"""Email through an SMTP relay with the standard library, run in a worker thread.

One connection per alert: alerts are rare, and a fresh connection cannot be left half-broken by the
previous send. TLS is verified against the system store or the configured ``ca_file``; with
``starttls`` the relay must offer STARTTLS, because falling back to plaintext would hand the
password and the mail to anyone on the path.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses, parseaddr

from monitor.config.schema import EmailChannel, SmtpSettings
from monitor.errors import DeliveryError
from monitor.model import Alert, Digest
from monitor.notify.base import Resources, register
from monitor.notify.digest import digest_html, digest_subject, digest_text
from monitor.notify.render import SUBJECT_MAX, cut, email_html, email_subject, email_text, one_line
from monitor.notify.templates import NO_TEMPLATES, Templates

MESSAGE_ID_DOMAIN = "news-monitor"
#: how much of a server reply an error message quotes
REPLY_MAX = 200


def message_id(alert: Alert | Digest, channel: str) -> str:
    """The same for every attempt, so a receiver can drop the duplicate a lost reply causes."""
    return f"<{alert.key}.{channel}@{MESSAGE_ID_DOMAIN}>"


def build_message(
    alert: Alert | Digest,
    *,
    channel: str,
    sender: str,
    to: Sequence[str],
    date: str,
    templates: Templates = NO_TEMPLATES,
) -> MIMEMultipart:
    """multipart/alternative with a text and an HTML part.

    The subject goes through ``Header`` so that it is always sent as an RFC 2047 encoded word:
    a title that itself looks like an encoded word (``=?UTF-8?Q?x=0ABcc:_y?=``) then reaches the
    reader as the literal text it is. Setting it as a plain string would let the email package
    decode it into a real line break.
    """
    message = MIMEMultipart("alternative")
    if isinstance(alert, Digest):
        subject, text, html = digest_subject(alert), digest_text(alert), digest_html(alert)
    else:
        subject = email_subject(alert)
        if (custom := templates.render("email.subject", alert)) is not None:
            # whatever the template writes, the subject stays one line of bounded length
            subject = cut(one_line(custom), SUBJECT_MAX)
        text = templates.render("email.txt", alert) or email_text(alert)
        html = templates.render("email.html", alert) or email_html(alert)
    # typeshed types header values as str; compat32 messages take a Header, as documented.
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    message["From"] = _addresses([sender])
    message["To"] = _addresses(to)
    message["Date"] = date
    message["Message-ID"] = message_id(alert, channel)
    # RFC 3834: vacation responders and ticket systems must not answer an alert.
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message


class EmailNotifier:
    def __init__(
        self,
        name: str,
        *,
        sender: str,
        to: Sequence[str],
        smtp: SmtpSettings,
        templates: Templates = NO_TEMPLATES,
    ) -> None:
        self.name = name
        self._templates = templates
        self._sender = sender
        self._to = list(to)
        self._smtp = smtp

    def __repr__(self) -> str:
        return f"EmailNotifier({self.name!r}, {self._smtp.host}:{self._smtp.port})"

    async def send(self, alert: Alert) -> None:
        await self._send_message(alert)

    async def send_digest(self, digest: Digest) -> None:
        await self._send_message(digest)

    async def _send_message(self, content: Alert | Digest) -> None:
        date = formatdate(usegmt=True)
        message = build_message(
            content,
            channel=self.name,
            sender=self._sender,
            to=self._to,
            date=date,
            templates=self._templates,
        )
        await asyncio.to_thread(self._submit, message)

    async def aclose(self) -> None:
        """Nothing to release: each send opens and closes its own connection."""

    def _submit(self, message: MIMEMultipart) -> None:
        try:
            client = self._connect()
            try:
                self._deliver(client, message)
            finally:
                _quit_quietly(client)
        except DeliveryError:
            raise
        except Exception as exc:
            text, retryable = _classify(exc)
            raise DeliveryError(
                self.name, self._scrub(f"{self._where()}: {text}"), retryable=retryable
            ) from exc

    def _connect(self) -> smtplib.SMTP:
        smtp = self._smtp
        timeout = smtp.timeout.total_seconds()
        if smtp.tls:
            return smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=self._tls_context()
            )
        return smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)

    def _deliver(self, client: smtplib.SMTP, message: MIMEMultipart) -> None:
        smtp = self._smtp
        client.ehlo()
        if smtp.requires_starttls:
            if not client.has_extn("starttls"):
                raise DeliveryError(
                    self.name,
                    f"{self._where()} does not offer STARTTLS; refusing to send in plaintext",
                    retryable=False,
                )
            client.starttls(context=self._tls_context())
            client.ehlo()
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password)
        refused = client.send_message(
            message, from_addr=parseaddr(self._sender)[1], to_addrs=_bare(self._to)
        )
        if refused:
            # Some recipients have it already; a retry re-sends to all, and the fixed Message-ID
            # lets their mail systems drop the copy. Worth it only if the refusals may pass.
            retryable = all(400 <= code < 500 for code, _ in refused.values())
            raise DeliveryError(
                self.name,
                f"{self._where()} refused recipients: " + _refusals(refused),
                retryable=retryable,
            )

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._smtp.ca_file)

    def _where(self) -> str:
        return f"SMTP server {self._smtp.host}:{self._smtp.port}"

    def _scrub(self, text: str) -> str:
        password = self._smtp.password
        return text.replace(password, "***") if password else text


def _classify(exc: Exception) -> tuple[str, bool]:
    """A readable reason and whether trying later can help: 4xx and network trouble can."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"connection closed: {_text(exc)}", True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients
        return "refused all recipients: " + _refusals(refused), all(
            400 <= code < 500 for code, _ in refused.values()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        what = "rejected the login" if isinstance(exc, smtplib.SMTPAuthenticationError) else "said"
        return f"{what} {reply}", not 500 <= exc.smtp_code < 600
    if isinstance(exc, smtplib.SMTPException):
        # No reply code: a missing extension (AUTH) or an unsupported mechanism; it stays so.
        return _text(exc), False
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}", False
    if isinstance(exc, OSError):
        return f"cannot connect: {type(exc).__name__}: {_text(exc)}", True
    return f"{type(exc).__name__}: {_text(exc)}", False


def _addresses(values: Sequence[str]) -> str:
    """Display names are encoded when not ASCII; the addresses themselves are left as given."""
    return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses(list(values)))


def _bare(values: Sequence[str]) -> list[str]:
    return [address for _, address in getaddresses(list(values))]


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {_reply(code, text)}" for address, (code, text) in refused.items()
    )


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {cut(one_line(decoded), REPLY_MAX)}".rstrip()


def _text(exc: BaseException) -> str:
    return cut(one_line(str(exc)), REPLY_MAX) or type(exc).__name__


def _quit_quietly(client: smtplib.SMTP) -> None:
    """QUIT after the message was accepted; its failure must not turn success into an error."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


@register("email")
def email_channel(name: str, config: EmailChannel, resources: Resources) -> EmailNotifier:
    smtp = resources.settings.smtp
    if smtp is None:
        # The schema already requires smtp: with an email channel; this guards other callers.
        raise ValueError("an email channel needs the smtp: settings")
    return EmailNotifier(
        name,
        sender=config.email.from_,
        to=config.email.to,
        smtp=smtp,
        templates=resources.templates,
    )
