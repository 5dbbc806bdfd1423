"""Feed bytes -> Items, with feedparser doing the parsing and never the fetching.

RSS 0.9x/1.0/2.0 and Atom are handled by feedparser, JSON Feed by jsonfeed.py; a plain RSS 2.0 or
Atom feed takes the fast path of plainfeed.py, which gives the same items. A feed it can only partly
parse ("bozo") still yields what it recovered, with a warning; a body that is no feed at all is a
``not_a_feed`` error, never an empty list that a later good fetch would turn into a flood.
"""

from __future__ import annotations

import calendar
import io
import re
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from monitor.errors import FetchError, FetchErrorKind
from monitor.model import Item
from monitor.sources.jsonfeed import looks_like_json_feed, parse_json_feed
from monitor.sources.normalize import clean_text
from monitor.sources.plainfeed import read_plain_feed
from monitor.sources.text import (
    MAX_ITEMS,
    MAX_TAGS,
    TITLE_LIMIT,
    ParsedFeed,
    html_to_text,
    join_url,
)


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            found = utc_datetime(parsed)
            if found is not None:
                return found
    return None


def utc_datetime(parsed: time.struct_time) -> datetime | None:
    """The UTC time ``parsed`` names, as ``calendar.timegm`` reads it; None when out of range."""
    try:
        # the fields as they are, at a third of timegm's cost; timegm also carries over fields
        # out of their range (a 60th second, a 31st of February), which datetime refuses
        return datetime(*parsed[:6], tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry_to_item(source: str, entry: Any, base_url: str) -> Item:
    link = entry.get("link") or next(
        (link.get("href") for link in entry.get("links", []) if link.get("href")), ""
    )
    content = entry.get("content") or []
    tags = tuple(
        clean_text(tag.get("term") or "", 200)
        for tag in entry.get("tags", [])[:MAX_TAGS]
        if tag.get("term")
    )
    return Item(
        source=source,
        # feedparser may hold None for an element it could not read (with lxml installed, too)
        title=html_to_text(entry.get("title") or "", TITLE_LIMIT),
        url=join_url(base_url, link.strip()) if link else "",
        summary=html_to_text(entry.get("summary") or ""),
        content=html_to_text(" ".join(c.get("value") or "" for c in content)) if content else "",
        published=_published(entry),
        guid=clean_text(entry.get("id") or "", 1000),
        author=clean_text(entry.get("author") or "", 200),
        tags=tags,
    )


#: bozo reasons about the HTTP headers, not the feed: the items are whole, nothing to warn about
_HEADER_QUIBBLES = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,40})|([0-9]{1,40}));")


def _neutralise_charrefs(body: bytes) -> bytes:
    """Character references beyond Unicode (``&#x110000;``) crash feedparser's loose parser."""

    def replace(match: re.Match[bytes]) -> bytes:
        hex_digits, decimal = match.groups()
        value = int(hex_digits, 16) if hex_digits else int(decimal)
        return match.group(0) if value <= 0x10FFFF else b"&#xFFFD;"

    return _CHARREF.sub(replace, body) if b"&#" in body else body


def parse_feed(source: str, body: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    if not body.strip():
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, "empty body")
    if looks_like_json_feed(body):
        return parse_json_feed(source, body, url=url)
    plain = read_plain_feed(body, headers)
    if plain is not None:
        entries, channel = plain
        return _feed(source, url, entries, channel, None)
    return parse_with_feedparser(source, body, url=url, headers=headers)


def parse_with_feedparser(
    source: str, body: bytes, *, url: str, headers: dict[str, str]
) -> ParsedFeed:
    """The reference path, for every feed the fast path leaves alone."""
    # A BytesIO, never a str or URL: feedparser would treat those as something to open.
    try:
        # Its HTML sanitizer and link resolution redo what html_to_text does anyway (every field
        # becomes plain text here), at half of the parse time.
        parsed = feedparser.parse(
            io.BytesIO(_neutralise_charrefs(body)),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except (ValueError, OverflowError, RecursionError) as exc:
        raise FetchError(source, FetchErrorKind.PARSE, f"feed parser failed: {exc}") from exc
    entries = parsed.get("entries", [])
    if not parsed.get("version") and not entries:
        reason = parsed.get("bozo_exception")
        looks_html = body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html"))
        detail = "an HTML page, not a feed" if looks_html else f"not a feed ({reason or 'unknown'})"
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, detail)
    malformed = None
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), _HEADER_QUIBBLES):
        malformed = parsed.get("bozo_exception")
    return _feed(source, url, entries, parsed.get("feed", {}), malformed)


def _feed(
    source: str, url: str, entries: list[Any], channel: Any, malformed: object | None
) -> ParsedFeed:
    base = channel.get("link") or url
    with warnings.catch_warnings():
        # feedparser warns on reading updated_parsed where only published exists; we read both.
        warnings.simplefilter("ignore", DeprecationWarning)
        items = [_entry_to_item(source, entry, url or base) for entry in entries[:MAX_ITEMS]]
    warning = None
    if malformed is not None:
        warning = f"feed is malformed, {len(items)} items recovered: {malformed}"
    elif not entries:
        warning = "feed has no items"
    elif len(entries) > MAX_ITEMS:
        warning = f"feed has {len(entries)} items; only the first {MAX_ITEMS} were read"
    return ParsedFeed(items=items, warning=warning, ttl=_ttl(channel.get("ttl")))


def _ttl(value: Any) -> timedelta | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return timedelta(minutes=minutes) if minutes > 0 else None
