"""A page without selectors: find the feed it links to, or else its headline links (pure).

Most newsrooms still link a feed from their pages' ``<head>``; using it beats any guess about
the markup. Where there is none, a link whose text reads like a headline (several words, not in
the navigation, header or footer) is taken as an item, with the text around it as its summary.
Users refine this with ``select:`` when the guess is not good enough.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bs4 import Tag

from monitor.errors import FetchError, FetchErrorKind
from monitor.model import Item
from monitor.sources.normalize import canonical_url, clean_text
from monitor.sources.text import (
    MAX_ITEMS,
    TEXT_LIMIT,
    TITLE_LIMIT,
    ParsedFeed,
    join_url,
    parse_date,
    parse_html,
)

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
)
#: fewer words than this is a menu entry or a button, not a headline
MIN_HEADLINE_WORDS = 4
_CHROME = ("nav", "header", "footer", "aside", "form")
_CHROME_WORDS = ("nav", "menu", "footer", "header", "cookie", "consent", "breadcrumb", "share")
_BLOCKS = ("article", "li", "section", "div")


def feed_link(soup: Tag, page_url: str) -> str | None:
    """The first feed the page declares with ``<link rel="alternate" type=...>``, absolute."""
    for link in soup.find_all("link", href=True):
        rel = link.get("rel")
        rels = rel if isinstance(rel, list) else str(rel or "").split()
        kind = str(link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in [r.lower() for r in rels] and kind in FEED_TYPES:
            href = str(link["href"]).strip()
            if href:
                return join_url(page_url, href)
    return None


def _in_chrome(node: Tag) -> bool:
    for parent in node.parents:
        if parent.name in _CHROME:
            return True
        marks = " ".join(
            [str(parent.get("id") or ""), *(parent.get("class") or []), str(parent.get("role"))]
        ).lower()
        if any(word in marks for word in _CHROME_WORDS):
            return True
    return False


def _block_of(anchor: Tag) -> Tag:
    for parent in anchor.parents:
        if isinstance(parent, Tag) and parent.name in _BLOCKS:
            return parent
    return anchor


def headline_links(source: str, soup: Tag, page_url: str) -> ParsedFeed:
    """Each headline-looking link of the page as an item; the page's own origin only."""
    site = urlsplit(page_url).hostname
    seen: set[str] = set()
    items: list[Item] = []
    for anchor in soup.find_all("a", href=True):
        title = clean_text(anchor.get_text(" "), TITLE_LIMIT)
        href = str(anchor["href"]).strip()
        if len(title.split()) < MIN_HEADLINE_WORDS or href.startswith(("#", "javascript:")):
            continue
        url = join_url(page_url, href)
        try:
            parts = urlsplit(url)
        except ValueError:  # a link too broken to follow ("http://[")
            continue
        if parts.scheme not in ("http", "https") or parts.hostname != site:
            continue
        if canonical_url(url) in seen or _in_chrome(anchor):
            continue
        seen.add(canonical_url(url))
        block = _block_of(anchor)
        summary = clean_text(block.get_text(" "), TEXT_LIMIT).replace(title, "", 1).strip()
        time_tag = block.find("time")
        published = None
        if isinstance(time_tag, Tag):
            published = parse_date(str(time_tag.get("datetime") or time_tag.get_text(" ")))
        items.append(
            Item(source=source, title=title, url=url, summary=summary, published=published)
        )
        if len(items) >= MAX_ITEMS:
            break
    if not items:
        raise FetchError(
            source,
            FetchErrorKind.PARSE,
            "the page links no feed and no headline-like links were found: add select: to it",
        )
    return ParsedFeed(items=items)


def read_page_without_selectors(source: str, body: bytes, *, url: str) -> ParsedFeed | str:
    """The page's items, or the URL of the feed it declares (to be fetched instead)."""
    if not body.strip():
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, "empty body")
    soup = parse_html(body)
    if soup is None:
        raise FetchError(source, FetchErrorKind.PARSE, "the HTML parser rejected the page")
    found = feed_link(soup, url)
    if found is not None and found != url:
        return found
    for node in soup(["script", "style", "noscript", "template"]):
        node.decompose()
    return headline_links(source, soup, url)
