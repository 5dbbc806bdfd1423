"""Ordered, named migrations, each applied once in its own transaction and recorded.

A new migration is a function appended to ``MIGRATIONS``; never edit or reorder one that has
shipped, since databases in the field recorded it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateTable

from monitor.store import schema

Migration = tuple[str, Callable[[Connection], None]]


def _sources_as_created(metadata: MetaData) -> Table:
    """``sources`` as 0001 made it; later migrations add to it, so 0001 cannot use the live one."""
    return Table(
        "sources",
        metadata,
        Column("name", String(64), primary_key=True),
        Column("etag", Text),
        Column("last_modified", Text),
        Column("last_success_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Column("last_error_at", DateTime(timezone=True)),
        Column("consecutive_failures", Integer, nullable=False, default=0),
        Column("fetched_once", Boolean, nullable=False, default=False),
        Column("items_seen", Integer, nullable=False, default=0),
    )


def _item_keys_as_created(metadata: MetaData) -> Table:
    """item_keys as 0001_initial created it: with a reference to items."""
    return Table(
        "item_keys",
        metadata,
        Column("key", Text, primary_key=True),
        Column(
            "item_id", Integer, ForeignKey(schema.items.c.id, ondelete="CASCADE"), nullable=False
        ),
    )


def _initial(conn: Connection) -> None:
    _sources_as_created(MetaData()).create(conn)
    schema.items.create(conn)
    _item_keys_as_created(MetaData()).create(conn)
    for table in (schema.alerts, schema.deliveries):
        table.create(conn)


def _source_schedule(conn: Connection) -> None:
    column_type = DateTime(timezone=True).compile(dialect=conn.dialect)
    for column in ("next_poll_at", "failing_since"):
        conn.execute(text(f"ALTER TABLE sources ADD COLUMN {column} {column_type}"))


def _source_health(conn: Connection) -> None:
    moment = DateTime(timezone=True).compile(dialect=conn.dialect)
    words = Text().compile(dialect=conn.dialect)
    for column, kind in (
        ("health_alert", words),
        ("health_alert_at", moment),
        ("last_warning", words),
        ("last_warning_at", moment),
    ):
        conn.execute(text(f"ALTER TABLE sources ADD COLUMN {column} {kind}"))


def _silences(conn: Connection) -> None:
    Table(
        "silences",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("rule", String(64)),
        Column("match", Text, nullable=False),
        Column("comment", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("ends_at", DateTime(timezone=True), nullable=False),
    ).create(conn)


def _source_timings(conn: Connection) -> None:
    whole = Integer().compile(dialect=conn.dialect)
    for column in ("fetch_ms", "parse_ms"):
        conn.execute(text(f"ALTER TABLE sources ADD COLUMN {column} {whole}"))


def _item_keys_unreferenced(conn: Connection) -> None:
    """item_keys without its foreign key to items (see schema.item_keys)."""
    if conn.dialect.name == "postgresql":
        for reference in inspect(conn).get_foreign_keys("item_keys"):
            conn.execute(text(f'ALTER TABLE item_keys DROP CONSTRAINT "{reference["name"]}"'))
        return
    # SQLite drops a constraint only with its table: the keys move to a table made anew
    conn.execute(text("ALTER TABLE item_keys RENAME TO item_keys_referenced"))
    schema.item_keys.create(conn)
    conn.execute(
        text("INSERT INTO item_keys (key, item_id) SELECT key, item_id FROM item_keys_referenced")
    )
    conn.execute(text("DROP TABLE item_keys_referenced"))


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_source_schedule", _source_schedule),
    ("0003_source_health", _source_health),
    ("0004_silences", _silences),
    ("0005_source_timings", _source_timings),
    ("0006_item_keys_unreferenced", _item_keys_unreferenced),
]


def applied(engine: Engine) -> list[str]:
    """The names of the migrations recorded in the database, in the order they were applied."""
    table = schema.schema_migrations
    with engine.connect() as conn:
        return list(conn.scalars(select(table.c.name).order_by(table.c.applied_at, table.c.name)))


def migrate(engine: Engine) -> list[str]:
    """Apply the missing migrations in order; the names of those applied now."""
    with engine.begin() as conn:
        # IF NOT EXISTS rather than a check first: two processes may start at the same moment.
        conn.execute(CreateTable(schema.schema_migrations, if_not_exists=True))
    done = set(applied(engine))
    ran = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with engine.begin() as conn:
            # Claim the migration before running it: a concurrent migrator's claim makes this
            # insert wait for its commit and then skip, so each migration runs exactly once.
            claimed = conn.execute(
                schema.insert_or_ignore(engine.dialect.name, schema.schema_migrations)
                .values(name=name, applied_at=datetime.now(UTC))
                .returning(schema.schema_migrations.c.name)
            ).first()
            if claimed is None:
                continue
            step(conn)
        ran.append(name)
    return ran
