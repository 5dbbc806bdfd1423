"""Ordered, named migrations, each applied once in its own transaction and recorded.

A new migration is a function appended to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

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
    with engine.connect() as conn:
        return list(conn.scalars(select(schema.schema_migrations.c.name)))


def migrate(engine: Engine) -> list[str]:
    """Apply the missing migrations in order; the names of those applied now."""
    schema.schema_migrations.create(engine, checkfirst=True)
    done = set(applied(engine))
    ran = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                schema.schema_migrations.insert().values(name=name, applied_at=datetime.now(UTC))
            )
        ran.append(name)
    return ran
