"""A fetched source body -> its items, following a page's own feed when it declares one.

The parsers are pure; this is the thin layer that picks one for a source and, for a page
without selectors that links a feed, fetches that feed through the same fetcher and limits.
"""

from __future__ import annotations

import asyncio

from monitor.config.schema import FeedSource, PageSource, Selectors
from monitor.errors import FetchError
from monitor.fetch import Fetcher, FetchResult
from monitor.fetch.client import origin
from monitor.sources.text import ParsedFeed

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: a feed this small is parsed on the event loop (about a millisecond): handing it to a thread
#: costs more than it saves, in wakeups and in threads contending for the interpreter
INLINE_PARSE_BYTES = 256 * 1024


def source_url(source: FeedSource | PageSource) -> str:
    return source.feed if isinstance(source, FeedSource) else source.page


def accept_header(source: FeedSource | PageSource) -> str:
    return FEED_ACCEPT if isinstance(source, FeedSource) else PAGE_ACCEPT


async def read_source(
    fetcher: Fetcher, source: FeedSource | PageSource, result: FetchResult
) -> ParsedFeed:
    """The items of ``result``, the answer to fetching ``source``; raises FetchError."""
    # imported here: feedparser and lxml cost a start 15 ms, and with worker processes the
    # monitor itself may never parse a feed
    from monitor.sources.feed import parse_feed

    name = source.name
    if isinstance(source, FeedSource):
        if len(result.body) <= INLINE_PARSE_BYTES:
            return parse_feed(name, result.body, url=result.url, headers=result.headers)
        return await asyncio.to_thread(
            parse_feed, name, result.body, url=result.url, headers=result.headers
        )
    # imported here: pages need bs4 (50 ms of a start), many runs read only feeds
    from monitor.sources.discover import read_page_without_selectors

    if source.select is not None:
        return await _read_pages(fetcher, source, source.select, result)
    found = await asyncio.to_thread(read_page_without_selectors, name, result.body, url=result.url)
    if isinstance(found, ParsedFeed):
        return found
    # The feed link comes from the page's content: trusted only on the page's own origin.
    untrusted = origin(found) != origin(source.page)
    feed = await fetcher.fetch(name, found, accept=FEED_ACCEPT, untrusted=untrusted)
    return await asyncio.to_thread(parse_feed, name, feed.body, url=feed.url, headers=feed.headers)


async def _read_pages(
    fetcher: Fetcher, source: PageSource, selectors: Selectors, result: FetchResult
) -> ParsedFeed:
    """The listing and, with a ``next`` selector, up to ``pages`` pages of it in all."""
    from monitor.sources.page import parse_page

    first = await asyncio.to_thread(
        parse_page, source.name, result.body, url=result.url, selectors=selectors
    )
    items, visited, parsed = list(first.items), {result.url}, first
    while parsed.next_url and parsed.next_url not in visited and len(visited) < selectors.pages:
        url = parsed.next_url
        visited.add(url)
        try:
            page = await fetcher.fetch(
                source.name, url, accept=PAGE_ACCEPT, untrusted=origin(url) != origin(source.page)
            )
            parsed = await asyncio.to_thread(
                parse_page, source.name, page.body, url=page.url, selectors=selectors
            )
        except FetchError as exc:
            # The first page was read: keep its items, and say why the listing stops early.
            problem = f"page {len(visited)} of the listing not read: {exc}"
            warning = "; ".join(filter(None, [first.warning, problem]))
            return ParsedFeed(items=items, warning=warning)
        items.extend(parsed.items)
    return ParsedFeed(items=items, warning=first.warning)
