"""JSON Feed 1.0/1.1 -> Items; feedparser 6 reads only XML formats."""

from __future__ import annotations

import json
from typing import Any

from monitor.errors import FetchError, FetchErrorKind
from monitor.model import Item
from monitor.sources.normalize import clean_text
from monitor.sources.text import (
    MAX_ITEMS,
    MAX_TAGS,
    TEXT_LIMIT,
    TITLE_LIMIT,
    ParsedFeed,
    html_to_text,
    join_url,
    parse_date,
)


def looks_like_json_feed(body: bytes) -> bool:
    head = body.lstrip()[:512]
    return head.startswith(b"{") and b"jsonfeed.org" in body[:4096]


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def _author(entry: dict[str, Any]) -> str:
    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    if not isinstance(authors, list):
        return ""
    names = [a.get("name", "") for a in authors if isinstance(a, dict)]
    return clean_text(", ".join(n for n in names if isinstance(n, str)), 200)


def parse_json_feed(source: str, body: bytes, *, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, f"invalid JSON Feed: {exc}") from exc
    entries = data.get("items") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise FetchError(source, FetchErrorKind.NOT_A_FEED, "JSON Feed without an items list")
    items = []
    for entry in entries[:MAX_ITEMS]:
        if not isinstance(entry, dict):
            continue
        link = _text(entry, "url") or _text(entry, "external_url")
        content = _text(entry, "content_text") or html_to_text(_text(entry, "content_html"))
        raw_tags = entry.get("tags")
        tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
        items.append(
            Item(
                source=source,
                title=html_to_text(_text(entry, "title"), TITLE_LIMIT),
                url=join_url(url, link) if link else "",
                summary=html_to_text(_text(entry, "summary")),
                content=clean_text(content, TEXT_LIMIT),
                published=parse_date(
                    _text(entry, "date_published") or _text(entry, "date_modified")
                ),
                guid=clean_text(str(entry.get("id", "")), 1000),
                author=_author(entry),
                tags=tuple(clean_text(t, 200) for t in tags[:MAX_TAGS] if isinstance(t, str)),
            )
        )
    warning = None if items else "feed has no items"
    return ParsedFeed(items=items, warning=warning)
