"""The fetcher against a real loopback server: caching, limits and classified errors."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

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


def test_an_untrusted_fetch_connects_to_the_address_that_was_checked(
    http_server: LoopbackServer,
) -> None:
    """DNS rebinding: the name is resolved once, checked, and that very address is connected.

    ``rebind.invalid`` resolves nowhere on this machine, so the fetch can only succeed if the
    connection used the checked address instead of resolving the name a second time.
    """
    import ipaddress

    http_server.set("/feed", Reply(body=b"<rss/>"))
    port = int(http_server.url.rsplit(":", 1)[1])
    lookups: list[str] = []

    async def resolver(host: str, _port: int) -> list[Any]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    async def go() -> FetchResult:
        fetcher = Fetcher(
            timeout=5, allow_private=[ipaddress.ip_network("127.0.0.0/8")], resolver=resolver
        )
        try:
            return await fetcher.fetch("src", f"http://rebind.invalid:{port}/feed", untrusted=True)
        finally:
            await fetcher.aclose()

    result = asyncio.run(go())
    assert result.body == b"<rss/>"
    assert result.url == f"http://rebind.invalid:{port}/feed"
    assert lookups == ["rebind.invalid"]
    assert http_server.requests_to("/feed")[0].headers["host"] == f"rebind.invalid:{port}"


def test_a_name_that_resolves_to_a_blocked_address_is_never_connected(
    sentinel: LoopbackServer,
) -> None:
    import ipaddress

    port = int(sentinel.url.rsplit(":", 1)[1])

    async def resolver(host: str, _port: int) -> list[Any]:
        # one public answer is not enough: every address the name has must pass
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]

    async def go() -> FetchResult:
        fetcher = Fetcher(timeout=5, resolver=resolver)
        try:
            return await fetcher.fetch("src", f"http://news.invalid:{port}/secret", untrusted=True)
        finally:
            await fetcher.aclose()

    with pytest.raises(FetchError, match="blocked_destination"):
        asyncio.run(go())
    assert sentinel.requests == []


def _starts_and_peak(
    server: LoopbackServer, *, count: int, delay: float, **limits: Any
) -> tuple[list[float], int]:
    """Fetch ``count`` paths of one host at once: when each began, and the peak in flight."""
    lock = threading.Lock()
    in_flight = peak = 0
    starts: list[float] = []

    def slow(_: Recorded) -> Reply:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            starts.append(time.monotonic())
        time.sleep(delay)
        with lock:
            in_flight -= 1
        return Reply(body=b"ok")

    for index in range(count):
        server.set(f"/f{index}", slow)

    async def go() -> None:
        fetcher = Fetcher(timeout=10, concurrency=50, **limits)
        try:
            await asyncio.gather(
                *(fetcher.fetch("src", f"{server.url}/f{i}") for i in range(count))
            )
        finally:
            await fetcher.aclose()

    asyncio.run(go())
    return sorted(starts), peak


def test_requests_to_one_host_are_capped_at_the_host_concurrency(
    http_server: LoopbackServer,
) -> None:
    _, peak = _starts_and_peak(http_server, count=8, delay=0.2, host_concurrency=2)
    assert peak == 2
    _, wide = _starts_and_peak(http_server, count=8, delay=0.2, host_concurrency=8)
    assert wide > 2


def test_requests_to_one_host_start_at_least_the_spacing_apart(
    http_server: LoopbackServer,
) -> None:
    starts, _ = _starts_and_peak(
        http_server, count=4, delay=0.0, host_concurrency=4, host_spacing=0.3
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.25  # the server notes the start a little after the client's pause


def test_other_hosts_are_not_held_back_by_a_busy_one(
    http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/slow", Reply(body=b"slow", delay=1.0))
    receiver.set("/fast", Reply(body=b"fast"))

    async def go() -> float:
        fetcher = Fetcher(timeout=10, host_concurrency=1)
        try:
            slow = [
                asyncio.create_task(fetcher.fetch("src", f"{http_server.url}/slow"))
                for _ in range(2)
            ]
            await asyncio.sleep(0.1)
            began = time.monotonic()
            await fetcher.fetch("src", f"{receiver.url}/fast")
            took = time.monotonic() - began
            await asyncio.gather(*slow)
            return took
        finally:
            await fetcher.aclose()

    assert asyncio.run(go()) < 0.9


def test_http_proxy_from_the_environment_carries_the_request(
    http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", http_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # a proxy is sent the whole URL; the name is never resolved here
    http_server.set("http://feeds.example.invalid/f", Reply(body=b"<rss/>"))
    assert fetch("http://feeds.example.invalid/f").body == b"<rss/>"
    assert http_server.requests_to("http://feeds.example.invalid/f")


def test_no_proxy_hosts_are_fetched_directly(
    http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    http_server.set("/f", Reply(body=b"<rss/>"))
    assert fetch(f"{http_server.url}/f").body == b"<rss/>"


def test_a_certificate_the_system_does_not_trust_is_refused() -> None:
    ca = trustme.CA()
    server = LoopbackServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.set("/f", Reply(body=b"<rss/>"))
    server.start()
    try:
        port = server.url.rsplit(":", 1)[1]
        error = fetch_error(f"https://127.0.0.1:{port}/f")
    finally:
        server.stop()
    assert error.kind is FetchErrorKind.NETWORK
    assert "certificate" in str(error).lower()
    # the TLS handshake failed, so the request never reached the server
    assert server.requests_to("/f") == []
