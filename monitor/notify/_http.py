"""One POST to a webhook-style endpoint, bounded in time and size, turned into a verdict.

Slack and generic webhooks share this: the difference between them is the body they send and what
counts as accepted, not how a request fails. Webhook URLs are credentials (Slack's path is the
token), so no message built here contains more of a URL than scheme and host.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.errors import DeliveryError
from monitor.notify.render import cut, one_line

if TYPE_CHECKING:
    import httpx

#: total time for one send, connect to last byte; a stuck receiver must not hold the outbox
DEFAULT_DEADLINE = 15.0
#: receivers answer "ok" or a short error; anything longer is read only this far
MAX_RESPONSE_BYTES = 64 * 1024
#: how much of a response body an error message quotes
QUOTE_MAX = 200
#: a longer Retry-After is a receiver bug or hostile; past this the delivery would expire anyway
RETRY_AFTER_MAX = 24 * 3600.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    #: at most MAX_RESPONSE_BYTES of the decoded body
    body: bytes

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class Secrets:
    """The strings a message must not repeat: the URL, its path and query, a signing secret."""

    def __init__(self, url: str, extra: Iterable[str | None] = ()) -> None:
        parts = urlsplit(url)
        candidates = [url, parts.path, parts.query, *extra]
        # Short strings ("/", "a") would blank out innocent text while protecting nothing.
        self._values = sorted({c for c in candidates if c and len(c) >= 4}, key=len, reverse=True)
        self.target = redact_url(url)

    def scrub(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return text


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/xyz`` -> ``https://hooks.slack.com/***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    hidden = "/***" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{netloc}{hidden}"


async def post(
    client: httpx.AsyncClient,
    *,
    channel: str,
    url: str,
    content: bytes,
    headers: Mapping[str, str] | httpx.Headers,
    deadline: float,
    secrets: Secrets,
) -> Answer:
    """POST ``content`` and return the answer; network failures become ``DeliveryError``."""
    # here, not at the top: a monitor that posts nowhere never loads httpx (20 ms at a start)
    import httpx

    try:
        async with asyncio.timeout(deadline):
            # A redirected POST is either a misconfiguration or a trap; never follow it.
            request = client.stream(
                "POST", url, content=content, headers=headers, follow_redirects=False
            )
            async with request as response:
                body = await _read_at_most(response, MAX_RESPONSE_BYTES)
                return Answer(response.status_code, response.headers, body)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise DeliveryError(
            channel,
            f"timed out waiting for {secrets.target} (deadline {deadline:g}s)",
            retryable=True,
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
        # The request itself is wrong (bad URL, a header value with a newline): retrying repeats it.
        raise DeliveryError(
            channel,
            f"cannot send to {secrets.target}: {_describe(exc, secrets)}",
            retryable=False,
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(
            channel,
            f"cannot reach {secrets.target}: {_describe(exc, secrets)}",
            retryable=True,
        ) from exc


def failure(channel: str, answer: Answer, secrets: Secrets, *, now: datetime) -> DeliveryError:
    """The error for a non-2xx answer: 408, 429 and 5xx may pass, any other status will not."""
    status = answer.status
    retryable = status in (408, 429) or 500 <= status < 600
    retry_after = parse_retry_after(answer.headers.get("retry-after"), now=now)
    return DeliveryError(
        channel,
        f"{secrets.target} answered HTTP {status}: {quote(answer.body, secrets)}",
        retryable=retryable,
        retry_after=retry_after if retryable else None,
    )


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: either delay-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def quote(body: bytes, secrets: Secrets) -> str:
    """A response body fit for a log line: decoded, one line, short, without the secrets."""
    # Scrub before cutting: a cut could leave half a secret that no longer matches.
    text = one_line(secrets.scrub(body.decode("utf-8", "replace")))
    if not text:
        return "(empty body)"
    return '"' + cut(text, QUOTE_MAX) + '"'


def _describe(exc: BaseException, secrets: Secrets) -> str:
    detail = one_line(secrets.scrub(str(exc)))
    name = type(exc).__name__
    return f"{name}: {cut(detail, QUOTE_MAX)}" if detail else name


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk[: limit - size])
            size += len(chunks[-1])
            if size >= limit:
                break
    except httpx.DecodingError:
        # The status line already says what happened; a garbled body only loses the quote.
        pass
    return b"".join(chunks)
