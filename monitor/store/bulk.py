"""Many rows in one statement, sent as the driver's SQL: inserts that skip conflicts and
return what they stored, and lookups of which values are stored already.

A first pass over many feeds stores hundreds of thousands of items. Through SQLAlchemy's
executemany each row goes through its parameter machinery, most of what a stored item cost.
Here the statement text is built once per table, dialect and row count, values are bound with
the column types' own processors (SQLite keeps datetimes as text in SQLAlchemy's format, so
reads through SQLAlchemy see what they always saw), and one multi-row statement carries them,
run on the driver's cursor inside the SQLAlchemy connection's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Table
from sqlalchemy.engine.interfaces import DBAPIConnection

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
    returning = f" RETURNING {returned}" if returned else ""
    return (
        f"{verb} {table.name} ({', '.join(columns)}) VALUES "
        + ", ".join([one] * rows)
        + conflict
        + returning
    )


@lru_cache(maxsize=64)
def _lookup(dialect: str, table: Table, column: str, returned: str, count: int) -> str:
    markers = _markers(dialect, count)
    # names from the schema, never from input; every value is bound
    return f"SELECT {returned} FROM {table.name} WHERE {column} IN ({markers})"  # noqa: S608


def stored_values(
    conn: Connection,
    table: Table,
    column: str,
    values: Sequence[Any],
    *,
    returned: str | None = None,
) -> set[Any]:
    """Which of ``values`` ``table.column`` holds; or, with ``returned``, that column of the
    rows holding them."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection in use holds one
    return driver_stored_values(dbapi, _dialect_name(conn), table, column, values, returned)


def driver_stored_values(
    dbapi: DBAPIConnection,
    dialect: str,
    table: Table,
    column: str,
    values: Sequence[Any],
    returned: str | None = None,
) -> set[Any]:
    """``stored_values`` on a driver's own connection (``dialect`` is its name)."""
    found: set[Any] = set()
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = tuple(values[start : start + LOOKUP_CHUNK])
        sql = _lookup(dialect, table, column, returned or column, len(chunk))
        found.update(value for (value,) in _run_on(dbapi, sql, chunk)[0])
    return found


def _run(conn: Connection, sql: str, values: tuple[Any, ...]) -> tuple[Sequence[Any], int]:
    """The rows ``sql`` returned and the count of rows it changed, run on the driver's cursor
    inside ``conn``'s transaction: SQLAlchemy's result would wrap each of thousands of rows."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection in use holds one
    return _run_on(dbapi, sql, values)


def _run_on(dbapi: DBAPIConnection, sql: str, values: tuple[Any, ...]) -> tuple[Sequence[Any], int]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, values)
        return (cursor.fetchall() if cursor.description else []), cursor.rowcount
    finally:
        cursor.close()


def _dialect_name(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk statements for {name}")
    return name


@lru_cache(maxsize=64)
def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[Any, ...]:
    # made once per table and columns: an upsert runs for every source on every poll
    processors = []
    for name in columns:
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        processors.append(_faster(process) if isinstance(column_type, DateTime) else process)
    return tuple(processors)


#: a moment whose every field differs from the others, to compare two ways of writing it
_PROBE = datetime(1987, 6, 5, 4, 3, 2, 10)


def _faster(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``process``, or, where it writes datetimes as SQLite's DATETIME does by default, the same
    text from ``datetime.isoformat``: a third of the time, and a first pass binds one per item."""
    if process is None or process(_PROBE) != _isoformat(_PROBE):
        return process

    def write(value: Any) -> Any:
        return _isoformat(value) if type(value) is datetime else process(value)

    return write


def _isoformat(moment: datetime) -> str:
    # the wall time to the microsecond, without the offset (SQLAlchemy's SQLite DATETIME drops it)
    return moment.isoformat(" ", "microseconds")[:26]


def _bound(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> list[Any]:
    """The values of ``rows`` (each in ``columns`` order), row after row, as the driver takes
    them: through each column type's bind processor."""
    values = [value for row in rows for value in row]
    width = len(columns)
    for offset, process in enumerate(_processors(dialect, table, columns)):
        if process is None:
            continue
        # a timestamp shared by a whole batch is formatted once
        last: Any = object()
        done: Any = None
        for index in range(offset, len(values), width):
            value = values[index]
            if value is None:
                continue
            if value is not last:
                last, done = value, process(value)
            values[index] = done
    return values


def _chunks(
    columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> Iterator[Sequence[Sequence[Any]]]:
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), per_statement):
        yield rows[start : start + per_statement]


def insert_returning(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returned: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (each in ``columns`` order), skipping those that would violate a unique
    key; the ``returned`` columns of the rows inserted, in no particular order."""
    if not rows:
        return []
    name, names = _dialect_name(conn), tuple(columns)
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(names, rows):
        sql = _statement(name, table, names, ", ".join(returned), len(chunk))
        found.extend(_run(conn, sql, tuple(_bound(conn.dialect, table, names, chunk)))[0])
    return found


def insert_ignoring(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert ``rows`` (each in ``columns`` order), skipping those that would violate a unique
    key; how many were inserted."""
    if not rows:
        return 0
    name, names = _dialect_name(conn), tuple(columns)
    inserted = 0
    for chunk in _chunks(names, rows):
        sql = _statement(name, table, names, "", len(chunk))
        inserted += _run(conn, sql, tuple(_bound(conn.dialect, table, names, chunk)))[1]
    return inserted


@lru_cache(maxsize=64)
def _upsert(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    key: str,
    replaced: tuple[str, ...],
    added: tuple[str, ...],
) -> str:
    # names from the schema, never from input (an unknown one raises); every value is bound
    unknown = {key, *columns, *replaced, *added} - set(table.c.keys())
    if unknown:
        raise KeyError(f"not columns of {table.name}: {sorted(unknown)}")
    # SQLite (3.24 or later) and PostgreSQL spell an upsert alike, ``excluded`` included
    changes = [f"{c} = excluded.{c}" for c in replaced]
    changes += [f"{c} = {table.name}.{c} + excluded.{c}" for c in added]
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({_markers(dialect, len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(changes)}"
    )


def upsert(
    conn: Connection,
    table: Table,
    row: Mapping[str, Any],
    *,
    key: str,
    replaced: Sequence[str],
    added: Sequence[str] = (),
) -> None:
    """Insert ``row``; where a row with its ``key`` exists, set that row's ``replaced``
    columns to ``row``'s values and raise its ``added`` columns by them instead."""
    columns = tuple(row)
    sql = _upsert(_dialect_name(conn), table, columns, key, tuple(replaced), tuple(added))
    _run(conn, sql, tuple(_bound(conn.dialect, table, columns, [tuple(row.values())])))
