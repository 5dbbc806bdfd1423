"""Conversions between items and table rows, and of timestamps to aware UTC.

Everything is stored as UTC; SQLite hands datetimes back naive, so UTC is attached on read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from monitor.model import Item, KeyedItem


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (what SQLite returns)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def item_row(entry: KeyedItem, source: str, now: datetime) -> dict[str, Any]:
    item = entry.item
    return {
        "key": entry.key,
        "source": source,
        "guid": item.guid,
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "author": item.author,
        "tags": json.dumps(list(item.tags), ensure_ascii=False) if item.tags else "[]",
        "published_at": utc_or_none(item.published),
        "first_seen_at": now,
    }


def item_from_row(row: RowMapping) -> Item:
    return Item(
        source=row["source"],
        title=row["title"],
        url=row["url"],
        summary=row["summary"],
        content=row["content"],
        published=utc_or_none(row["published_at"]),
        guid=row["guid"],
        author=row["author"],
        tags=tuple(json.loads(row["tags"])),
    )
