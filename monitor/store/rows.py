"""Conversions between items and table rows, and of timestamps to aware UTC.

Everything is stored as UTC; SQLite hands datetimes back naive, so UTC is attached on read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from monitor.model import Item, StoredItem


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (what SQLite returns)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: the columns of an item's row, in the order ``item_values`` gives them
ITEM_COLUMNS = (
    "key",
    "source",
    "guid",
    "url",
    "title",
    "summary",
    "content",
    "author",
    "tags",
    "published_at",
    "first_seen_at",
)


def item_values(item: StoredItem, source: str, now: datetime) -> tuple[Any, ...]:
    """The row of ``item`` as ``source`` stored it at ``now``, in ``ITEM_COLUMNS`` order."""
    keys, guid, url, title, summary, content, author, tags, published = item
    return (
        keys[0],
        source,
        guid,
        url,
        title,
        summary,
        content,
        author,
        json.dumps(list(tags), ensure_ascii=False) if tags else "[]",
        utc_or_none(published),
        now,
    )


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
