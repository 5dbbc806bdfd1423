"""What the store records about each poll of a source: a fetch that worked (with the items it
found, in one transaction), a 304, a failure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.sql.elements import ClauseElement

from monitor.store import bulk, rows, schema
from monitor.store.part import StorePart

#: a source's row before its first poll: the columns that may not be empty
_NEW_SOURCE: dict[str, Any] = {"consecutive_failures": 0, "fetched_once": False, "items_seen": 0}


class PollRecords(StorePart):
    """Part of ``Store``; kept apart so that the store's main module stays about its core tables."""

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
