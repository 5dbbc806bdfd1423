"""The settings every SQLite connection of the store runs with, read back from SQLite itself."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.model import Item, KeyedItem
from monitor.store import Store
from monitor.store.engine import PAGE_BYTES, WAL_CHECKPOINT_BYTES, open_migrated


def read_settings(database: Path) -> dict[str, object]:
    names = ("journal_mode", "synchronous", "foreign_keys", "page_size", "wal_autocheckpoint")
    engine, _ = open_migrated(str(database), None)
    try:
        with engine.connect() as conn:
            return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
    finally:
        engine.dispose()


def test_every_connection_logs_ahead_commits_durably_and_copies_the_log_in_large_steps(
    tmp_path: Path,
) -> None:
    settings = read_settings(tmp_path / "state" / "monitor.db")
    # synchronous 2 is FULL: a reported commit survives a power cut
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "page_size": PAGE_BYTES,
        "wal_autocheckpoint": WAL_CHECKPOINT_BYTES // PAGE_BYTES,
    }
    assert PAGE_BYTES > 4096
    assert WAL_CHECKPOINT_BYTES // PAGE_BYTES > 1000


def test_a_database_made_with_other_pages_keeps_them_and_its_data(tmp_path: Path) -> None:
    # as an earlier version made it: 4 KB pages, a table of its own already in it
    database = tmp_path / "monitor.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.close()
    settings = read_settings(database)
    assert settings["page_size"] == 4096
    # the log's limit is in bytes, whatever the pages
    assert settings["wal_autocheckpoint"] == WAL_CHECKPOINT_BYTES // 4096
    store = Store.open(str(database))
    try:
        item = Item(source="wire", title="A story", url="https://e.org/a", guid="a")
        entry = KeyedItem(item=item, keys=("guid:a",))
        added = store.commit_items("wire", [(entry, [])], at=datetime.now(UTC))
        assert added.items_added == 1
        assert store.filter_new([entry]) == []
    finally:
        store.close()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    conn.close()
