"""Ordered, named migrations, each applied once in its own transaction and recorded.

A new migration is a function appended to ``MIGRATIONS``; never edit or reorder one that has
shipped, since databases in the field recorded it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.schema import CreateTable

from monitor.store import schema

Migration = tuple[str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    for table in (
        schema.sources,
        schema.items,
        schema.item_keys,
        schema.alerts,
        schema.deliveries,
    ):
        table.create(conn)


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
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
