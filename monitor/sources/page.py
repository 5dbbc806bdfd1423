"""An HTML listing page + CSS selectors -> Items (beautifulsoup4).

Selectors name an element; ``link`` and ``date`` may end in ``@attr`` to read an attribute
(``a@href``, ``time@datetime``). A page on which the item selector matches nothing is an error,
so a redesigned page is reported instead of looking like a quiet news day.
"""

from __future__ import annotations

from bs4 import Tag

from monitor.config.schema import Selectors
from monitor.errors import FetchError, FetchErrorKind
from monitor.model import Item
from monitor.sources.normalize import clean_text
from monitor.sources.text import (
    MAX_ITEMS,
    TEXT_LIMIT,
    TITLE_LIMIT,
    ParsedFeed,
    join_url,
    parse_date,
    parse_html,
)

_FIELDS = {"summary": "summary", "date": "published"}


def _select(node: Tag, selector: str) -> str:
    css, _, attr = selector.partition("@")
    found = node.select_one(css) if css else node
    if found is None:
        return ""
    if attr:
        value = found.get(attr)
        return " ".join(value) if isinstance(value, list) else (value or "")
    return found.get_text(" ")


def parse_page(source: str, body: bytes, *, url: str, selectors: Selectors) -> ParsedFeed:
    if not body.strip():
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, "empty body")
    soup = parse_html(body)
    if soup is None:
        raise FetchError(source, FetchErrorKind.PARSE, "the HTML parser rejected the page")
    for node in soup(["script", "style", "noscript"]):
        node.decompose()
    blocks = soup.select(selectors.item)
    if not blocks:
        raise FetchError(
            source,
            FetchErrorKind.PARSE,
            f"selector {selectors.item!r} matched 0 nodes: has the page changed?",
        )
    items = []
    links_found = 0
    for block in blocks[:MAX_ITEMS]:
        title = clean_text(_select(block, selectors.title), TITLE_LIMIT)
        link = _select(block, selectors.link).strip()
        links_found += bool(link)
        if not title:
            continue
        items.append(
            Item(
                source=source,
                title=title,
                url=join_url(url, link) if link else "",
                summary=clean_text(_select(block, selectors.summary), TEXT_LIMIT)
                if selectors.summary
                else "",
                published=parse_date(_select(block, selectors.date)) if selectors.date else None,
            )
        )
    if not items:
        raise FetchError(
            source,
            FetchErrorKind.PARSE,
            f"selector {selectors.title!r} (title) matched nothing in {len(blocks)} items",
        )
    warnings = []
    if not links_found:
        warnings.append(
            f"selector {selectors.link!r} (link) matched nothing in {len(blocks)} items"
        )
    for field in ("summary", "date"):
        selector = getattr(selectors, field)
        if selector and not any(getattr(item, _FIELDS[field]) for item in items):
            warnings.append(
                f"selector {selector!r} ({field}) matched nothing in {len(items)} items"
            )
    next_url = None
    if selectors.next:
        link = _select(soup, selectors.next).strip()
        next_url = join_url(url, link) if link else None
    return ParsedFeed(items=items, warning="; ".join(warnings) or None, next_url=next_url)
