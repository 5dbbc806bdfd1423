"""The state store: one narrow interface over SQLite and PostgreSQL (SQLAlchemy Core).

Every method is one transaction, and may be called from any thread (the engine's pool gives
each call its own connection). SQLAlchemy's exceptions stop here and become StoreError, whose
message names the database but never its password. Timestamps go in as aware datetimes (naive
ones are taken as UTC) and come out as aware UTC.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, RowMapping, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.model import (
    Item,
    KeyedItem,
    Outgoing,
    PackedItems,
    StoredBatch,
    StoredItem,
    stored_item,
)
from monitor.store import bulk, rows, schema
from monitor.store import engine as engines
from monitor.store.deliveries import DeliveryRecords
from monitor.store.history import ItemHistory
from monitor.store.key_lookup import KeyLookup, first_unseen
from monitor.store.records import CommitResult, FetchSuccess, SourceState
from monitor.store.silences import SilenceRecords
from monitor.store.source_health import SourceHealthRecords

logger = logging.getLogger(__name__)

#: items per call of _insert_items (bulk.py splits them further into statements)
INSERT_CHUNK = 500
#: the columns of an item key's row, in the order ``_insert_items`` gives them
_KEY_COLUMNS = ("key", "item_id")
#: PostgreSQL advisory lock that serialises commit_items across processes (see there).
COMMIT_LOCK = 0x6D6F6E69746F72  # "monitor"


class Store(SourceHealthRecords, ItemHistory, DeliveryRecords, SilenceRecords):
    def __init__(self, engine: Engine, location: engines.Location) -> None:
        self._engine = engine
        self._location = location
        self.display = location.display
        #: the connection of this thread's shared_transaction, if one is open
        self._shared = threading.local()

    @classmethod
    def open(cls, location: str, *, base_dir: Path | None = None) -> Store:
        """Open (creating it if needed) and migrate the database at ``location``.

        ``location`` is a file path (relative to ``base_dir`` when given), ``sqlite:///path``,
        or a ``postgresql://`` URL (driven by psycopg 3).
        """
        engine, where = engines.open_migrated(location, base_dir)
        return cls(engine, where)

    def close(self) -> None:
        self._engine.dispose()

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the database file (SQLite; nothing for
        PostgreSQL), without waiting for readers. The last connection to close copies the rest,
        so one that copied most of it beforehand closes quickly."""
        if self._location.sqlite_path is None:
            return
        try:
            raw = self._engine.raw_connection()
            try:
                # outside any transaction: the driver's legacy mode begins none for a PRAGMA
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            finally:
                raw.close()
        except (SQLAlchemyError, sqlite3.Error) as exc:
            reason = engines.describe(exc, self._location)
            raise StoreError(f"state database {self.display}: checkpoint failed: {reason}") from exc

    @contextmanager
    def shared_transaction(self) -> Iterator[None]:
        """Calls made in this thread inside the block share one writing transaction.

        A call that raises leaves its writes half done: the caller must let the exception end
        the block, which rolls back every call in it. Inside another such block, this one is
        part of it.
        """
        if getattr(self._shared, "conn", None) is not None:
            yield
            return
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{engines.WRITE: True})
                with conn.begin():
                    self._shared.conn = conn
                    try:
                        yield
                    finally:
                        self._shared.conn = None
        except SQLAlchemyError as exc:
            reason = engines.describe(exc, self._location)
            raise StoreError(
                f"state database {self.display}: a batch of writes failed: {reason}"
            ) from exc

    @contextmanager
    def _transaction(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        shared: Connection | None = getattr(self._shared, "conn", None)
        try:
            if shared is not None:
                yield shared
                return
            with self._engine.connect() as conn:
                conn.execution_options(**{engines.WRITE: write})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            reason = engines.describe(exc, self._location)
            raise StoreError(f"state database {self.display}: {action} failed: {reason}") from exc

    # --- sources ------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        with self._transaction("reading source state") as conn:
            row = conn.execute(_SOURCE_BY_NAME, {"name": name}).first()
        return _source_state(row._mapping) if row else SourceState(name=name)

    def all_source_states(self) -> list[SourceState]:
        with self._transaction("reading source states") as conn:
            found = conn.execute(select(schema.sources).order_by(schema.sources.c.name)).all()
        return [_source_state(r._mapping) for r in found]

    def items_seen_since(self, since: datetime) -> dict[str, int]:
        """Items first seen per source since ``since``: how lively each source is."""
        i = schema.items
        query = (
            select(i.c.source, func.count())
            .where(i.c.first_seen_at >= rows.utc(since))
            .group_by(i.c.source)
        )
        with self._transaction("counting items") as conn:
            return {source: int(count) for source, count in conn.execute(query).all()}

    # --- items and alerts -----------------------------------------------------------------

    @staticmethod
    def _existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
        return bulk.stored_values(conn, schema.item_keys, "key", list(dict.fromkeys(keys)))

    def filter_new(self, batch: Sequence[KeyedItem]) -> list[KeyedItem]:
        """The entries none of whose keys are stored, and that share no key with an earlier one."""
        with self._transaction("looking up items") as conn:
            taken = self._existing_keys(conn, [k for entry in batch for k in entry.keys])
        return first_unseen(batch, taken)

    def key_lookup(self) -> KeyLookup:
        """``filter_new`` on a connection held for it, for a process that asks for every feed
        it reads; closed before the store."""
        return KeyLookup(self._engine, self._location)

    def commit_items(
        self,
        source: str,
        batch: Sequence[tuple[KeyedItem, Sequence[Outgoing]]],
        *,
        at: datetime,
        packed: PackedItems | None = None,
    ) -> CommitResult:
        """Items, their keys, alerts and deliveries in one transaction: all of it, or none.

        With ``packed``, ``batch`` is only the items with alerts, and ``packed`` all of them.

        An item any of whose keys another writer stored since ``filter_new`` is skipped, with
        its alerts.
        """
        stored: StoredBatch
        if packed is not None:
            stored = packed.unpack([(entry, list(outgoing)) for entry, outgoing in batch])
        else:
            stored = [(stored_item(entry), list(outgoing)) for entry, outgoing in batch]
        now = rows.utc(at)
        items_added = alerts_enqueued = 0
        with self._transaction("storing items and alerts", write=True) as conn:
            if conn.dialect.name == "postgresql":
                # One writer at a time, as SQLite's BEGIN IMMEDIATE gives: two batches holding
                # the same items in another order would otherwise deadlock on each other's keys.
                conn.execute(select(func.pg_advisory_xact_lock(COMMIT_LOCK)))
            # a stored item starts with its keys, its own first
            taken = self._existing_keys(conn, [k for item, _ in stored for k in item[0]])
            fresh: list[tuple[StoredItem, tuple[str, ...], Sequence[Outgoing]]] = []
            for item, outgoing in stored:
                keys = tuple(dict.fromkeys(item[0]))
                if taken.isdisjoint(keys):
                    taken.update(keys)
                    fresh.append((item, keys, outgoing))
            for start in range(0, len(fresh), INSERT_CHUNK):
                chunk = fresh[start : start + INSERT_CHUNK]
                ids = self._insert_items(conn, source, [(i, k) for i, k, _ in chunk], now)
                for _, keys, alerts in chunk:
                    item_id = ids.get(keys[0])
                    if item_id is None:
                        continue
                    items_added += 1
                    for out in alerts:
                        alerts_enqueued += self._enqueue(conn, item_id, out, now)
        return CommitResult(items_added=items_added, alerts_enqueued=alerts_enqueued)

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

    @staticmethod
    def _insert_items(
        conn: Connection,
        source: str,
        entries: Sequence[tuple[StoredItem, tuple[str, ...]]],
        now: datetime,
    ) -> dict[str, int]:
        """Store new items and their keys (each item's own first, none twice), two statements
        for many items: key -> new item id.

        An item whose key, or any of whose other keys, is already stored is left out.
        """
        if not entries:
            return {}
        inserted = bulk.insert_returning(
            conn,
            schema.items,
            rows.ITEM_COLUMNS,
            [rows.item_values(item, source, now) for item, _ in entries],
            ("id", "key"),
        )
        ids = {key: item_id for item_id, key in inserted}
        wanted = [(key, ids[keys[0]]) for _, keys in entries if keys[0] in ids for key in keys]
        if not wanted:
            return ids
        if bulk.insert_ignoring(conn, schema.item_keys, _KEY_COLUMNS, wanted) == len(wanted):
            return ids
        stored_keys = bulk.stored_values(
            conn, schema.item_keys, "item_id", list(ids.values()), returned="key"
        )
        for _, keys in entries:
            item_id = ids.get(keys[0])
            if item_id is None or stored_keys.issuperset(keys):
                continue
            # Reached only when a writer that skips COMMIT_LOCK stored one of the keys after the
            # check in commit_items: undo this item alone, the rest of the batch stays.
            conn.execute(schema.item_keys.delete().where(schema.item_keys.c.item_id == item_id))
            conn.execute(schema.items.delete().where(schema.items.c.id == item_id))
            del ids[keys[0]]
        return ids

    @staticmethod
    def _enqueue(conn: Connection, item_id: int, out: Outgoing, now: datetime) -> int:
        alert_id = conn.execute(
            schema.insert_or_ignore(conn.dialect.name, schema.alerts)
            .values(
                key=out.alert.key,
                rule=out.alert.rule,
                item_id=item_id,
                payload=out.alert.to_json(),
                created_at=now,
            )
            .returning(schema.alerts.c.id)
        ).scalar()
        if alert_id is None:
            return 0
        if out.channels:
            # A plain insert: a repeated channel breaks UNIQUE(alert_id, channel) and fails the
            # whole call, since silently dropping it would hide a bug in the caller.
            conn.execute(
                schema.deliveries.insert(),
                [
                    {
                        "alert_id": alert_id,
                        "channel": channel,
                        # a held alert keeps a row per channel, so `monitor alerts` shows it
                        "status": "silenced" if out.held else "pending",
                        "last_error": out.held or None,
                        "attempts": 0,
                        "next_attempt_at": None if out.held else now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for channel in out.channels
                ],
            )
        return 0 if out.held else 1

    def recent_items(self, *, since: datetime, limit: int = 10000) -> list[Item]:
        """Items first seen since ``since``, oldest first; past ``limit``, the newest are kept."""
        i = schema.items
        query = (
            select(i)
            .where(i.c.first_seen_at >= rows.utc(since))
            .order_by(i.c.first_seen_at.desc(), i.c.id.desc())
            .limit(limit)
        )
        with self._transaction("reading items") as conn:
            found = conn.execute(query).all()
        return [rows.item_from_row(r._mapping) for r in reversed(found)]


#: built once: the daemon reads a source's state on every poll, and building the statement
#: each time cost two thirds of the read
_SOURCE_BY_NAME = select(schema.sources).where(schema.sources.c.name == bindparam("name"))


def _source_state(row: RowMapping) -> SourceState:
    return SourceState(
        name=row["name"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success_at=rows.utc_or_none(row["last_success_at"]),
        last_error=row["last_error"],
        last_error_at=rows.utc_or_none(row["last_error_at"]),
        consecutive_failures=row["consecutive_failures"],
        fetched_once=bool(row["fetched_once"]),
        items_seen=row["items_seen"],
        next_poll_at=rows.utc_or_none(row["next_poll_at"]),
        failing_since=rows.utc_or_none(row["failing_since"]),
        health_alert=row["health_alert"],
        health_alert_at=rows.utc_or_none(row["health_alert_at"]),
        last_warning=row["last_warning"],
        last_warning_at=rows.utc_or_none(row["last_warning_at"]),
        fetch_ms=row["fetch_ms"],
        parse_ms=row["parse_ms"],
    )
