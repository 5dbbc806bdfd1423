"""The store against real databases: SQLite files and the local PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.errors import StoreError
from monitor.model import Alert, Item, KeyedItem, Outgoing
from monitor.sources.normalize import identity_keys
from monitor.store import Store
from monitor.store.migrations import MIGRATIONS, applied
from tests.conftest import postgres_url

T0 = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)

postgres_param = pytest.param(
    "postgresql",
    marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(
            os.environ.get("MONITOR_SKIP_POSTGRES") == "1", reason="MONITOR_SKIP_POSTGRES=1"
        ),
    ],
)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A location for a fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "state" / "monitor.db")
        return
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    opened = Store.open(database)
    try:
        yield opened
    finally:
        opened.close()


backends = pytest.mark.parametrize("database", ["sqlite", postgres_param], indirect=True)


def keyed(title: str, *, guid: str = "", url: str = "", source: str = "wire") -> KeyedItem:
    item = Item(source=source, title=title, url=url, guid=guid, summary="s", tags=("a", "b"))
    return KeyedItem(item=item, keys=identity_keys(item))


def outgoing(entry: KeyedItem, *channels: str, rule: str = "r") -> Outgoing:
    from monitor.model import Match

    match = Match(rule=rule, item=entry.item, evidence=())
    return Outgoing(alert=Alert.from_match(match, entry.key), channels=channels)


@backends
def test_migrations_are_recorded_and_opening_again_changes_nothing(database: str) -> None:
    Store.open(database).close()
    again = Store.open(database)
    again.close()
    assert applied(again._engine) == [name for name, _ in MIGRATIONS]


@backends
def test_item_seen_under_another_guid_or_tracking_url_is_not_new(store: Store) -> None:
    first = keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a")
    store.commit_items("wire", [(first, [])], at=T0)
    same_url = keyed("Another headline for it", guid="g2", url="https://www.e.org/a?utm_source=x")
    same_title = keyed("AWS shuts its Shanghai AI lab!", guid="g3", url="https://other.org/b")
    fresh = keyed("Unrelated story about rain", guid="g4", url="https://e.org/rain")
    assert store.filter_new([same_url, same_title, fresh]) == [fresh]


@backends
def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    a = keyed("Story one with four words", guid="x1")
    b = keyed("Story one with four words", guid="x2")
    assert store.filter_new([a, b]) == [a]


@backends
def test_commit_stores_items_alerts_and_one_delivery_per_channel(store: Store) -> None:
    entry = keyed("AWS shuts its Shanghai AI lab", guid="g1")
    result = store.commit_items("wire", [(entry, [outgoing(entry, "slack", "mail")])], at=T0)
    assert (result.items_added, result.alerts_enqueued) == (1, 1)
    due = store.due_deliveries(now=T0)
    assert sorted(d.channel for d in due) == ["mail", "slack"]
    assert {d.alert.title for d in due} == {"AWS shuts its Shanghai AI lab"}
    assert all(d.created_at.tzinfo is not None for d in due)
    (stored,) = store.recent_items(since=T0 - timedelta(seconds=1))
    assert stored == entry.item


@backends
def test_a_failing_batch_stores_nothing(store: Store) -> None:
    good = keyed("First story of the batch here", guid="g1")
    bad = keyed("Second story of the batch here", guid="g2")
    broken = outgoing(bad, "slack", "slack")  # violates one delivery per (alert, channel)
    with pytest.raises(StoreError, match="storing items and alerts failed"):
        store.commit_items("wire", [(good, [outgoing(good, "slack")]), (bad, [broken])], at=T0)
    assert store.filter_new([good, bad]) == [good, bad]
    assert store.deliveries() == []


@backends
def test_item_stored_meanwhile_by_another_writer_is_skipped_with_its_alerts(
    store: Store, database: str
) -> None:
    entry = keyed("Story that two daemons both saw", guid="g1")
    other = Store.open(database)
    try:
        other.commit_items("wire", [(entry, [outgoing(entry, "slack")])], at=T0)
    finally:
        other.close()
    result = store.commit_items("wire", [(entry, [outgoing(entry, "slack")])], at=T0)
    assert (result.items_added, result.alerts_enqueued) == (0, 0)
    assert len(store.deliveries()) == 1


@backends
def test_delivery_lifecycle_retry_sent_dead_and_requeue(store: Store) -> None:
    entry = keyed("Story for the delivery lifecycle", guid="g1")
    store.commit_items("wire", [(entry, [outgoing(entry, "slack", "hook")])], at=T0)
    by_channel = {d.channel: d for d in store.due_deliveries(now=T0)}
    slack, hook = by_channel["slack"], by_channel["hook"]

    store.mark_retry(slack.id, at=T0, error="HTTP 503", next_attempt_at=T0 + timedelta(minutes=5))
    assert [d.channel for d in store.due_deliveries(now=T0 + timedelta(minutes=4))] == ["hook"]
    assert [d.channel for d in store.due_deliveries(now=T0 + timedelta(minutes=5))] == [
        "hook",
        "slack",
    ]

    store.mark_sent(slack.id, at=T0 + timedelta(minutes=5))
    store.mark_dead(hook.id, at=T0, error="HTTP 404")
    rows = {d.channel: d for d in store.deliveries()}
    assert rows["slack"].status == "sent"
    assert rows["slack"].attempts == 2
    assert rows["slack"].sent_at == T0 + timedelta(minutes=5)
    assert rows["hook"].status == "dead"
    assert rows["hook"].last_error == "HTTP 404"
    assert store.due_deliveries(now=T0 + timedelta(days=1)) == []

    assert store.retry_dead(at=T0 + timedelta(hours=1)) == 1
    assert [d.channel for d in store.due_deliveries(now=T0 + timedelta(hours=1))] == ["hook"]


@backends
def test_source_state_counts_failures_and_resets_on_success(store: Store) -> None:
    assert store.source_state("wire").fetched_once is False
    store.record_fetch_failure("wire", at=T0, error="timeout")
    store.record_fetch_failure("wire", at=T0 + timedelta(minutes=1), error="HTTP 503")
    failing = store.source_state("wire")
    assert failing.consecutive_failures == 2
    assert failing.last_error == "HTTP 503"
    assert failing.last_error_at == T0 + timedelta(minutes=1)

    store.record_fetch_success("wire", at=T0, etag='"v1"', last_modified=None, items_seen=3)
    ok = store.source_state("wire")
    assert (ok.consecutive_failures, ok.fetched_once, ok.items_seen, ok.etag) == (
        0,
        True,
        3,
        '"v1"',
    )
    store.record_not_modified("wire", at=T0 + timedelta(hours=1))
    cached = store.source_state("wire")
    assert cached.etag == '"v1"'
    assert cached.last_success_at == T0 + timedelta(hours=1)
    assert [s.name for s in store.all_source_states()] == ["wire"]


def test_corrupt_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match=r"not a valid SQLite database.*restore it from a backup"):
        Store.open(str(path))
    assert path.read_bytes() == garbage


def test_state_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    with pytest.raises(StoreError, match=r"cannot open state database .*state/monitor\.db"):
        Store.open(str(blocker / "monitor.db"))
    assert blocker.read_text() == "a file where the state folder should be"


def test_state_path_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "monitor.db").mkdir()
    with pytest.raises(StoreError, match=r"cannot open state database .*monitor\.db"):
        Store.open(str(tmp_path / "monitor.db"))


def test_relative_sqlite_path_is_taken_from_the_base_folder(tmp_path: Path) -> None:
    Store.open("state/monitor.db", base_dir=tmp_path).close()
    assert (tmp_path / "state" / "monitor.db").is_file()


def test_postgres_password_never_appears_in_errors() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open("postgresql://user:hunter2-secret@127.0.0.1:1/none")
    assert "hunter2-secret" not in str(exc.value)
    assert "127.0.0.1" in str(exc.value)
