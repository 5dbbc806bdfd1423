"""The state store: one narrow interface over SQLite and PostgreSQL (SQLAlchemy Core).

Every method is one transaction. SQLAlchemy's exceptions stop here and become StoreError, whose
message names the database but never its password. Timestamps go in and come out as aware UTC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.model import Alert, Item, KeyedItem, Outgoing
from monitor.store import schema
from monitor.store.migrations import migrate

logger = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
#: keys per IN (...) query; SQLite's default limit on bound parameters is far above this
KEY_CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class SourceState:
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    fetched_once: bool = False
    items_seen: int = 0


@dataclass(frozen=True, kw_only=True)
class DeliveryRow:
    id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    alert: Alert


@dataclass(frozen=True, kw_only=True)
class CommitResult:
    items_added: int
    alerts_enqueued: int


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _engine_url(location: str, base_dir: Path | None) -> tuple[str, Path | None]:
    """The SQLAlchemy URL and, for SQLite, the database file."""
    if location.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + location.split("://", 1)[1], None
    if "://" in location and not location.startswith("sqlite:///"):
        return location, None
    path = Path(location.removeprefix("sqlite:///"))
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return f"sqlite:///{path}", path


def _check_sqlite_file(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
            if header != SQLITE_HEADER:
                raise StoreError(
                    f"{path} is not a valid SQLite database (corrupt or another kind of file); "
                    "it was left untouched: restore it from a backup or move it away"
                )
    except OSError as exc:
        raise StoreError(f"cannot open state database {path}: {exc.strerror}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work during a write; FULL makes a reported commit survive a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    def __init__(self, engine: Engine, display: str) -> None:
        self._engine = engine
        self.display = display

    @classmethod
    def open(cls, location: str, *, base_dir: Path | None = None) -> Store:
        url, sqlite_path = _engine_url(location, base_dir)
        display = make_url(url).render_as_string(hide_password=True)
        if sqlite_path is not None:
            _check_sqlite_file(sqlite_path)
            display = str(sqlite_path)
        try:
            engine = create_engine(url, pool_pre_ping=sqlite_path is None)
            if sqlite_path is not None:
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine, display)
            with store._translate("open"):
                ran = migrate(engine)
        except StoreError:
            raise
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open state database {display}: {_reason(exc)}") from exc
        if ran:
            logger.info("state database %s: applied %s", display, ", ".join(ran))
        return store

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(
                f"state database {self.display}: {action} failed: {_reason(exc)}"
            ) from exc

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Connection]:
        with self._translate(action), self._engine.begin() as conn:
            yield conn

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # --- sources ------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        with self._transaction("reading source state") as conn:
            row = conn.execute(select(schema.sources).where(schema.sources.c.name == name)).first()
        return self._source_state(row._mapping) if row else SourceState(name=name)

    def all_source_states(self) -> list[SourceState]:
        with self._transaction("reading source states") as conn:
            rows = conn.execute(select(schema.sources).order_by(schema.sources.c.name)).all()
        return [self._source_state(r._mapping) for r in rows]

    @staticmethod
    def _source_state(row: Any) -> SourceState:
        return SourceState(
            name=row["name"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            last_success_at=_utc(row["last_success_at"]),
            last_error=row["last_error"],
            last_error_at=_utc(row["last_error_at"]),
            consecutive_failures=row["consecutive_failures"],
            fetched_once=bool(row["fetched_once"]),
            items_seen=row["items_seen"],
        )

    def _upsert_source(self, conn: Connection, name: str, values: dict[str, Any]) -> None:
        conn.execute(
            self._insert(schema.sources)
            .values(name=name, consecutive_failures=0, fetched_once=False, items_seen=0)
            .on_conflict_do_nothing()
        )
        conn.execute(update(schema.sources).where(schema.sources.c.name == name).values(values))

    def record_fetch_success(
        self,
        name: str,
        *,
        at: datetime,
        etag: str | None,
        last_modified: str | None,
        items_seen: int,
    ) -> None:
        with self._transaction("recording a fetch") as conn:
            self._upsert_source(
                conn,
                name,
                {
                    "last_success_at": _aware(at),
                    "etag": etag,
                    "last_modified": last_modified,
                    "consecutive_failures": 0,
                    "fetched_once": True,
                    "items_seen": schema.sources.c.items_seen + items_seen,
                },
            )

    def record_not_modified(self, name: str, *, at: datetime) -> None:
        with self._transaction("recording a fetch") as conn:
            self._upsert_source(
                conn, name, {"last_success_at": _aware(at), "consecutive_failures": 0}
            )

    def record_fetch_failure(self, name: str, *, at: datetime, error: str) -> None:
        with self._transaction("recording a failure") as conn:
            self._upsert_source(
                conn,
                name,
                {
                    "last_error": error,
                    "last_error_at": _aware(at),
                    "consecutive_failures": schema.sources.c.consecutive_failures + 1,
                },
            )

    # --- items and alerts -----------------------------------------------------------------

    def _existing_keys(self, conn: Connection, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), KEY_CHUNK):
            chunk = unique[start : start + KEY_CHUNK]
            found.update(
                conn.scalars(
                    select(schema.item_keys.c.key).where(schema.item_keys.c.key.in_(chunk))
                )
            )
        return found

    def filter_new(self, batch: Sequence[KeyedItem]) -> list[KeyedItem]:
        """The entries none of whose keys are stored, and that share no key with an earlier one."""
        with self._transaction("looking up items") as conn:
            taken = self._existing_keys(conn, [k for entry in batch for k in entry.keys])
        new = []
        for entry in batch:
            if taken.isdisjoint(entry.keys):
                new.append(entry)
                taken.update(entry.keys)
        return new

    def commit_items(
        self,
        source: str,
        batch: Sequence[tuple[KeyedItem, Sequence[Outgoing]]],
        *,
        at: datetime,
    ) -> CommitResult:
        """Items, their keys, alerts and deliveries in one transaction: all of it, or none."""
        now = _aware(at)
        items_added = alerts_enqueued = 0
        with self._transaction("storing items and alerts") as conn:
            # Another writer may have stored some of these since filter_new: skip those.
            taken = self._existing_keys(conn, [k for entry, _ in batch for k in entry.keys])
            for entry, outgoing in batch:
                if not taken.isdisjoint(entry.keys):
                    continue
                taken.update(entry.keys)
                item_id = conn.execute(
                    self._insert(schema.items)
                    .values(_item_row(entry, source, now))
                    .on_conflict_do_nothing()
                    .returning(schema.items.c.id)
                ).scalar()
                if item_id is None:
                    continue
                items_added += 1
                conn.execute(
                    self._insert(schema.item_keys).on_conflict_do_nothing(),
                    [{"key": key, "item_id": item_id} for key in entry.keys],
                )
                for out in outgoing:
                    alerts_enqueued += self._enqueue(conn, item_id, out, now)
        return CommitResult(items_added=items_added, alerts_enqueued=alerts_enqueued)

    def _enqueue(self, conn: Connection, item_id: int, out: Outgoing, now: datetime) -> int:
        alert_id = conn.execute(
            self._insert(schema.alerts)
            .values(
                key=out.alert.key,
                rule=out.alert.rule,
                item_id=item_id,
                payload=out.alert.to_json(),
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(schema.alerts.c.id)
        ).scalar()
        if alert_id is None:
            return 0
        if out.channels:
            conn.execute(
                schema.deliveries.insert(),
                [
                    {
                        "alert_id": alert_id,
                        "channel": channel,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for channel in out.channels
                ],
            )
        return 1

    def recent_items(self, *, since: datetime, limit: int = 10000) -> list[Item]:
        query = (
            select(schema.items)
            .where(schema.items.c.first_seen_at >= _aware(since))
            .order_by(schema.items.c.first_seen_at, schema.items.c.id)
            .limit(limit)
        )
        with self._transaction("reading items") as conn:
            rows = conn.execute(query).all()
        return [_item_from_row(r._mapping) for r in rows]

    # --- deliveries -----------------------------------------------------------------------

    def _delivery_query(self) -> Any:
        d, a = schema.deliveries, schema.alerts
        return select(d, a.c.payload).join(a, a.c.id == d.c.alert_id)

    def due_deliveries(self, *, now: datetime, limit: int = 100) -> list[DeliveryRow]:
        d = schema.deliveries
        query = (
            self._delivery_query()
            .where(d.c.status == "pending", d.c.next_attempt_at <= _aware(now))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        with self._transaction("reading due deliveries") as conn:
            return [_delivery(r._mapping) for r in conn.execute(query).all()]

    def deliveries(self, *, status: str | None = None) -> list[DeliveryRow]:
        d = schema.deliveries
        query = self._delivery_query().order_by(d.c.created_at.desc(), d.c.id.desc())
        if status is not None:
            query = query.where(d.c.status == status)
        with self._transaction("reading deliveries") as conn:
            return [_delivery(r._mapping) for r in conn.execute(query).all()]

    def _update_delivery(self, delivery_id: int, values: dict[str, Any]) -> None:
        d = schema.deliveries
        with self._transaction("updating a delivery") as conn:
            conn.execute(
                update(d).where(d.c.id == delivery_id).values(attempts=d.c.attempts + 1, **values)
            )

    def mark_sent(self, delivery_id: int, *, at: datetime) -> None:
        now = _aware(at)
        self._update_delivery(
            delivery_id, {"status": "sent", "sent_at": now, "updated_at": now, "last_error": None}
        )

    def mark_retry(
        self, delivery_id: int, *, at: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        self._update_delivery(
            delivery_id,
            {
                "last_error": error,
                "next_attempt_at": _aware(next_attempt_at),
                "updated_at": _aware(at),
            },
        )

    def mark_dead(self, delivery_id: int, *, at: datetime, error: str) -> None:
        self._update_delivery(
            delivery_id, {"status": "dead", "last_error": error, "updated_at": _aware(at)}
        )

    def retry_dead(self, *, at: datetime, delivery_ids: Sequence[int] | None = None) -> int:
        d = schema.deliveries
        now = _aware(at)
        statement = (
            update(d)
            .where(d.c.status == "dead")
            .values(status="pending", next_attempt_at=now, updated_at=now)
        )
        if delivery_ids is not None:
            statement = statement.where(d.c.id.in_(list(delivery_ids)))
        with self._transaction("re-queueing deliveries") as conn:
            return conn.execute(statement).rowcount

    def count_items(self) -> int:
        with self._transaction("counting items") as conn:
            return int(conn.scalar(select(func.count()).select_from(schema.items)) or 0)


def _item_row(entry: KeyedItem, source: str, now: datetime) -> dict[str, Any]:
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
        "tags": json.dumps(list(item.tags), ensure_ascii=False),
        "published_at": _utc(item.published),
        "first_seen_at": now,
    }


def _item_from_row(row: Any) -> Item:
    return Item(
        source=row["source"],
        title=row["title"],
        url=row["url"],
        summary=row["summary"],
        content=row["content"],
        published=_utc(row["published_at"]),
        guid=row["guid"],
        author=row["author"],
        tags=tuple(json.loads(row["tags"])),
    )


def _delivery(row: Any) -> DeliveryRow:
    return DeliveryRow(
        id=row["id"],
        channel=row["channel"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=_utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=_aware(row["created_at"]),
        sent_at=_utc(row["sent_at"]),
        alert=Alert.from_dict(json.loads(row["payload"])),
    )


def _reason(exc: BaseException) -> str:
    """The driver's own message, first line only: SQLAlchemy appends the SQL and parameters."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
