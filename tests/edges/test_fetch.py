"""The fetcher against a real loopback server: caching, limits and classified errors."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import FetchError, FetchErrorKind
from monitor.fetch import Fetcher, FetchResult
from monitor.fetch.client import USER_AGENT, parse_retry_after
from tests.servers import LoopbackServer, Recorded, Reply


def fetch(
    url: str,
    *,
    timeout: float = 5.0,
    cap: int = 1_000_000,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    async def go() -> FetchResult:
        fetcher = Fetcher(timeout=timeout, max_body_bytes=cap)
        try:
            return await fetcher.fetch("src", url, etag=etag, last_modified=last_modified)
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def fetch_error(url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as exc:
        fetch(url, **kwargs)
    assert exc.value.source == "src"
    return exc.value


def test_sends_user_agent_and_returns_validators(http_server: LoopbackServer) -> None:
    http_server.set(
        "/f",
        Reply(
            body=b"<rss/>",
            headers={"ETag": '"v1"', "Last-Modified": "Tue, 03 Sep 2024 08:00:00 GMT"},
        ),
    )
    result = fetch(f"{http_server.url}/f")
    assert result.body == b"<rss/>"
    assert result.etag == '"v1"'
    assert http_server.requests_to("/f")[0].headers["user-agent"] == USER_AGENT


def test_conditional_get_sends_validators_and_304_is_not_modified(
    http_server: LoopbackServer,
) -> None:
    def answer(request: Recorded) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304)
        return Reply(body=b"<rss/>", headers={"ETag": '"v1"'})

    http_server.set("/f", answer)
    result = fetch(
        f"{http_server.url}/f", etag='"v1"', last_modified="Tue, 03 Sep 2024 08:00:00 GMT"
    )
    assert result.not_modified
    sent = http_server.requests_to("/f")[0].headers
    assert sent["if-modified-since"] == "Tue, 03 Sep 2024 08:00:00 GMT"


@pytest.mark.parametrize(
    ("status", "kind"), [(404, "http_status"), (500, "http_status"), (410, "http_status")]
)
def test_error_status_is_classified_with_the_status(
    http_server: LoopbackServer, status: int, kind: str
) -> None:
    http_server.set("/f", Reply(status=status))
    error = fetch_error(f"{http_server.url}/f")
    assert error.kind.value == kind
    assert error.status == status
    assert f"HTTP {status}" in str(error)


def test_429_carries_retry_after(http_server: LoopbackServer) -> None:
    http_server.set("/f", Reply(status=429, headers={"Retry-After": "120"}))
    assert fetch_error(f"{http_server.url}/f").retry_after == 120


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 03 Sep 2024 08:10:00 GMT", now=now) == 600
    assert parse_retry_after("soon", now=now) is None


def test_body_over_the_cap_stops_reading(http_server: LoopbackServer) -> None:
    def endless() -> Iterator[bytes]:
        for _ in range(10_000):  # bounded: 640 MB would be sent if the client never stopped
            yield b"x" * 65536

    http_server.set("/big", Reply(stream=endless))
    started = time.monotonic()
    error = fetch_error(f"{http_server.url}/big", cap=1_000_000)
    assert error.kind is FetchErrorKind.BODY_TOO_LARGE
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_bomb_stops_at_the_decompressed_cap(
    http_server: LoopbackServer, encoding: str
) -> None:
    raw = b"\0" * 50_000_000
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    assert len(body) < 100_000
    http_server.set("/bomb", Reply(body=body, headers={"Content-Encoding": encoding}))
    error = fetch_error(f"{http_server.url}/bomb", cap=1_000_000)
    assert error.kind is FetchErrorKind.BODY_TOO_LARGE
    assert "decompressed size exceeds cap" in str(error)


def test_slow_drip_is_cut_at_the_total_deadline(http_server: LoopbackServer) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(60):  # bounded: one byte a second for a minute at most
            yield b"x"
            time.sleep(1)

    http_server.set("/drip", Reply(stream=drip))
    started = time.monotonic()
    error = fetch_error(f"{http_server.url}/drip", timeout=2.0)
    assert error.kind is FetchErrorKind.TIMEOUT
    assert time.monotonic() - started < 5


def test_redirect_loop_stops_after_five_hops(http_server: LoopbackServer) -> None:
    http_server.set("/a", Reply(status=302, headers={"Location": "/b"}))
    http_server.set("/b", Reply(status=302, headers={"Location": "/a"}))
    error = fetch_error(f"{http_server.url}/a")
    assert error.kind is FetchErrorKind.TOO_MANY_REDIRECTS
    assert len(http_server.requests) <= 6


def test_refused_connection_is_a_network_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert fetch_error(f"http://127.0.0.1:{port}/f").kind is FetchErrorKind.NETWORK


@pytest.fixture
def sentinel() -> Iterator[LoopbackServer]:
    """Another service on this machine that no redirect may reach."""
    server = LoopbackServer().start()
    server.set("/secret", Reply(body=b"internal data"))
    yield server
    server.stop()


def test_redirect_within_the_configured_origin_is_followed(http_server: LoopbackServer) -> None:
    http_server.set("/old", Reply(status=301, headers={"Location": "/new"}))
    http_server.set("/new", Reply(body=b"<rss/>"))
    result = fetch(f"{http_server.url}/old")
    assert result.body == b"<rss/>"
    assert result.url == f"{http_server.url}/new"


@pytest.mark.parametrize(
    "target",
    [
        "{sentinel}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
    ids=["other-loopback-service", "metadata", "decimal-ip", "v4-mapped-v6", "file", "gopher"],
)
def test_redirect_to_a_forbidden_destination_is_refused_before_connecting(
    http_server: LoopbackServer, sentinel: LoopbackServer, target: str
) -> None:
    port = sentinel.url.rsplit(":", 1)[1]
    location = target.format(sentinel=sentinel.url, port=port)
    http_server.set("/feed", Reply(status=302, headers={"Location": location}))
    error = fetch_error(f"{http_server.url}/feed")
    assert error.kind is FetchErrorKind.BLOCKED_DESTINATION
    assert sentinel.requests == []


def test_allow_private_opens_only_the_listed_range(
    http_server: LoopbackServer, sentinel: LoopbackServer
) -> None:
    import ipaddress

    http_server.set("/feed", Reply(status=302, headers={"Location": f"{sentinel.url}/secret"}))

    async def go(allowed: str) -> FetchResult:
        fetcher = Fetcher(timeout=5, allow_private=[ipaddress.ip_network(allowed)])
        try:
            return await fetcher.fetch("src", f"{http_server.url}/feed")
        finally:
            await fetcher.aclose()

    with pytest.raises(FetchError, match="blocked_destination"):
        asyncio.run(go("10.1.2.0/24"))
    assert sentinel.requests == []
    assert asyncio.run(go("127.0.0.0/8")).body == b"internal data"


def test_untrusted_link_is_checked_even_on_the_first_hop(sentinel: LoopbackServer) -> None:
    async def go() -> FetchResult:
        fetcher = Fetcher(timeout=5)
        try:
            return await fetcher.fetch("src", f"{sentinel.url}/secret", untrusted=True)
        finally:
            await fetcher.aclose()

    with pytest.raises(FetchError, match="blocked_destination"):
        asyncio.run(go())
    assert sentinel.requests == []
