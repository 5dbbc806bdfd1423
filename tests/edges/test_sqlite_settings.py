"""The settings every SQLite connection of the store runs with, read back from SQLite itself."""

from __future__ import annotations

from pathlib import Path

from monitor.store.engine import WAL_CHECKPOINT_PAGES, open_migrated


def test_every_connection_logs_ahead_commits_durably_and_copies_the_log_in_large_steps(
    tmp_path: Path,
) -> None:
    engine, _ = open_migrated("state/monitor.db", tmp_path)
    try:
        with engine.connect() as conn:
            settings = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "wal_autocheckpoint")
            }
    finally:
        engine.dispose()
    # synchronous 2 is FULL: a reported commit survives a power cut
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
    }
    assert WAL_CHECKPOINT_PAGES > 1000
