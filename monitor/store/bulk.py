"""Many rows in one statement, sent as the driver's SQL: inserts that skip conflicts and
return what they stored, and lookups of which values are stored already.

A first pass over many feeds stores hundreds of thousands of items. Through SQLAlchemy's
executemany each row goes through its parameter machinery, most of what a stored item cost.
Here the statement text is built once per table, dialect and row count, values are bound with
the column types' own processors (SQLite keeps datetimes as text in SQLAlchemy's format, so
reads through SQLAlchemy see what they always saw), and one multi-row statement carries them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table

#: parameters per insert: SQLite (3.35 or later, for RETURNING) allows 32,766, PostgreSQL 65,535
MAX_PARAMETERS = 30_000
#: values per lookup
LOOKUP_CHUNK = 500


def _markers(dialect: str, count: int) -> str:
    # the drivers' own markers: sqlite3 takes qmark, psycopg positional %s
    return ", ".join(["?" if dialect == "sqlite" else "%s"] * count)


@lru_cache(maxsize=64)
def _statement(
    dialect: str, table: Table, columns: tuple[str, ...], returned: str, rows: int
) -> str:
    one = f"({_markers(dialect, len(columns))})"
    verb = "INSERT OR IGNORE INTO" if dialect == "sqlite" else "INSERT INTO"
    conflict = "" if dialect == "sqlite" else " ON CONFLICT DO NOTHING"
    return (
        f"{verb} {table.name} ({', '.join(columns)}) VALUES "
        + ", ".join([one] * rows)
        + f"{conflict} RETURNING {returned}"
    )


@lru_cache(maxsize=64)
def _lookup(dialect: str, table: Table, column: str, count: int) -> str:
    markers = _markers(dialect, count)
    # names from the schema, never from input; every value is bound
    return f"SELECT {column} FROM {table.name} WHERE {column} IN ({markers})"  # noqa: S608


def stored_values(conn: Connection, table: Table, column: str, values: Sequence[Any]) -> set[Any]:
    """Which of ``values`` ``table.column`` holds."""
    found: set[Any] = set()
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = tuple(values[start : start + LOOKUP_CHUNK])
        sql = _lookup(_dialect_name(conn), table, column, len(chunk))
        found.update(value for (value,) in conn.exec_driver_sql(sql, chunk))
    return found


def _dialect_name(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk statements for {name}")
    return name


def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> list[Any]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def insert_returning(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], returned: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (all with the same keys), skipping those that would violate a unique
    key; the ``returned`` columns of the rows inserted, in no particular order."""
    if not rows:
        return []
    name = _dialect_name(conn)
    columns = tuple(rows[0])
    bind: list[Callable[[Any], Any] | None] = _processors(conn.dialect, table, columns)
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values: list[Any] = []
        for row in chunk:
            for column, process in zip(columns, bind, strict=True):
                value = row[column]
                values.append(
                    process(value) if process is not None and value is not None else value
                )
        sql = _statement(name, table, columns, ", ".join(returned), len(chunk))
        found.extend(tuple(r) for r in conn.exec_driver_sql(sql, tuple(values)))
    return found
