"""One shared HTTP client for every source: limits, conditional GET, classified errors.

feedparser and the page parser never fetch: they get the bytes this module read under its limits.
The body cap counts decoded bytes (a gzip bomb stops at the cap), and the deadline covers the whole
request, because a read timeout restarts with every chunk a slow server drips. The client is
aiohttp: on one core it makes four times as many requests a second as httpx with one or two in
flight, and tens of times as many with hundreds (bench/http_clients.py); a poll of many
unchanged feeds is little else.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import aiohttp

from monitor import __version__
from monitor.errors import FetchError, FetchErrorKind
from monitor.fetch.body import BodyTooLarge, BoundedBody
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
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HEADER_LINE = 64 * 1024


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
        self.concurrency = concurrency
        self.user_agent = user_agent
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts = HostLimiter(concurrency=host_concurrency, spacing=host_spacing)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._proxies = {
            scheme: url
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https")
        }

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0),
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
                # Bodies are decompressed here, so the cap counts decoded bytes as they come.
                auto_decompress=False,
                # The deadline over the whole request is this module's own (see ``fetch``).
                timeout=aiohttp.ClientTimeout(total=None),
                # Pinned requests go to an address, where the default jar keeps no cookies.
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                # Proxies come from the environment (see ``_proxy_for``); aiohttp's own
                # reading of it also looks in ~/.netrc on a thread for every request.
                trust_env=False,
                # Real sites send header lines (cookies, policies) longer than the 8 KB default.
                max_line_size=MAX_HEADER_LINE,
                max_field_size=MAX_HEADER_LINE,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
            except (aiohttp.ClientError, ValueError) as exc:
                raise FetchError(source, FetchErrorKind.NETWORK, _describe(exc)) from exc

    async def _follow(
        self, source: str, url: str, headers: dict[str, str], *, untrusted: bool
    ) -> FetchResult:
        trusted = None if untrusted else origin(url)
        current = url
        on_wire = 0.0
        session = self._client()
        for _ in range(MAX_REDIRECTS + 1):
            target, hop_headers, server_name = current, headers, None
            here = origin(current)
            if here != trusted:
                address = await check_destination(
                    source, current, allow_private=self.allow_private, resolver=self._resolver
                )
                target, host = pinned_url(current, address)
                hop_headers = {**headers, "Host": host}
                # TLS still checks the certificate against the name, not the address.
                server_name = urlsplit(current).hostname
            async with self._hosts.slot(here):
                started = time.perf_counter()
                response = await session.get(
                    target,
                    headers=hop_headers,
                    allow_redirects=False,
                    server_hostname=server_name,
                    proxy=self._proxy_for(current),
                )
                try:
                    location = response.headers.get("location")
                    if response.status in REDIRECTS and location:
                        current = urljoin(current, location)
                        continue
                    return await self._read(
                        source, response, current, started=started, earlier=on_wire
                    )
                finally:
                    on_wire += time.perf_counter() - started
                    response.release()
        raise FetchError(
            source, FetchErrorKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects"
        )

    def _proxy_for(self, url: str) -> str | None:
        """The proxy of ``HTTP_PROXY``/``HTTPS_PROXY`` for ``url``, unless ``NO_PROXY`` names
        its host."""
        if not self._proxies:
            return None
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme.lower())
        if proxy is None or urllib.request.proxy_bypass(parts.netloc):
            return None
        return proxy

    async def _read(
        self,
        source: str,
        response: aiohttp.ClientResponse,
        url: str,
        *,
        started: float,
        earlier: float,
    ) -> FetchResult:
        """The answer to a request sent at ``started``, after ``earlier`` seconds of redirects."""
        if response.status >= 400:
            raise FetchError(
                source,
                FetchErrorKind.HTTP_STATUS,
                f"HTTP {response.status} from {url}",
                status=response.status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        encoding = response.headers.get("content-encoding", "")
        body = BoundedBody(self.max_body_bytes, encoding)
        try:
            async for chunk in response.content.iter_any():
                body.feed(chunk)
        except BodyTooLarge as exc:
            detail = "decompressed size exceeds cap" if body.encoded else "body exceeds cap"
            raise FetchError(
                source, FetchErrorKind.BODY_TOO_LARGE, f"{detail} of {self.max_body_bytes} bytes"
            ) from exc
        except zlib.error as exc:
            raise FetchError(
                source, FetchErrorKind.PARSE, f"cannot decode body: {_describe(exc)}"
            ) from exc
        return FetchResult(
            url=url,
            status=response.status,
            body=body.value(),
            headers=_headers(response),
            seconds=earlier + time.perf_counter() - started,
        )


def _headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """Lower-cased names; a header sent several times is one value, joined as HTTP allows."""
    merged: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


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
