"""What the store records about each poll of a source: a fetch that worked (with the items it
found, in one transaction), a 304, a failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, update
from sqlalchemy.sql.elements import ClauseElement

from monitor.model import KeyedItem, Outgoing, PackedItems
from monitor.store import bulk, rows, schema

#: a source's row before its first poll: the columns that may not be empty
_NEW_SOURCE: dict[str, Any] = {"consecutive_failures": 0, "fetched_once": False, "items_seen": 0}


@dataclass(frozen=True, kw_only=True)
class CommitResult:
    items_added: int
    alerts_enqueued: int


@dataclass(frozen=True, kw_only=True)
class FetchSuccess:
    """What a fetch that worked tells about its source, besides the items it found."""

    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None = None
    fetch_ms: int | None = None
    parse_ms: int | None = None


class PollRecords:
    """Part of ``Store``; kept apart so that the store's main module stays about its core tables."""

    def _transaction(
        self, action: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def shared_transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def commit_items(
        self,
        source: str,
        batch: Sequence[tuple[KeyedItem, Sequence[Outgoing]]],
        *,
        at: datetime,
        packed: PackedItems | None = None,
    ) -> CommitResult:
        raise NotImplementedError

    def commit_poll(
        self,
        source: str,
        batch: Sequence[tuple[KeyedItem, Sequence[Outgoing]]],
        *,
        at: datetime,
        fetched: FetchSuccess,
        packed: PackedItems | None = None,
    ) -> CommitResult:
        """``commit_items`` and ``record_fetch_success`` in one transaction: a poll's items and
        the fetch that found them are stored together or not at all."""
        with self.shared_transaction():
            committed = self.commit_items(source, batch, at=at, packed=packed)
            self.record_fetch_success(
                source,
                at=at,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                items_seen=committed.items_added,
                next_poll_at=fetched.next_poll_at,
                fetch_ms=fetched.fetch_ms,
                parse_ms=fetched.parse_ms,
            )
        return committed

    def _update_source(
        self, action: str, name: str, values: Mapping[str, Any], *, items_added: int = 0
    ) -> None:
        """Set a source's ``values`` (and count ``items_added``), making its row on its first
        poll."""
        if any(isinstance(value, ClauseElement) for value in values.values()):
            # values computed in SQL (a failure count going up) belong in the statement itself
            self._update_source_in_sql(action, name, values)
            return
        # one statement, sent as the driver's SQL: it runs for every source on every poll
        row = {**_NEW_SOURCE, "name": name, **values}
        added: tuple[str, ...] = ()
        if items_added:
            row["items_seen"], added = items_added, ("items_seen",)
        with self._transaction(action, write=True) as conn:
            bulk.upsert(conn, schema.sources, row, key="name", replaced=tuple(values), added=added)

    def _update_source_in_sql(self, action: str, name: str, values: Mapping[str, Any]) -> None:
        s = schema.sources
        changed = update(s).where(s.c.name == name).values(values)
        with self._transaction(action, write=True) as conn:
            if conn.execute(changed).rowcount == 0:
                conn.execute(
                    schema.insert_or_ignore(conn.dialect.name, s).values(name=name, **_NEW_SOURCE)
                )
                conn.execute(changed)

    def record_fetch_success(
        self,
        name: str,
        *,
        at: datetime,
        etag: str | None,
        last_modified: str | None,
        items_seen: int,
        next_poll_at: datetime | None = None,
        fetch_ms: int | None = None,
        parse_ms: int | None = None,
    ) -> None:
        values = {
            "fetch_ms": fetch_ms,
            "parse_ms": parse_ms,
            "next_poll_at": rows.utc_or_none(next_poll_at),
            "failing_since": None,
            "last_success_at": rows.utc(at),
            "etag": etag,
            "last_modified": last_modified,
            "consecutive_failures": 0,
            "fetched_once": True,
        }
        self._update_source("recording a fetch", name, values, items_added=items_seen)

    def record_not_modified(
        self,
        name: str,
        *,
        at: datetime,
        next_poll_at: datetime | None = None,
        fetch_ms: int | None = None,
    ) -> None:
        values = {
            "fetch_ms": fetch_ms,
            "parse_ms": None,  # nothing to parse
            "last_success_at": rows.utc(at),
            "consecutive_failures": 0,
            "next_poll_at": rows.utc_or_none(next_poll_at),
            "failing_since": None,
        }
        self._update_source("recording a fetch", name, values)

    def record_fetch_failure(
        self, name: str, *, at: datetime, error: str, next_poll_at: datetime | None = None
    ) -> None:
        values = {
            "next_poll_at": rows.utc_or_none(next_poll_at),
            "failing_since": func.coalesce(schema.sources.c.failing_since, rows.utc(at)),
            "last_error": error,
            "last_error_at": rows.utc(at),
            "consecutive_failures": schema.sources.c.consecutive_failures + 1,
        }
        self._update_source("recording a failure", name, values)
