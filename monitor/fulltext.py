"""The article behind a feed item: fetched once, politely, and reduced to its main text.

Article links come from content, so they are untrusted unless they live on the very origin the
configured source does: another host must pass the destination check, and ``robots.txt`` is
honoured. Texts are cached by canonical URL, so two feeds linking one article fetch it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.robotparser
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.fetch.client import USER_AGENT, origin
from monitor.model import KeyedItem
from monitor.sources.normalize import canonical_url
from monitor.sources.text import TEXT_LIMIT

logger = logging.getLogger(__name__)

ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: robots.txt answers are kept this long per origin
ROBOTS_TTL = 6 * 3600.0
ROBOTS_RETRY = 600.0
ROBOTS_MAX_BYTES = 512 * 1024
_ROBOTS_AGENT = USER_AGENT.split("/", 1)[0]
#: a parsed robots.txt, or True (no file: all allowed) or False (unreadable: nothing allowed)
Robots = urllib.robotparser.RobotFileParser | bool


class FullText:
    """Fetches and extracts article text through the shared fetcher (and so its host limits)."""

    def __init__(self, fetcher: Fetcher, *, cache_size: int = 4096) -> None:
        self.fetcher = fetcher
        self.cache_size = cache_size
        self._texts: OrderedDict[str, str] = OrderedDict()
        #: origin -> (monotonic expiry, what its robots.txt allows)
        self._robots: dict[str, tuple[float, Robots]] = {}
        self._pending: dict[str, asyncio.Future[str]] = {}

    async def enrich(
        self, source: str, source_url: str, entries: Sequence[KeyedItem]
    ) -> list[KeyedItem]:
        """The entries with each article's text as ``content``; a failure keeps the entry as is."""
        texts = await asyncio.gather(
            *(self.article_text(source, source_url, e.item.url) for e in entries)
        )
        return [
            replace(e, item=replace(e.item, content=text)) if text else e
            for e, text in zip(entries, texts, strict=True)
        ]

    async def article_text(self, source: str, source_url: str, link: str) -> str:
        if not link:
            return ""
        key = canonical_url(link)
        if key in self._texts:
            self._texts.move_to_end(key)
            return self._texts[key]
        pending = self._pending.get(key)
        if pending is not None:
            # Another feed asked for the same article in this pass: share its fetch.
            shared: str = await asyncio.shield(pending)
            return shared
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            text = await self._fetch_text(source, source_url, link)
            future.set_result(text)
            self._remember(key, text)
            return text
        except BaseException as exc:
            future.set_result("")
            if not isinstance(exc, Exception):
                raise
            logger.exception("source %s: article %s: unexpected error", source, link)
            return ""
        finally:
            del self._pending[key]

    def _remember(self, key: str, text: str) -> None:
        self._texts[key] = text
        while len(self._texts) > self.cache_size:
            self._texts.popitem(last=False)

    async def _fetch_text(self, source: str, source_url: str, link: str) -> str:
        untrusted = origin(link) != origin(source_url)
        try:
            if not await self._robots_allow(source, link, untrusted=untrusted):
                logger.info("source %s: robots.txt disallows %s", source, link)
                return ""
            result = await self.fetcher.fetch(
                source, link, accept=ARTICLE_ACCEPT, untrusted=untrusted
            )
        except FetchError as exc:
            logger.info("source %s: article not fetched: %s", source, exc)
            return ""
        # imported here: it needs bs4 (50 ms of a start), and most sources never fetch articles
        from monitor.sources.article import extract_article

        article = await asyncio.to_thread(
            extract_article,
            result.body,
            url=result.url,
            content_type=result.headers.get("content-type"),
        )
        return article.text[:TEXT_LIMIT]

    async def _robots_allow(self, source: str, link: str, *, untrusted: bool) -> bool:
        parts = urlsplit(link)
        origin_url = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin_url)
        if cached is None or time.monotonic() > cached[0]:
            rules = await self._read_robots(source, origin_url, untrusted)
            # A failure to read the file is retried sooner than a file is re-read.
            keep = ROBOTS_RETRY if rules is False else ROBOTS_TTL
            cached = (time.monotonic() + keep, rules)
            self._robots[origin_url] = cached
        rules = cached[1]
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(_ROBOTS_AGENT, link)

    async def _read_robots(self, source: str, origin_url: str, untrusted: bool) -> Robots:
        """The parsed file; True (all allowed) when there is none, False when it cannot be read."""
        try:
            result = await self.fetcher.fetch(
                source, f"{origin_url}/robots.txt", accept="text/plain", untrusted=untrusted
            )
        except FetchError as exc:
            # A 4xx means there is no file: all allowed. Unreachable or failing (5xx): RFC 9309
            # says assume everything is disallowed for now.
            return exc.status is not None and 400 <= exc.status < 500
        robots = urllib.robotparser.RobotFileParser()
        robots.parse(result.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace").splitlines())
        return robots
