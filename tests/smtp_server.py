"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), recording every message it accepts.

Options stand in for the relays the monitor meets: STARTTLS with a certificate from a throwaway CA
(``ca_file`` is what the test config trusts), AUTH LOGIN/PLAIN with one account, implicit TLS, and
scripted replies to DATA (``451`` greylisting, ``550`` rejection) consumed in order, the last one
repeating. Tests assert on what arrived, parsed back with the standard library.
"""

from __future__ import annotations

import email.policy
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    #: whether the session was encrypted (STARTTLS or implicit TLS) when DATA arrived
    tls: bool
    #: the login the client authenticated as, if it did
    login: str | None


def free_port() -> int:
    """A port nothing listens on right now: bind to port 0, read the number, release it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    def __init__(self, data_replies: Sequence[str]) -> None:
        if not data_replies:
            raise ValueError("at least one DATA reply is needed")
        self._replies = list(data_replies)
        self._lock = threading.Lock()
        self.received: list[ReceivedMail] = []
        self.data_attempts = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.data_attempts += 1
            reply = self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
            if reply.startswith("250"):
                raw = envelope.original_content or b""
                parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
                assert isinstance(parsed, EmailMessage)
                auth = session.auth_data
                self.received.append(
                    ReceivedMail(
                        mail_from=str(envelope.mail_from),
                        rcpt_tos=list(envelope.rcpt_tos),
                        raw=raw,
                        message=parsed,
                        tls=_encrypted(server, session),
                        login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                    )
                )
        return reply


def _encrypted(server: Any, session: Session) -> bool:
    # session.ssl is set by STARTTLS only; an implicit-TLS transport carries its SSL object.
    transport = getattr(server, "transport", None)
    has_ssl = transport is not None and transport.get_extra_info("ssl_object") is not None
    return session.ssl is not None or has_ssl


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._expected = LoginPassword(username.encode(), password.encode())

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == self._expected
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _BoundedController(Controller):
    def stop(self, no_assert: bool = False) -> None:
        # Controller.stop joins its thread without a timeout; a wedged loop must fail the test.
        thread = self._thread
        self.loop.call_soon_threadsafe(self.cancel_tasks)
        if thread is not None:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                raise TimeoutError(f"SMTP test server did not stop within {STOP_TIMEOUT}s")
            self._thread = None
        self._cleanup()


class SmtpTestServer:
    """Start with ``with SmtpTestServer(...) as server:`` or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
        data_replies: Sequence[str] = ("250 OK",),
    ) -> None:
        if starttls and implicit_tls:
            raise ValueError("choose starttls or implicit_tls")
        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _Handler(data_replies)
        self._dir = Path(tempfile.mkdtemp(prefix="smtp-test-"))
        self.ca_file: str | None = None
        server_tls: ssl.SSLContext | None = None
        if starttls or implicit_tls:
            ca = trustme.CA()
            ca_path = self._dir / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_path))
            self.ca_file = str(ca_path)
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)
        options: dict[str, Any] = {}
        if starttls:
            options.update(tls_context=server_tls, require_starttls=True)
        if credentials is not None:
            options.update(
                authenticator=_Authenticator(*credentials),
                auth_required=True,
                auth_require_tls=starttls or implicit_tls,
            )
        self._controller = _BoundedController(
            self._handler,
            hostname=self.host,
            port=self.port,
            server_hostname="smtp.test",
            ready_timeout=START_TIMEOUT,
            ssl_context=server_tls if implicit_tls else None,
            **options,
        )

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler._lock:
            return list(self._handler.received)

    @property
    def data_attempts(self) -> int:
        with self._handler._lock:
            return self._handler.data_attempts

    def start(self) -> SmtpTestServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        try:
            self._controller.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
