"""Channels against real receivers: the loopback HTTP server and a real SMTP server.

Every assertion is about what arrived (bytes, headers, parsed mail) or about the DeliveryError the
outbox will act on: retryable or not, the server's hint, and that no credential leaks into it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from monitor.config.schema import Settings, SmtpSettings
from monitor.errors import DeliveryError
from monitor.model import Alert, Evidence
from monitor.notify import (
    ConsoleNotifier,
    EmailNotifier,
    Notifier,
    SlackNotifier,
    WebhookNotifier,
    build_channels,
)
from monitor.notify.base import SLACK_SPACING
from tests.servers import LoopbackServer, Recorded, Reply
from tests.smtp_server import SmtpTestServer, free_port

SLACK_PATH = "/services/T0SECRETTEAM/B0SECRETHOOK/xoxSECRETtoken123"
HOOK_PATH = "/hooks/monitor/0a1b2c3d4e5f"
SECRET = "s3cr3t-signing-key"
PASSWORD = "correct horse battery staple"
SHORT_DEADLINE = 0.3

ALERT = Alert(
    key="0123456789abcdef0123456789abcdef",
    rule="port-closures",
    title="<!channel> <script>alert(1)</script> & <https://evil.example|Click here> *bold*",
    url="https://news.example/port?id=7",
    source="reuters",
    published=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    summary="Shanghai port operations stopped. Zürich 上海 🚢",
    matched=(
        Evidence(term="closes", field="title", start=0, end=6, text="closes"),
        Evidence(term="Shanghai", field="summary", start=0, end=8, text="Shanghai"),
    ),
)

Build = Callable[[httpx.AsyncClient], Notifier]


async def _send(build: Build, alerts: list[Alert]) -> None:
    async with httpx.AsyncClient() as http:
        notifier = build(http)
        try:
            for alert in alerts:
                await notifier.send(alert)
        finally:
            await notifier.aclose()


def deliver(build: Build, *alerts: Alert) -> None:
    asyncio.run(_send(build, list(alerts) or [ALERT]))


def delivery_error(build: Build, alert: Alert = ALERT) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        deliver(build, alert)
    return caught.value


def run(awaitable: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await awaitable

    return asyncio.run(main())


def webhook(receiver: LoopbackServer, *, secret: str | None = SECRET, **options: Any) -> Build:
    return lambda http: WebhookNotifier(
        "hook", receiver.url + HOOK_PATH, http=http, secret=secret, **options
    )


def slack(receiver: LoopbackServer, **options: Any) -> Build:
    return lambda http: SlackNotifier("team", receiver.url + SLACK_PATH, http=http, **options)


def assert_no_secrets(error: DeliveryError) -> None:
    text = str(error)
    for secret in (SLACK_PATH, HOOK_PATH, SECRET, "SECRET", "xoxSECRETtoken123", "0a1b2c3d4e5f"):
        assert secret not in text


# --- webhook ------------------------------------------------------------------------------------


def test_webhook_posts_the_alert_as_json_with_the_contract_fields(
    receiver: LoopbackServer,
) -> None:
    receiver.set(HOOK_PATH, Reply(204))
    deliver(webhook(receiver))
    [request] = receiver.requests_to(HOOK_PATH)
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("application/json")
    payload = json.loads(request.body.decode("utf-8"))
    assert payload["rule"] == "port-closures"
    assert payload["title"] == ALERT.title
    assert payload["url"] == "https://news.example/port?id=7"
    assert payload["source"] == "reuters"
    assert datetime.fromisoformat(payload["published"]) == ALERT.published
    assert payload["summary"] == "Shanghai port operations stopped. Zürich 上海 🚢"
    assert [(m["term"], m["field"]) for m in payload["matched"]] == [
        ("closes", "title"),
        ("Shanghai", "summary"),
    ]
    assert "Zürich 上海 🚢".encode() in request.body  # UTF-8, not \\u escapes


def test_webhook_signature_is_an_hmac_of_the_exact_bytes_received(
    receiver: LoopbackServer,
) -> None:
    receiver.set(HOOK_PATH, Reply(200))
    deliver(webhook(receiver))
    [request] = receiver.requests_to(HOOK_PATH)
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-monitor-signature"], f"sha256={expected}")


def test_webhook_sends_the_alert_key_as_idempotency_key_on_every_attempt(
    receiver: LoopbackServer,
) -> None:
    receiver.set(HOOK_PATH, [Reply(503), Reply(200)])
    with pytest.raises(DeliveryError):
        deliver(webhook(receiver))
    deliver(webhook(receiver))
    keys = [r.headers["idempotency-key"] for r in receiver.requests_to(HOOK_PATH)]
    assert keys == [ALERT.key, ALERT.key]


def test_webhook_without_a_secret_sends_no_signature(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(200))
    deliver(webhook(receiver, secret=None))
    [request] = receiver.requests_to(HOOK_PATH)
    assert "x-monitor-signature" not in request.headers
    assert request.headers["idempotency-key"] == ALERT.key


def test_webhook_adds_configured_headers_but_they_cannot_replace_the_contract_headers(
    receiver: LoopbackServer,
) -> None:
    receiver.set(HOOK_PATH, Reply(200))
    headers = {
        "Authorization": "Bearer abc",
        "idempotency-key": "mine",
        "content-type": "text/plain",
        "X-Monitor-Signature": "forged",
    }
    deliver(webhook(receiver, headers=headers))
    [request] = receiver.requests_to(HOOK_PATH)
    assert request.headers["authorization"] == "Bearer abc"
    assert request.headers["idempotency-key"] == ALERT.key
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-monitor-signature"].startswith("sha256=")


def test_webhook_503_is_retryable(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(503, body="maintenance"))
    error = delivery_error(webhook(receiver))
    assert error.retryable
    assert "503" in str(error)
    assert_no_secrets(error)


def test_webhook_429_is_retryable_after_the_seconds_the_receiver_asks_for(
    receiver: LoopbackServer,
) -> None:
    receiver.set(HOOK_PATH, Reply(429, body="slow down", headers={"Retry-After": "7"}))
    error = delivery_error(webhook(receiver))
    assert error.retryable
    assert error.retry_after == 7


def test_webhook_429_understands_retry_after_as_an_http_date(receiver: LoopbackServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    receiver.set(HOOK_PATH, Reply(429, headers={"Retry-After": format_datetime(when, True)}))
    error = delivery_error(webhook(receiver))
    assert error.retryable
    assert error.retry_after is not None
    assert 100 <= error.retry_after <= 121


@pytest.mark.parametrize(
    ("header", "expected"),
    [("99999999999999999999", 86400.0), ("soon", None), ("-5", None)],
)
def test_webhook_retry_after_that_is_absurd_or_unreadable_is_capped_or_ignored(
    receiver: LoopbackServer, header: str, expected: float | None
) -> None:
    receiver.set(HOOK_PATH, Reply(503, headers={"Retry-After": header}))
    error = delivery_error(webhook(receiver))
    assert error.retryable
    assert error.retry_after == expected


def test_webhook_404_is_permanent_and_quotes_the_body(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(404, body="no such hook"))
    error = delivery_error(webhook(receiver))
    assert not error.retryable
    assert error.retry_after is None
    assert "404" in str(error)
    assert "no such hook" in str(error)
    assert error.channel == "hook"


def test_webhook_error_does_not_repeat_secrets_a_receiver_echoes(
    receiver: LoopbackServer,
) -> None:
    def echo(request: Recorded) -> Reply:
        return Reply(400, body=f"bad request to {request.path} with key {SECRET}")

    receiver.set(HOOK_PATH, echo)
    error = delivery_error(webhook(receiver))
    assert not error.retryable
    assert "bad request to" in str(error)
    assert_no_secrets(error)


def test_webhook_quotes_only_the_start_of_a_huge_error_body(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(400, body="x" * 2_000_000))
    error = delivery_error(webhook(receiver))
    assert not error.retryable
    assert len(str(error)) < 400


def test_webhook_redirect_is_not_followed_and_is_permanent(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(307, headers={"Location": "/elsewhere"}))
    receiver.set("/elsewhere", Reply(200))
    error = delivery_error(webhook(receiver))
    assert not error.retryable
    assert receiver.requests_to("/elsewhere") == []


def test_webhook_slow_receiver_is_a_retryable_timeout(receiver: LoopbackServer) -> None:
    receiver.set(HOOK_PATH, Reply(200, delay=3.0))
    started = time.monotonic()
    error = delivery_error(webhook(receiver, deadline=SHORT_DEADLINE))
    elapsed = time.monotonic() - started
    assert error.retryable
    assert "0.3s" in str(error)
    assert elapsed < 2.5
    assert_no_secrets(error)


def test_webhook_unreachable_receiver_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
    error = delivery_error(lambda http: WebhookNotifier("hook", url, http=http, secret=SECRET))
    assert error.retryable
    assert_no_secrets(error)


# --- slack --------------------------------------------------------------------------------------


def test_slack_ok_is_accepted_and_the_message_arrives_escaped(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(200, body="ok"))
    deliver(slack(receiver))
    [request] = receiver.requests_to(SLACK_PATH)
    message = json.loads(request.body.decode("utf-8"))
    assert "link_names" not in message
    escaped = (
        "&lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; "
        "&lt;https://evil.example|Click here&gt;"
    )
    assert escaped in message["text"]
    section = message["blocks"][0]["text"]
    assert section["type"] == "mrkdwn"
    assert section["text"].startswith(f"*<https://news.example/port?id=7|{escaped}")
    assert "Zürich 上海 🚢" in section["text"]
    assert b"<!channel>" not in request.body
    context = message["blocks"][1]["elements"][0]["text"]
    assert 'matched: "closes" in title, "Shanghai" in summary' in context


def test_slack_200_with_invalid_token_is_permanent_and_quotes_slack(
    receiver: LoopbackServer,
) -> None:
    receiver.set(SLACK_PATH, Reply(200, body="invalid_token"))
    error = delivery_error(slack(receiver))
    assert not error.retryable
    assert "invalid_token" in str(error)
    assert_no_secrets(error)


def test_slack_403_is_permanent(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(403, body="invalid_token"))
    error = delivery_error(slack(receiver))
    assert not error.retryable
    assert "invalid_token" in str(error)
    assert_no_secrets(error)


def test_slack_429_is_retryable_with_the_hint(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(429, body="rate_limited", headers={"Retry-After": "30"}))
    error = delivery_error(slack(receiver))
    assert error.retryable
    assert error.retry_after == 30
    assert_no_secrets(error)


def test_slack_500_is_retryable(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(500, body="internal_error"))
    error = delivery_error(slack(receiver))
    assert error.retryable
    assert_no_secrets(error)


def test_slack_slow_answer_is_a_retryable_timeout(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(200, body="ok", delay=3.0))
    error = delivery_error(slack(receiver, deadline=SHORT_DEADLINE))
    assert error.retryable
    assert_no_secrets(error)


def test_slack_errors_name_the_host_but_not_the_webhook_path(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(404, body=f"no_service at {SLACK_PATH}"))
    error = delivery_error(slack(receiver))
    host = receiver.url.removeprefix("http://")
    assert f"http://{host}/***" in str(error)
    assert_no_secrets(error)


# --- email --------------------------------------------------------------------------------------


def smtp_settings(server: SmtpTestServer, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "starttls": True,
        "username": "monitor",
        "password": PASSWORD,
        "ca_file": server.ca_file,
        "timeout": "5s",
    }
    values.update(changes)
    return SmtpSettings.model_validate(values)


def mailer(smtp: SmtpSettings) -> EmailNotifier:
    return EmailNotifier(
        "ops-mail", sender="News Monitor <monitor@example.com>", to=["ops@example.com"], smtp=smtp
    )


def mail_error(notifier: EmailNotifier, alert: Alert = ALERT) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        run(notifier.send(alert))
    return caught.value


def test_email_over_starttls_with_auth_arrives_as_text_and_html() -> None:
    with SmtpTestServer(starttls=True, credentials=("monitor", PASSWORD)) as server:
        run(mailer(smtp_settings(server)).send(ALERT))
        [mail] = server.received
    assert mail.tls
    assert mail.login == "monitor"
    assert mail.mail_from == "monitor@example.com"
    assert mail.rcpt_tos == ["ops@example.com"]
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    assert ALERT.title in text
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "Zürich 上海 🚢" in text
    assert "Zürich 上海 🚢" in html
    assert message["Message-ID"] == "<0123456789abcdef0123456789abcdef.ops-mail@news-monitor>"
    assert str(message["Subject"]).startswith("[monitor] port-closures: <!channel>")


def test_email_title_cannot_inject_headers_or_recipients() -> None:
    alert = Alert(
        key="k" * 32,
        rule="r",
        title="=?UTF-8?Q?Breaking=0ABcc:_x@y?= \r\nBcc: victim@example.com",
        url="javascript:alert(1)",
        source="s",
        published=None,
        summary="",
    )
    with SmtpTestServer(starttls=True, credentials=("monitor", PASSWORD)) as server:
        run(mailer(smtp_settings(server)).send(alert))
        [mail] = server.received
    assert mail.rcpt_tos == ["ops@example.com"]
    assert "Bcc" not in mail.message
    assert str(mail.message["Subject"]) == (
        "[monitor] r: =?UTF-8?Q?Breaking=0ABcc:_x@y?= Bcc: victim@example.com"
    )
    html_part = mail.message.get_body(("html",))
    assert html_part is not None
    assert "<a href" not in html_part.get_content()


def test_email_greylisting_451_is_retryable_and_the_retry_has_the_same_message_id() -> None:
    replies = ["451 4.7.1 Greylisted, try again later", "250 OK"]
    with SmtpTestServer(
        starttls=True, credentials=("monitor", PASSWORD), data_replies=replies
    ) as server:
        notifier = mailer(smtp_settings(server))
        error = mail_error(notifier)
        run(notifier.send(ALERT))
        received = server.received
        attempts = server.data_attempts
    assert error.retryable
    assert "451" in str(error)
    assert attempts == 2
    assert [m.message["Message-ID"] for m in received] == [
        "<0123456789abcdef0123456789abcdef.ops-mail@news-monitor>"
    ]


def test_email_550_is_permanent() -> None:
    replies = ["550 5.7.1 Message rejected as spam"]
    with SmtpTestServer(
        starttls=True, credentials=("monitor", PASSWORD), data_replies=replies
    ) as server:
        error = mail_error(mailer(smtp_settings(server)))
        assert server.received == []
    assert not error.retryable
    assert "550" in str(error)
    assert PASSWORD not in str(error)


def test_email_refuses_plaintext_when_starttls_is_not_offered() -> None:
    with SmtpTestServer() as server:
        error = mail_error(mailer(smtp_settings(server, username=None, password=None)))
        assert server.data_attempts == 0
        assert server.received == []
    assert not error.retryable
    assert "STARTTLS" in str(error)


def test_email_refuses_a_certificate_it_cannot_verify() -> None:
    with SmtpTestServer(starttls=True, credentials=("monitor", PASSWORD)) as server:
        error = mail_error(mailer(smtp_settings(server, ca_file=None)))
        assert server.received == []
    assert not error.retryable
    assert "certificate" in str(error)


def test_email_wrong_password_is_permanent_and_never_shows_a_password() -> None:
    with SmtpTestServer(starttls=True, credentials=("monitor", PASSWORD)) as server:
        error = mail_error(mailer(smtp_settings(server, password="wrong horse")))
        assert server.received == []
    assert not error.retryable
    assert "535" in str(error)
    assert "wrong horse" not in str(error)
    assert PASSWORD not in str(error)


def test_email_over_implicit_tls_arrives() -> None:
    with SmtpTestServer(implicit_tls=True) as server:
        smtp = smtp_settings(server, starttls=False, tls=True, username=None, password=None)
        run(mailer(smtp).send(ALERT))
        [mail] = server.received
    assert mail.tls
    assert mail.message["Message-ID"] == "<0123456789abcdef0123456789abcdef.ops-mail@news-monitor>"


def test_email_unreachable_server_is_retryable() -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=timedelta(seconds=2))
    error = mail_error(mailer(smtp))
    assert error.retryable
    assert "127.0.0.1" in str(error)


# --- console ------------------------------------------------------------------------------------


def test_console_prints_a_readable_block_with_the_headline() -> None:
    stream = io.StringIO()
    run(ConsoleNotifier("tty", stream=stream).send(ALERT))
    output = stream.getvalue()
    assert output.splitlines()[0] == f"[port-closures] {ALERT.title}"
    assert "https://news.example/port?id=7" in output
    assert "reuters" in output
    assert "2024-05-01 12:30 UTC" in output
    assert 'matched: "closes" in title, "Shanghai" in summary' in output


def test_console_json_mode_prints_one_parseable_line_per_alert() -> None:
    stream = io.StringIO()
    second = Alert.from_dict({**ALERT.as_dict(), "id": "f" * 32, "title": "line\nbreak"})

    async def both() -> None:
        notifier = ConsoleNotifier("tty", format="json", stream=stream)
        await notifier.send(ALERT)
        await notifier.send(second)

    run(both())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["id"] for line in lines] == [ALERT.key, "f" * 32]
    assert json.loads(lines[1])["title"] == "line\nbreak"


def test_console_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    run(ConsoleNotifier("tty").send(ALERT))
    assert ALERT.title in capsys.readouterr().out


def test_console_on_a_closed_stream_is_a_permanent_error() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(DeliveryError) as caught:
        run(ConsoleNotifier("tty", stream=stream).send(ALERT))
    assert not caught.value.retryable


# --- building channels from settings ------------------------------------------------------------


def test_build_channels_makes_one_notifier_per_configured_channel(
    receiver: LoopbackServer,
) -> None:
    settings = Settings.model_validate(
        {
            "smtp": {"host": "127.0.0.1", "port": 2525, "timeout": "5s"},
            "channels": {
                "team": {"slack": receiver.url + SLACK_PATH},
                "mail": {"email": {"to": ["ops@example.com"], "from": "m@example.com"}},
                "hook": {"webhook": receiver.url + HOOK_PATH, "secret": SECRET},
                "tty": {"console": {"format": "json"}},
            },
        }
    )
    receiver.set(HOOK_PATH, Reply(200))
    stream = io.StringIO()

    async def build_and_use() -> dict[str, Notifier]:
        async with httpx.AsyncClient() as http:
            channels = build_channels(settings, http=http, stdout=stream)
            await channels["tty"].send(ALERT)
            await channels["hook"].send(ALERT)
            for notifier in channels.values():
                await notifier.aclose()
            return channels

    channels = run(build_and_use())
    assert {name: type(n) for name, n in channels.items()} == {
        "team": SlackNotifier,
        "mail": EmailNotifier,
        "hook": WebhookNotifier,
        "tty": ConsoleNotifier,
    }
    assert all(n.name == name for name, n in channels.items())
    assert json.loads(stream.getvalue())["id"] == ALERT.key
    [request] = receiver.requests_to(HOOK_PATH)
    assert request.headers["x-monitor-signature"].startswith("sha256=")
    assert SLACK_PATH not in repr(channels["team"])


def test_slack_messages_to_one_webhook_are_paced_a_second_apart(receiver: LoopbackServer) -> None:
    receiver.set(SLACK_PATH, Reply(200, body="ok"))

    async def three() -> float:
        async with httpx.AsyncClient() as http:
            notifier = SlackNotifier("team", receiver.url + SLACK_PATH, http=http)
            started = time.monotonic()
            for _ in range(3):
                await notifier.send(ALERT)
            return time.monotonic() - started

    elapsed = run(three())
    assert len(receiver.requests_to(SLACK_PATH)) == 3
    assert elapsed >= 2 * SLACK_SPACING
