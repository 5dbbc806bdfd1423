"""From a configured location to a SQLAlchemy engine, and from driver errors to readable text.

SQLite gets its pragmas and its transactions from here: the ``sqlite3`` module's legacy mode
emits BEGIN only before INSERT, UPDATE or DELETE, leaving earlier reads and any DDL outside the
transaction. SQLAlchemy emits BEGIN itself instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from monitor.errors import StoreError, without_password
from monitor.store.migrations import migrate

logger = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
#: Execution option of a connection whose transaction will write (SQLite: BEGIN IMMEDIATE).
WRITE = "monitor_write"
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 10

_CORRUPT = ("not a database", "malformed")
_RESTORE_HINT = "the file is not a valid database or is corrupt: restore it from a backup"


@dataclass(frozen=True)
class Location:
    """Where the state lives: the URL to connect to, and how to name it in messages."""

    url: URL
    display: str
    sqlite_path: Path | None

    @property
    def secret(self) -> str | None:
        return self.url.password


def parse_location(location: str, base_dir: Path | None) -> Location:
    """A file path, a ``sqlite:///`` URL or a PostgreSQL URL; anything else is refused."""
    if "://" not in location:
        return _sqlite_location(Path(location).expanduser(), base_dir)
    try:
        url = make_url(location)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"state database {without_password(location)}: not a valid URL") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise StoreError(f"state database {location}: in memory, the state would not persist")
        return _sqlite_location(Path(url.database), base_dir)
    if backend in ("postgresql", "postgres"):
        if "+" not in url.drivername:
            # Only psycopg 3 is a dependency; SQLAlchemy's default would be psycopg2.
            url = url.set(drivername="postgresql+psycopg")
        return Location(url, url.render_as_string(hide_password=True), None)
    raise StoreError(
        f"state database {url.render_as_string(hide_password=True)}: unsupported kind of "
        "database (use a file path, sqlite:///path or postgresql://...)"
    )


def _sqlite_location(path: Path, base_dir: Path | None) -> Location:
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return Location(URL.create("sqlite", database=str(path)), str(path), path)


def check_sqlite_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a database or cannot be written.

    SQLite would treat an unreadable header as an error only on first use and might rewrite
    parts of the file while switching journal modes; the user's data must stay as it was.
    """
    prefix = f"cannot open state database {path}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise StoreError(f"{prefix}: it is a folder, not a file")
        header = b""
        if path.exists():
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{prefix}: {exc.strerror or exc}") from exc
    if header and header != SQLITE_HEADER:
        raise StoreError(
            f"{prefix}: it is not a valid SQLite database (corrupt, or another kind of file); "
            "it was left untouched: restore it from a backup or move it away"
        )
    if header and not _can(path, os.W_OK):
        raise StoreError(f"{prefix}: the file is read-only")
    # WAL keeps two files next to the database, so the folder must be writable too.
    if not _can(path.parent, os.W_OK | os.X_OK):
        raise StoreError(f"{prefix}: its folder {path.parent} is not writable")


def _can(path: Path, mode: int) -> bool:
    # The effective ids are what SQLite's open() is checked against.
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


#: the page size of a new database; one made before keeps its own
PAGE_BYTES = 16 * 1024
#: what the write-ahead log holds before SQLite copies it into the database
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # BEGIN comes from _sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        # The timeout first, so that switching the journal mode also waits for other writers.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # SQLite reads and writes a page per system call, and a first pass over 1,000 feeds
        # writes 25 MB of items: 16 KB pages rather than the default 4 KB take a third of the
        # calls (33,000 -> 12,000 writes). Set only while the file holds no table yet, and
        # before the log is: a database made with other pages keeps them.
        cursor.execute(f"PRAGMA page_size={PAGE_BYTES}")
        # WAL lets readers work during a write; FULL makes a reported commit survive a power cut.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A pass over many feeds rewrites the same index pages commit after commit: copying
        # them into the database every 4 MB (1,000 pages of 4 KB, the default) cost its writer
        # a tenth of its time. The log may now grow to 40 MB between copies.
        page_bytes = cursor.execute("PRAGMA page_size").fetchone()[0]
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page_bytes}")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writing transaction takes the write lock up front: upgrading a read lock later fails at
    # once (no busy wait) when another connection committed in between.
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def open_migrated(location: str, base_dir: Path | None) -> tuple[Engine, Location]:
    """An engine on a checked location, with every missing migration applied."""
    where = parse_location(location, base_dir)
    if where.sqlite_path is not None:
        check_sqlite_file(where.sqlite_path)
    try:
        engine = create(where)
    except (SQLAlchemyError, ImportError) as exc:
        raise _cannot_open(where, exc) from exc
    try:
        ran = migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, SQLAlchemyError):
            raise _cannot_open(where, exc) from exc
        raise
    if ran:
        logger.info("state database %s: applied %s", where.display, ", ".join(ran))
    return engine, where


def _cannot_open(where: Location, exc: BaseException) -> StoreError:
    return StoreError(f"cannot open state database {where.display}: {describe(exc, where)}")


def create(location: Location) -> Engine:
    """The engine; raises ImportError when the driver is not installed."""
    if location.sqlite_path is None:
        return create_engine(
            location.url,
            pool_pre_ping=True,  # the daemon outlives server restarts and idle disconnects
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    engine = create_engine(location.url)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def describe(exc: BaseException, location: Location) -> str:
    """The driver's own message, first line only (SQLAlchemy appends SQL and parameters)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip()
    first = text.splitlines()[0] if text else type(original).__name__
    if location.secret:
        first = first.replace(location.secret, "***")
    if isinstance(exc, ImportError):
        first += " (install the database driver: pip install 'news-monitor[postgres]')"
    elif location.sqlite_path is not None and any(word in first.lower() for word in _CORRUPT):
        first += f" ({_RESTORE_HINT})"
    return first
