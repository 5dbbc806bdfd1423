"""One shared HTTP client for every source: limits, conditional GET, classified errors.

feedparser and the page parser never fetch: they get the bytes this module read under its limits.
The body cap counts decoded bytes (a gzip bomb stops at the cap), and the deadline covers the whole
request, because httpx's own read timeout restarts with every chunk a slow server drips.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor import __version__
from monitor.errors import FetchError, FetchErrorKind
from monitor.fetch.destinations import (
    Network,
    Resolver,
    check_destination,
    pinned_url,
    resolve,
)
from monitor.fetch.politeness import HostLimiter

logger = logging.getLogger(__name__)

USER_AGENT = f"news-monitor/{__version__} (+https://github.com/news-monitor/news-monitor)"
MAX_REDIRECTS = 5


@dataclass(frozen=True, kw_only=True)
class FetchResult:
    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    #: seconds from sending the request to the end of the body, over every redirect hop; the
    #: wait for a free slot is not counted, as it says nothing about the server
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header, given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


#: connections one httpx pool serves before hosts go to another pool
POOL_SHARD = 16


class Fetcher:
    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_body_bytes: int = 10 * 1024 * 1024,
        concurrency: int = 20,
        user_agent: str = USER_AGENT,
        allow_private: Sequence[Network] = (),
        host_concurrency: int = 2,
        host_spacing: float = 0.0,
        resolver: Resolver = resolve,
    ) -> None:
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.allow_private = tuple(allow_private)
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts = HostLimiter(concurrency=host_concurrency, spacing=host_spacing)
        self._resolver = resolver
        # httpx's pool scans its connections for every request it places, so one pool with
        # hundreds in flight spends its time there; hosts are shared out over small pools instead.
        shards = max(1, -(-concurrency // POOL_SHARD))
        # Redirects are followed here, hop by hop, so each new host is checked before connecting.
        self._clients = [
            httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(
                    max_connections=concurrency, max_keepalive_connections=POOL_SHARD
                ),
                headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            )
            for _ in range(shards)
        ]

    def _client_for(self, host: tuple[str, str | None, int | None]) -> httpx.AsyncClient:
        """One pool per host, so a host's connections are reused."""
        return self._clients[zlib.crc32(repr(host).encode()) % len(self._clients)]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def fetch(
        self,
        source: str,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        untrusted: bool = False,
    ) -> FetchResult:
        """GET ``url``; a 304 is a result, every failure a FetchError naming ``source``.

        The origin of a configured ``url`` is trusted; any other origin a redirect leads to, and
        with ``untrusted`` (a link found in content) the first one too, must pass the destination
        check.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._follow(source, url, headers, untrusted=untrusted)
            except TimeoutError as exc:
                raise FetchError(
                    source, FetchErrorKind.TIMEOUT, f"no complete answer within {self.timeout:g} s"
                ) from exc
            except httpx.TimeoutException as exc:
                raise FetchError(source, FetchErrorKind.TIMEOUT, _describe(exc)) from exc
            except httpx.DecodingError as exc:
                raise FetchError(
                    source, FetchErrorKind.PARSE, f"cannot decode body: {_describe(exc)}"
                ) from exc
            except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise FetchError(source, FetchErrorKind.NETWORK, _describe(exc)) from exc

    async def _follow(
        self, source: str, url: str, headers: dict[str, str], *, untrusted: bool
    ) -> FetchResult:
        trusted = None if untrusted else origin(url)
        current = url
        on_wire = 0.0
        for _ in range(MAX_REDIRECTS + 1):
            target, hop_headers, extensions = current, headers, {}
            if origin(current) != trusted:
                address = await check_destination(
                    source, current, allow_private=self.allow_private, resolver=self._resolver
                )
                target, host = pinned_url(current, address)
                hop_headers = {**headers, "Host": host}
                # TLS still checks the certificate against the name, not the address.
                extensions = {"sni_hostname": urlsplit(current).hostname or ""}
            client = self._client_for(origin(current))
            request = client.build_request(
                "GET", target, headers=hop_headers, extensions=extensions
            )
            async with self._hosts.slot(origin(current)):
                started = time.perf_counter()
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        current = urljoin(current, location)
                        continue
                    result = await self._read(source, response, current)
                    return replace(result, seconds=on_wire + time.perf_counter() - started)
                finally:
                    on_wire += time.perf_counter() - started
                    await response.aclose()
        raise FetchError(
            source, FetchErrorKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects"
        )

    async def _read(self, source: str, response: httpx.Response, url: str) -> FetchResult:
        if response.status_code >= 400:
            raise FetchError(
                source,
                FetchErrorKind.HTTP_STATUS,
                f"HTTP {response.status_code} from {url}",
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        chunks = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                encoded = response.headers.get("content-encoding")
                detail = "decompressed size exceeds cap" if encoded else "body exceeds cap"
                raise FetchError(
                    source,
                    FetchErrorKind.BODY_TOO_LARGE,
                    f"{detail} of {self.max_body_bytes} bytes",
                )
            chunks.append(chunk)
        return FetchResult(
            url=url,
            status=response.status_code,
            body=b"".join(chunks),
            headers={k.lower(): v for k, v in response.headers.items()},
        )


def origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port: another port on a trusted host may be another service entirely."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme.lower(), parts.hostname, port


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
