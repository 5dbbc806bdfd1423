"""Frozen value types for the data that flows: Item -> Match -> Alert."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The item fields a rule can look at, in the order evidence is reported.
TEXT_FIELDS = ("title", "summary", "content", "source", "url", "author", "tags")
#: A rule's severities, least first.
SEVERITIES = ("info", "warning", "critical")


def at_least(severity: str, minimum: str) -> bool:
    """Whether ``severity`` is ``minimum`` or above it."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


@dataclass(frozen=True, kw_only=True)
class Item:
    """One news item from any source, normalised: text is plain (no markup), dates are UTC."""

    source: str
    title: str
    url: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    guid: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()

    def field_text(self, name: str) -> str:
        """The text of one matchable field; tags are joined so that each is a separate phrase."""
        if name == "tags":
            return " | ".join(self.tags)
        value = getattr(self, name)
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Why a rule matched: one term, the field it was found in, and the span of the match."""

    term: str
    field: str
    start: int
    end: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass(frozen=True, kw_only=True)
class Match:
    """A rule that holds for an item, with the evidence that made it hold."""

    rule: str
    item: Item
    evidence: tuple[Evidence, ...]
    #: the sum of the weights that held, for rules with a ``score:``; None otherwise
    score: float | None = None


@dataclass(frozen=True, kw_only=True)
class Alert:
    """What a channel delivers: a match rendered down to plain values.

    ``key`` is stable for a (rule, item) pair; channels use it as the idempotency key so that a
    receiver can drop the one duplicate an interrupted send may cause.
    """

    key: str
    rule: str
    title: str
    url: str
    source: str
    published: datetime | None
    summary: str
    matched: tuple[Evidence, ...] = field(default=())
    severity: str = "info"
    score: float | None = None

    @classmethod
    def from_match(cls, match: Match, item_key: str, *, severity: str = "info") -> Alert:
        digest = hashlib.sha256(f"{match.rule}\x00{item_key}".encode()).hexdigest()[:32]
        item = match.item
        return cls(
            key=digest,
            rule=match.rule,
            title=item.title,
            url=item.url,
            source=item.source,
            published=item.published,
            summary=item.summary,
            matched=match.evidence,
            severity=severity,
            score=match.score,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready form: the webhook payload and the stored outbox row."""
        return {
            "id": self.key,
            "rule": self.rule,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
            "summary": self.summary,
            "severity": self.severity,
            "score": self.score,
            "matched": [e.as_dict() for e in self.matched],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        published = data.get("published")
        return cls(
            key=data["id"],
            rule=data["rule"],
            title=data["title"],
            url=data["url"],
            source=data["source"],
            published=datetime.fromisoformat(published) if published else None,
            summary=data.get("summary", ""),
            severity=data.get("severity", "info"),
            score=data.get("score"),
            matched=tuple(Evidence(**e) for e in data.get("matched", [])),
        )


@dataclass(frozen=True, kw_only=True)
class KeyedItem:
    """An item with its identity keys, most specific first (guid, canonical URL, title hash).

    ``keys[0]`` names the item; an item is already seen when any of its keys is stored.
    """

    item: Item
    keys: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """An alert and the channels it must reach; each channel gets its own delivery row."""

    alert: Alert
    channels: tuple[str, ...]
    #: why the alert is recorded but not sent (a silence, a repeat); empty to send it
    held: str = ""


@dataclass(frozen=True, kw_only=True)
class Digest:
    """Several alerts sent as one message to a channel that groups them.

    ``key`` is stable for the same set of alerts, so a retried digest carries the same
    idempotency key and a receiver can drop the duplicate.
    """

    alerts: tuple[Alert, ...]

    @property
    def key(self) -> str:
        joined = "\x00".join(sorted(a.key for a in self.alerts))
        return hashlib.sha256(joined.encode()).hexdigest()[:32]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "count": len(self.alerts),
            "alerts": [a.as_dict() for a in self.alerts],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True)


#: new items, each with the alerts it causes
Planned = list[tuple["KeyedItem", list["Outgoing"]]]

#: an item as the store takes it, in plain values: its keys, guid, url, title, summary,
#: content, author, tags and publication time (the commit names its source)
StoredItem = tuple[tuple[str, ...], str, str, str, str, str, str, tuple[str, ...], datetime | None]
#: new items as the store takes them, each with the alerts it causes
StoredBatch = list[tuple[StoredItem, list["Outgoing"]]]


def stored_item(entry: KeyedItem) -> StoredItem:
    item = entry.item
    return (
        entry.keys,
        item.guid,
        item.url,
        item.title,
        item.summary,
        item.content,
        item.author,
        item.tags,
        item.published,
    )


@dataclass(frozen=True)
class PackedItems:
    """New items pickled once, in the process that read them, for the store.

    The monitor only passes them on: unpickling every item to pickle it again for the store
    process cost it more than its HTTP. They travel as plain values (``StoredItem``), which
    pickle and unpickle in a third of the time the objects took. The few items that cause
    alerts also travel as objects, so that they can be held back first, and ``positions``
    says where they go in the batch.
    """

    data: bytes
    count: int
    positions: tuple[int, ...]

    @classmethod
    def pack(cls, planned: Planned) -> tuple[PackedItems, Planned]:
        """``planned`` as the packed items and the items with alerts."""
        alerting = [(at, pair) for at, pair in enumerate(planned) if pair[1]]
        values = [stored_item(entry) for entry, _ in planned]
        data = pickle.dumps(values, pickle.HIGHEST_PROTOCOL)
        packed = cls(data, len(planned), tuple(at for at, _ in alerting))
        return packed, [pair for _, pair in alerting]

    def unpack(self, alerting: Planned) -> StoredBatch:
        """Every item in its place, those in ``alerting`` with their (held-back) alerts."""
        if len(alerting) != len(self.positions):
            raise ValueError("the alerting items do not match the packed positions")
        # pickled by the monitor's own worker process, as every task and result of the pool is
        values: list[StoredItem] = pickle.loads(self.data)  # noqa: S301
        batch: StoredBatch = [(item, []) for item in values]
        for at, (entry, outgoing) in zip(self.positions, alerting, strict=True):
            batch[at] = (stored_item(entry), outgoing)
        return batch
