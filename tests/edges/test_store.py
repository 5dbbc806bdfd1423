"""The store against real databases: SQLite files and the local PostgreSQL server."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text

from monitor.errors import StoreError
from monitor.model import Alert, Item, KeyedItem, Match, Outgoing, stored_item
from monitor.sources.normalize import identity_keys
from monitor.store import CommitResult, FetchSuccess, SourceState, Store, migrations, schema
from monitor.store.rows import ITEM_COLUMNS, item_values, utc
from tests.conftest import postgres_url

T0 = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)
TABLES = {"sources", "items", "item_keys", "alerts", "deliveries", "schema_migrations"}

needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.environ.get("MONITOR_SKIP_POSTGRES") == "1", reason="MONITOR_SKIP_POSTGRES=1"
    ),
]


def values(entry: KeyedItem) -> tuple[object, ...]:
    """``entry``'s row as the source "wire" stored it at T0."""
    return item_values(stored_item(entry), "wire", T0)


def item_row(entry: KeyedItem, source: str, now: datetime) -> dict[str, object]:
    """``entry``'s row as ``source`` stored it at ``now``, by column, for a plain insert."""
    return dict(zip(ITEM_COLUMNS, item_values(stored_item(entry), source, now), strict=True))


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the local server, dropped afterwards."""
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield postgres_url().rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The location of a fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "state" / "monitor.db")
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    opened = Store.open(database)
    try:
        yield opened
    finally:
        opened.close()


@contextmanager
def raw_engine(database: str) -> Iterator[Engine]:
    """A plain engine on the same database, to look at or write to it behind the store's back."""
    engine = create_engine(database if "://" in database else f"sqlite:///{database}")
    try:
        yield engine
    finally:
        engine.dispose()


def recorded_migrations(database: str) -> list[tuple[str, datetime]]:
    with raw_engine(database) as engine, engine.connect() as conn:
        table = schema.schema_migrations
        return [
            (row.name, row.applied_at)
            for row in conn.execute(select(table).order_by(table.c.applied_at, table.c.name))
        ]


def keyed(
    title: str,
    *,
    guid: str = "",
    url: str = "",
    published: datetime | None = None,
    source: str = "wire",
) -> KeyedItem:
    item = Item(
        source=source,
        title=title,
        url=url,
        guid=guid,
        summary="summary",
        content="content",
        author="author",
        tags=("a", "b"),
        published=published,
    )
    return KeyedItem(item=item, keys=identity_keys(item))


def outgoing(entry: KeyedItem, *channels: str, rule: str = "rule") -> Outgoing:
    match = Match(rule=rule, item=entry.item, evidence=())
    return Outgoing(alert=Alert.from_match(match, entry.key), channels=channels)


def commit_one(store: Store, entry: KeyedItem, *channels: str, at: datetime = T0) -> CommitResult:
    return store.commit_items("wire", [(entry, [outgoing(entry, *channels)])], at=at)


# --- migrations ----------------------------------------------------------------------------


def test_opening_records_every_migration_and_reopening_changes_nothing(database: str) -> None:
    Store.open(database).close()
    first = recorded_migrations(database)
    Store.open(database).close()
    assert recorded_migrations(database) == first
    assert [name for name, _ in first] == [name for name, _ in migrations.MIGRATIONS]
    with raw_engine(database) as engine:
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert inspect(engine).get_foreign_keys("item_keys") == []


def test_keys_stored_before_they_lost_their_reference_to_items_are_all_kept(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = keyed("Lab closes in Shanghai", guid="g1", url="https://example.org/lab")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
    store = Store.open(database)
    try:
        commit_one(store, story, "slack")
    finally:
        store.close()
    with raw_engine(database) as engine:
        assert inspect(engine).get_foreign_keys("item_keys")  # as the first migration made it
    monkeypatch.undo()
    store = Store.open(database)
    try:
        assert store.filter_new([story]) == []
        later = keyed("Office shuts in Beijing", guid="g2")
        assert commit_one(store, later, "slack").items_added == 1
        assert store.filter_new([later, story]) == []
    finally:
        store.close()
    with raw_engine(database) as engine, engine.connect() as conn:
        assert inspect(engine).get_foreign_keys("item_keys") == []
        stored = set(conn.execute(select(schema.item_keys.c.key)).scalars())
    assert stored == {*story.keys, *later.keys}


def test_a_migration_appended_later_runs_once_after_the_earlier_ones(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(database).close()
    runs: list[str] = []

    def add_note(conn: Connection) -> None:
        runs.append("0002")
        conn.execute(text("ALTER TABLE sources ADD COLUMN note TEXT"))

    later = [*migrations.MIGRATIONS, ("0002_source_note", add_note)]
    monkeypatch.setattr(migrations, "MIGRATIONS", later)
    Store.open(database).close()
    Store.open(database).close()
    assert runs == ["0002"]
    assert [name for name, _ in recorded_migrations(database)] == [name for name, _ in later]
    with raw_engine(database) as engine:
        assert "note" in {c["name"] for c in inspect(engine).get_columns("sources")}


def test_a_failing_migration_leaves_no_trace_and_is_not_recorded(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(database).close()

    def broken(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        conn.execute(text("SELECT no_such_column FROM scratch"))

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("0002_x", broken)])
    with pytest.raises(StoreError, match="cannot open state database"):
        Store.open(database)
    assert "0002_x" not in [name for name, _ in recorded_migrations(database)]
    with raw_engine(database) as engine:
        assert "scratch" not in inspect(engine).get_table_names()


# --- which items are new -------------------------------------------------------------------

FilterNew = Callable[[list[KeyedItem]], list[KeyedItem]]


@pytest.fixture(params=["in a transaction", "on a held connection"])
def filter_new(request: pytest.FixtureRequest, store: Store) -> Iterator[FilterNew]:
    """The store's lookup of new items, and a worker's (``Store.key_lookup``)."""
    if request.param == "in a transaction":
        yield store.filter_new
        return
    lookup = store.key_lookup()
    try:
        yield lookup.filter_new
    finally:
        lookup.close()


def test_item_with_a_stored_guid_is_not_new_though_title_and_url_changed(
    store: Store, filter_new: FilterNew
) -> None:
    commit_one(store, keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a"))
    edited = keyed("AWS closes Shanghai lab, updated", guid="g1", url="https://e.org/a-v2")
    assert filter_new([edited]) == []


def test_item_seen_under_another_guid_at_the_same_url_is_not_new(
    store: Store, filter_new: FilterNew
) -> None:
    commit_one(store, keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a"))
    tracked = keyed("A headline of its own", guid="g2", url="https://www.e.org/a?utm_source=x")
    assert filter_new([tracked]) == []


def test_item_with_the_same_title_under_another_guid_and_url_is_not_new(
    store: Store, filter_new: FilterNew
) -> None:
    commit_one(store, keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a"))
    syndicated = keyed("AWS shuts its Shanghai AI lab!", guid="g3", url="https://other.org/b")
    assert filter_new([syndicated]) == []


def test_items_sharing_no_key_with_stored_ones_are_new_in_batch_order(
    store: Store, filter_new: FilterNew
) -> None:
    commit_one(store, keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a"))
    rain = keyed("Heavy rain expected over the weekend", guid="g4", url="https://e.org/rain")
    snow = keyed("First snow falls in the Alps today", guid="g5", url="https://e.org/snow")
    assert filter_new([snow, rain]) == [snow, rain]


def test_entries_sharing_a_key_within_one_batch_count_once(
    store: Store, filter_new: FilterNew
) -> None:
    first = keyed("Story one with four words", guid="x1", url="https://e.org/1")
    same_title = keyed("Story one with four words", guid="x2", url="https://e.org/2")
    same_guid = keyed("Quite another title for it", guid="x1", url="https://e.org/3")
    same_url = keyed("Yet another title for it", guid="x4", url="https://e.org/1")
    assert filter_new([first, same_title, same_guid, same_url]) == [first]


def test_lookups_span_more_keys_than_one_query_takes(store: Store, filter_new: FilterNew) -> None:
    old = [keyed(f"Old story number {n} of many", guid=f"o{n}") for n in range(400)]
    new = [keyed(f"New story number {n} of many", guid=f"n{n}") for n in range(300)]
    result = store.commit_items("wire", [(e, []) for e in old], at=T0)
    assert result.items_added == 400  # 800 keys: more than one IN (...) chunk
    mixed = [e for pair in zip(old[:300], new, strict=True) for e in pair] + old[300:]
    assert filter_new(mixed) == new


def test_a_held_lookup_sees_what_other_connections_commit_after_it_began(store: Store) -> None:
    lookup = store.key_lookup()
    try:
        first = keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a")
        assert lookup.filter_new([first]) == [first]
        # committed by the store's own connections while the lookup holds its own
        commit_one(store, first)
        assert lookup.filter_new([first]) == []
    finally:
        lookup.close()


@pytest.mark.postgres
@pytest.mark.skipif(
    os.environ.get("MONITOR_SKIP_POSTGRES") == "1", reason="MONITOR_SKIP_POSTGRES=1"
)
def test_a_held_lookup_leaves_no_transaction_open_and_outlives_its_connection() -> None:
    entry = keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a")
    with fresh_postgres_database() as url:
        store = Store.open(url)
        lookup = store.key_lookup()
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            assert lookup.filter_new([entry]) == [entry]
            with admin.connect() as conn:
                states = conn.execute(
                    text(
                        "SELECT pid, state FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
                # idle between lookups, never "idle in transaction" holding a snapshot
                assert states
                assert {state for _, state in states} == {"idle"}
                # as a server restart, or an idle timeout between the daemon's passes, would
                for pid, _ in states:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            commit_one(store, entry)
            assert lookup.filter_new([entry]) == []
        finally:
            lookup.close()
            store.close()
            admin.dispose()


def test_a_held_lookup_that_keeps_failing_raises_a_store_error(database: str) -> None:
    store = Store.open(database)
    lookup = store.key_lookup()
    entry = keyed("AWS shuts its Shanghai AI lab", guid="g1", url="https://e.org/a")
    try:
        assert lookup.filter_new([entry]) == [entry]
        with raw_engine(database) as engine, engine.begin() as conn:
            conn.execute(text("DROP TABLE item_keys"))
        with pytest.raises(StoreError, match="looking up items failed"):
            lookup.filter_new([entry])
    finally:
        lookup.close()
        store.close()


# --- committing items and alerts -----------------------------------------------------------


def test_commit_stores_items_alerts_and_one_pending_delivery_per_channel(store: Store) -> None:
    entry = keyed("AWS shuts its Shanghai AI lab", guid="g1", published=T0 - timedelta(hours=2))
    out = outgoing(entry, "slack", "mail")
    result = store.commit_items("wire", [(entry, [out])], at=T0)
    assert result == CommitResult(items_added=1, alerts_enqueued=1)
    due = store.due_deliveries(now=T0)
    assert sorted(d.channel for d in due) == ["mail", "slack"]
    for row in due:
        assert (row.status, row.attempts, row.next_attempt_at, row.created_at) == (
            "pending",
            0,
            T0,
            T0,
        )
        assert (row.sent_at, row.last_error) == (None, None)
        assert row.alert == out.alert
    assert store.recent_items(since=T0) == [entry.item]
    assert store.filter_new([entry]) == []


def test_an_alert_already_stored_is_not_enqueued_again(store: Store) -> None:
    first = keyed("AWS shuts its Shanghai AI lab", guid="g1")
    commit_one(store, first, "slack")
    second = keyed("Another story in the same feed", guid="g2")
    repeated = Outgoing(alert=outgoing(first, "slack").alert, channels=("slack", "mail"))
    result = store.commit_items("wire", [(second, [repeated])], at=T0)
    assert result == CommitResult(items_added=1, alerts_enqueued=0)
    assert [d.channel for d in store.deliveries()] == ["slack"]


def test_a_failing_batch_stores_nothing(store: Store) -> None:
    good = keyed("First story of the batch here", guid="g1")
    bad = keyed("Second story of the batch here", guid="g2")
    broken = outgoing(bad, "slack", "slack")  # breaks UNIQUE(alert_id, channel)
    batch = [(good, [outgoing(good, "slack")]), (bad, [broken])]
    with pytest.raises(StoreError, match="storing items and alerts failed"):
        store.commit_items("wire", batch, at=T0)
    assert store.filter_new([good, bad]) == [good, bad]
    assert store.recent_items(since=T0 - timedelta(days=1)) == []
    assert store.deliveries() == []
    # The failure did not leave the store unusable.
    assert commit_one(store, good, "slack") == CommitResult(items_added=1, alerts_enqueued=1)


def test_item_stored_meanwhile_by_another_writer_is_skipped_with_its_alerts(
    store: Store, database: str
) -> None:
    theirs = keyed("Story that two daemons both saw", guid="theirs", url="https://e.org/s")
    ours = keyed("Their headline differs from ours", guid="ours", url="https://e.org/s")
    fresh = keyed("A story only this daemon saw", guid="fresh", url="https://e.org/f")
    assert store.filter_new([ours, fresh]) == [ours, fresh]
    other = Store.open(database)
    try:
        commit_one(other, theirs, "slack")
    finally:
        other.close()
    batch = [(ours, [outgoing(ours, "slack")]), (fresh, [outgoing(fresh, "slack")])]
    result = store.commit_items("wire", batch, at=T0)
    assert result == CommitResult(items_added=1, alerts_enqueued=1)
    assert sorted(d.alert.title for d in store.deliveries()) == sorted(
        [theirs.item.title, fresh.item.title]
    )


def test_commit_racing_an_uncommitted_writer_waits_then_skips_the_item(
    store: Store, database: str
) -> None:
    theirs = keyed("Story that two daemons both saw", guid="theirs", url="https://e.org/s")
    ours = keyed("Their headline differs from ours", guid="ours", url="https://e.org/s")
    outcome: list[CommitResult | BaseException] = []

    def commit() -> None:
        try:
            outcome.append(commit_one(store, ours, "slack"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=commit)
    with raw_engine(database) as engine:
        with engine.begin() as conn:
            item_id = conn.execute(
                schema.items.insert()
                .values(item_row(theirs, "other", T0))
                .returning(schema.items.c.id)
            ).scalar_one()
            conn.execute(
                schema.item_keys.insert(), [{"key": k, "item_id": item_id} for k in theirs.keys]
            )
            worker.start()
            worker.join(timeout=0.5)
            assert worker.is_alive(), f"did not wait for the other writer: {outcome}"
        worker.join(timeout=30)
    assert outcome == [CommitResult(items_added=0, alerts_enqueued=0)]
    assert [i.guid for i in store.recent_items(since=T0)] == ["theirs"]
    assert store.deliveries() == []


def test_concurrent_commits_from_threads_store_each_item_once(store: Store) -> None:
    entries = [keyed(f"Shared story number {n} today", guid=f"s{n}") for n in range(30)]
    added: list[int] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        order = entries[:]
        random.Random(seed).shuffle(order)
        try:
            for start in range(0, len(order), 10):
                chunk = [(e, [outgoing(e, "slack")]) for e in order[start : start + 10]]
                added.append(store.commit_items("wire", chunk, at=T0).items_added)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(added) == len(entries)
    assert len(store.recent_items(since=T0)) == len(entries)
    assert len(store.deliveries()) == len(entries)


# --- deliveries ----------------------------------------------------------------------------


def test_due_deliveries_come_oldest_first_up_to_the_limit(store: Store) -> None:
    titles = [f"Story number {n} for the queue" for n in range(3)]
    for n, title in enumerate(titles):
        commit_one(store, keyed(title, guid=f"q{n}"), "slack", at=T0 + timedelta(minutes=n))
    due = store.due_deliveries(now=T0 + timedelta(hours=1))
    assert [d.alert.title for d in due] == titles
    assert [d.alert.title for d in store.due_deliveries(now=T0 + timedelta(minutes=1))] == titles[
        :2
    ]
    assert [d.alert.title for d in store.due_deliveries(now=T0, limit=5)] == titles[:1]
    assert len(store.due_deliveries(now=T0 + timedelta(hours=1), limit=2)) == 2
    assert [d.alert.title for d in store.deliveries()] == titles[::-1]


def test_a_retried_delivery_is_not_due_before_its_next_attempt(store: Store) -> None:
    commit_one(store, keyed("Story for the retry schedule", guid="g1"), "slack")
    (row,) = store.due_deliveries(now=T0)
    store.mark_retry(row.id, at=T0, error="HTTP 503", next_attempt_at=T0 + timedelta(minutes=5))
    assert store.due_deliveries(now=T0 + timedelta(minutes=4, seconds=59)) == []
    (again,) = store.due_deliveries(now=T0 + timedelta(minutes=5))
    assert (again.id, again.status, again.attempts, again.last_error) == (
        row.id,
        "pending",
        1,
        "HTTP 503",
    )
    assert again.next_attempt_at == T0 + timedelta(minutes=5)


def test_sent_and_dead_deliveries_record_the_attempt_and_are_never_due(store: Store) -> None:
    commit_one(store, keyed("Story for the delivery lifecycle", guid="g1"), "slack", "hook")
    by_channel = {d.channel: d for d in store.due_deliveries(now=T0)}
    store.mark_retry(
        by_channel["slack"].id, at=T0, error="timeout", next_attempt_at=T0 + timedelta(minutes=1)
    )
    store.mark_sent(by_channel["slack"].id, at=T0 + timedelta(minutes=1))
    store.mark_dead(by_channel["hook"].id, at=T0, error="HTTP 404")
    rows = {d.channel: d for d in store.deliveries()}
    assert (rows["slack"].status, rows["slack"].attempts) == ("sent", 2)
    assert rows["slack"].sent_at == T0 + timedelta(minutes=1)
    assert (rows["hook"].status, rows["hook"].attempts, rows["hook"].last_error) == (
        "dead",
        1,
        "HTTP 404",
    )
    assert rows["hook"].sent_at is None
    assert store.due_deliveries(now=T0 + timedelta(days=1)) == []
    assert [d.channel for d in store.deliveries(status="dead")] == ["hook"]
    assert [d.channel for d in store.deliveries(status="sent")] == ["slack"]
    assert store.deliveries(status="pending") == []


def test_a_late_failure_report_does_not_undo_a_recorded_send(store: Store) -> None:
    commit_one(store, keyed("Story sent by an overlapping sweep", guid="g1"), "slack")
    (row,) = store.due_deliveries(now=T0)
    store.mark_sent(row.id, at=T0)
    store.mark_dead(row.id, at=T0, error="HTTP 500")
    store.mark_retry(row.id, at=T0, error="HTTP 500", next_attempt_at=T0)
    (after,) = store.deliveries()
    assert (after.status, after.attempts, after.sent_at) == ("sent", 1, T0)


def test_retry_dead_requeues_the_chosen_dead_deliveries_only(store: Store) -> None:
    commit_one(store, keyed("Story for the dead letters", guid="g1"), "a", "b", "c")
    ids = {d.channel: d.id for d in store.due_deliveries(now=T0)}
    store.mark_dead(ids["a"], at=T0, error="HTTP 404")
    store.mark_dead(ids["b"], at=T0, error="HTTP 404")
    store.mark_sent(ids["c"], at=T0)
    later = T0 + timedelta(hours=1)
    assert store.retry_dead(at=later, delivery_ids=[ids["a"], ids["c"]]) == 1
    (due,) = store.due_deliveries(now=later)
    assert (due.channel, due.status, due.next_attempt_at) == ("a", "pending", later)
    assert store.retry_dead(at=later) == 1
    assert store.retry_dead(at=later) == 0
    assert sorted(d.channel for d in store.due_deliveries(now=later)) == ["a", "b"]
    assert [d.channel for d in store.deliveries(status="sent")] == ["c"]


# --- source state --------------------------------------------------------------------------


def test_a_source_never_seen_has_the_default_state(store: Store) -> None:
    assert store.source_state("wire") == SourceState(name="wire")
    assert store.all_source_states() == []


def test_failures_count_up_and_a_success_resets_them_but_keeps_the_last_error(
    store: Store,
) -> None:
    store.record_fetch_failure("wire", at=T0, error="timeout")
    store.record_fetch_failure("wire", at=T0 + timedelta(minutes=1), error="HTTP 503")
    failing = store.source_state("wire")
    assert (failing.consecutive_failures, failing.last_error, failing.fetched_once) == (
        2,
        "HTTP 503",
        False,
    )
    assert failing.last_error_at == T0 + timedelta(minutes=1)
    assert failing.last_success_at is None

    store.record_fetch_success(
        "wire", at=T0 + timedelta(minutes=2), etag='"v1"', last_modified=None, items_seen=3
    )
    ok = store.source_state("wire")
    assert (ok.consecutive_failures, ok.fetched_once, ok.items_seen) == (0, True, 3)
    assert (ok.last_error, ok.last_error_at) == ("HTTP 503", T0 + timedelta(minutes=1))
    assert ok.last_success_at == T0 + timedelta(minutes=2)


def test_a_success_replaces_the_validators_and_adds_to_items_seen(store: Store) -> None:
    store.record_fetch_success("wire", at=T0, etag='"v1"', last_modified="Tue, 3 Sep", items_seen=3)
    store.record_fetch_success("wire", at=T0, etag=None, last_modified="Wed, 4 Sep", items_seen=2)
    state = store.source_state("wire")
    assert (state.etag, state.last_modified, state.items_seen) == (None, "Wed, 4 Sep", 5)


def test_not_modified_is_a_success_that_keeps_the_validators(store: Store) -> None:
    store.record_fetch_success("wire", at=T0, etag='"v1"', last_modified="Tue", items_seen=4)
    store.record_fetch_failure("wire", at=T0 + timedelta(minutes=1), error="timeout")
    store.record_not_modified("wire", at=T0 + timedelta(hours=1))
    state = store.source_state("wire")
    assert (state.etag, state.last_modified, state.items_seen) == ('"v1"', "Tue", 4)
    assert (state.consecutive_failures, state.last_success_at) == (0, T0 + timedelta(hours=1))


def test_source_failures_never_touch_stored_items(store: Store) -> None:
    entry = keyed("A story stored before the outage", guid="g1")
    commit_one(store, entry, "slack")
    store.record_fetch_failure("wire", at=T0, error="HTTP 500")
    assert store.recent_items(since=T0) == [entry.item]
    assert len(store.deliveries()) == 1


def test_all_source_states_are_listed_by_name(store: Store) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.record_not_modified(name, at=T0)
    assert [s.name for s in store.all_source_states()] == ["alpha", "mid", "zeta"]


# --- timestamps ----------------------------------------------------------------------------


def test_timestamps_come_back_as_aware_utc_whatever_zone_went_in(store: Store) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    at = T0.astimezone(india)
    entry = keyed("Story stamped in another zone", guid="g1", published=at - timedelta(hours=1))
    commit_one(store, entry, "slack", at=at)
    store.record_fetch_failure("wire", at=at, error="x")
    store.record_fetch_success("wire", at=at, etag=None, last_modified=None, items_seen=1)
    (row,) = store.due_deliveries(now=at)
    (item,) = store.recent_items(since=at)
    state = store.source_state("wire")
    for value in (
        row.created_at,
        row.next_attempt_at,
        item.published,
        state.last_success_at,
        state.last_error_at,
    ):
        assert value is not None
        assert value.tzinfo is UTC
    assert row.created_at == T0
    assert item.published == T0 - timedelta(hours=1)
    assert state.last_success_at == T0


def test_recent_items_are_those_first_seen_since_oldest_first(store: Store) -> None:
    stories = [keyed(f"Story number {n} in the feed", guid=f"r{n}") for n in range(4)]
    for n, entry in enumerate(stories):
        store.commit_items("wire", [(entry, [])], at=T0 + timedelta(minutes=n))
    since = T0 + timedelta(minutes=1)
    assert store.recent_items(since=since) == [e.item for e in stories[1:]]
    assert store.recent_items(since=since, limit=2) == [e.item for e in stories[2:]]


# --- opening: locations and broken files ---------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"this is not a database " * 100, b"SQLite format 3\x00" + bytes(range(256)) * 16],
    ids=["text", "garbled-after-header"],
)
def test_corrupt_sqlite_file_is_refused_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "monitor.db"
    path.write_bytes(content)
    with pytest.raises(
        StoreError, match=r"not a valid .*database.*restore it from a backup"
    ) as exc:
        Store.open(str(path))
    assert str(path) in str(exc.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.db"]


def test_state_folder_that_cannot_be_created_is_refused_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    with pytest.raises(StoreError, match=r"cannot open state database .*state/monitor\.db"):
        Store.open(str(blocker / "monitor.db"))
    assert blocker.read_text() == "a file where the state folder should be"


def test_state_path_that_is_a_folder_is_refused_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "monitor.db").mkdir()
    with pytest.raises(StoreError, match=r"cannot open state database .*monitor\.db: .*folder"):
        Store.open(str(tmp_path / "monitor.db"))


@contextmanager
def unprivileged() -> Iterator[None]:
    """Act as ``nobody`` (effective ids only, so that it can be undone) when running as root:
    root ignores file modes."""
    if os.geteuid() != 0:
        yield
        return
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to act as")
    os.setegid(nobody.pw_gid)
    os.seteuid(nobody.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="monitor-store-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("make_read_only", "message"),
    [
        (lambda db: db.parent.chmod(0o555), "is not writable"),
        (lambda db: db.chmod(0o444), "is read-only"),
    ],
    ids=["read-only-folder", "read-only-file"],
)
def test_read_only_state_is_refused_naming_the_path(
    shared_folder: Path, make_read_only: Callable[[Path], None], message: str
) -> None:
    db = shared_folder / "state" / "monitor.db"
    Store.open(str(db)).close()
    db.parent.chmod(0o777)
    for path in db.parent.iterdir():
        path.chmod(0o666)  # open to anyone; only make_read_only takes rights away
    make_read_only(db)
    before = db.read_bytes()
    with unprivileged(), pytest.raises(StoreError) as exc:
        Store.open(str(db))
    assert str(db) in str(exc.value)
    assert message in str(exc.value)
    assert db.read_bytes() == before


def test_relative_sqlite_path_and_url_are_taken_from_the_base_folder(tmp_path: Path) -> None:
    Store.open("state/monitor.db", base_dir=tmp_path).close()
    Store.open("sqlite:///state/other.db", base_dir=tmp_path).close()
    assert (tmp_path / "state" / "monitor.db").is_file()
    assert (tmp_path / "state" / "other.db").is_file()


def test_postgres_password_never_appears_in_errors() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open("postgresql://user:hunter2-secret@127.0.0.1:1/none")
    assert "hunter2-secret" not in str(exc.value)
    assert "127.0.0.1" in str(exc.value)
    with pytest.raises(StoreError) as bad_url:
        Store.open("postgresql://user:hunter2-secret@host:port/none")
    assert "hunter2-secret" not in str(bad_url.value)


def test_unsupported_kind_of_database_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported kind of database"):
        Store.open("mysql://user@127.0.0.1/state")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
@pytest.mark.postgres
@pytest.mark.skipif(
    os.environ.get("MONITOR_SKIP_POSTGRES") == "1", reason="MONITOR_SKIP_POSTGRES=1"
)
def test_plain_postgresql_url_is_opened_with_psycopg_3(scheme: str) -> None:
    with fresh_postgres_database() as url:
        plain = scheme + "://" + url.split("://", 1)[1]
        opened = Store.open(plain)
        try:
            assert opened.display.startswith("postgresql+psycopg://")
            assert opened.source_state("wire") == SourceState(name="wire")
        finally:
            opened.close()


def test_database_from_before_0002_is_upgraded_in_place_and_tracks_failing_since(
    tmp_path: Path,
) -> None:
    from sqlalchemy import MetaData

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations._initial(conn)
        conn.execute(
            text(
                "CREATE TABLE schema_migrations"
                " (name VARCHAR(128) PRIMARY KEY, applied_at DATETIME)"
            )
        )
        conn.execute(text("INSERT INTO schema_migrations VALUES ('0001_initial', '2024-01-01')"))
        conn.execute(
            text(
                "INSERT INTO sources (name, consecutive_failures, fetched_once, items_seen)"
                " VALUES ('wire', 3, 1, 9)"
            )
        )
    engine.dispose()
    assert "next_poll_at" not in {c.name for c in migrations._sources_as_created(MetaData()).c}

    upgraded = Store.open(str(path))
    try:
        state = upgraded.source_state("wire")
        assert (state.consecutive_failures, state.items_seen, state.next_poll_at) == (3, 9, None)
        when = datetime(2024, 9, 3, 9, 0, tzinfo=UTC)
        upgraded.record_fetch_failure("wire", at=when, error="x", next_poll_at=when)
        assert upgraded.source_state("wire").next_poll_at == when
        assert upgraded.source_state("wire").failing_since == when
        upgraded.record_fetch_failure("wire", at=when + timedelta(hours=1), error="y")
        assert upgraded.source_state("wire").failing_since == when
        upgraded.record_not_modified("wire", at=when + timedelta(hours=2))
        assert upgraded.source_state("wire").failing_since is None
    finally:
        upgraded.close()


# --- source health -------------------------------------------------------------------------


def test_health_alert_and_warning_are_remembered_per_source(store: Store) -> None:
    store.record_fetch_failure("wire", at=T0, error="HTTP 404")
    store.record_health_alert("wire", problem="failing", at=T0 + timedelta(hours=1))
    store.record_warning("other", warning="feed has no items", at=T0)
    wire, other = store.source_state("wire"), store.source_state("other")
    assert wire.health_alert == "failing"
    assert wire.health_alert_at == T0 + timedelta(hours=1)
    assert wire.consecutive_failures == 1  # the earlier record is kept
    assert other.last_warning == "feed has no items"
    assert other.last_warning_at == T0
    store.record_health_alert("wire", problem=None, at=T0 + timedelta(hours=2))
    store.record_warning("other", warning=None, at=None)
    assert store.source_state("wire").health_alert is None
    assert store.source_state("other").last_warning is None


def test_source_activity_counts_recent_items_and_keeps_the_newest_ever(store: Store) -> None:
    for day, title in enumerate(["one", "two", "three"]):
        commit_one(store, keyed(title, guid=title), at=T0 + timedelta(days=day))
    store.commit_items("quiet", [(keyed("old", guid="old", source="quiet"), [])], at=T0)
    activity = store.source_activity(T0 + timedelta(days=1))
    assert activity["wire"].count == 2
    assert activity["wire"].first_at == T0 + timedelta(days=1)
    assert activity["wire"].last_at == T0 + timedelta(days=2)
    assert activity["quiet"].count == 0
    assert activity["quiet"].last_at == T0


def test_bulk_insert_skips_conflicts_returns_what_it_stored_and_reads_back_alike(
    database: str, store: Store
) -> None:
    # the store made the schema; the statements run beside it
    from monitor.store import bulk

    published = datetime(2024, 9, 3, 8, 0, 1, 250_000, tzinfo=UTC)
    entries = [
        KeyedItem(
            item=Item(
                source="wire", title=f"t{n}", url=f"https://x.example/{n}", published=published
            ),
            keys=(f"k{n}",),
        )
        for n in range(7)
    ]
    with raw_engine(database) as engine, engine.begin() as conn:
        first = bulk.insert_returning(
            conn, schema.items, ITEM_COLUMNS, [values(e) for e in entries[:4]], ("id", "key")
        )
        # more rows than one statement takes: the insert is split, and k0..k3 are skipped
        many = [values(e) for e in entries] * (bulk.MAX_PARAMETERS // 11 // 7 + 1)
        second = bulk.insert_returning(conn, schema.items, ITEM_COLUMNS, many, ("key",))
        assert bulk.stored_values(conn, schema.items, "key", ["k0", "k6", "nope"]) == {"k0", "k6"}
    assert sorted(key for _, key in first) == ["k0", "k1", "k2", "k3"]
    assert sorted(key for (key,) in second) == ["k4", "k5", "k6"]
    with raw_engine(database) as engine, engine.connect() as conn:
        row = conn.execute(select(schema.items).where(schema.items.c.key == "k5")).one()
    # what SQLAlchemy reads back is what its own inserts would have stored
    assert utc(row.published_at) == published
    assert utc(row.first_seen_at) == T0


def test_bulk_insert_ignoring_counts_the_rows_it_stored(database: str, store: Store) -> None:
    from monitor.store import bulk

    entries = [keyed(f"Story number {n} of the day", guid=f"g{n}") for n in range(3)]
    with raw_engine(database) as engine, engine.begin() as conn:
        ids = {
            key: item_id
            for item_id, key in bulk.insert_returning(
                conn, schema.items, ITEM_COLUMNS, [values(e) for e in entries], ("id", "key")
            )
        }
        rows = [(f"extra-{n}", ids[e.key]) for n, e in enumerate(entries)]
        columns = ("key", "item_id")
        assert bulk.insert_ignoring(conn, schema.item_keys, columns, rows[:2]) == 2
        assert bulk.insert_ignoring(conn, schema.item_keys, columns, rows) == 1
        assert bulk.insert_ignoring(conn, schema.item_keys, columns, []) == 0
        assert bulk.stored_values(
            conn, schema.item_keys, "item_id", [ids[entries[2].key]], returned="key"
        ) == {"extra-2"}


def test_an_item_whose_key_was_taken_under_the_insert_is_undone_alone(
    database: str, store: Store
) -> None:
    # what a writer that skipped the commit lock leaves: a key stored after the check
    other = keyed("Story that another writer stored", guid="other", url="https://e.org/o")
    clash = keyed("A story of our own, same link", guid="ours", url="https://e.org/o")
    fine = keyed("A story nobody else has seen", guid="fine", url="https://e.org/f")
    with raw_engine(database) as engine, engine.begin() as conn:
        other_id = conn.execute(
            schema.items.insert().values(item_row(other, "x", T0)).returning(schema.items.c.id)
        ).scalar_one()
        conn.execute(
            schema.item_keys.insert(), [{"key": k, "item_id": other_id} for k in other.keys]
        )
        stored = Store._insert_items(
            conn, "wire", [(stored_item(e), e.keys) for e in (clash, fine)], T0
        )
        assert list(stored) == [fine.key]
        left = conn.execute(select(schema.items.c.guid).order_by(schema.items.c.guid)).all()
        assert [guid for (guid,) in left] == ["fine", "other"]
        found = conn.execute(select(schema.item_keys.c.key, schema.item_keys.c.item_id)).all()
        owners = {row.key: row.item_id for row in found}
        assert {k for k, item_id in owners.items() if item_id == stored[fine.key]} == set(fine.keys)
        assert all(owners[k] == other_id for k in other.keys)


def test_bulk_upsert_inserts_then_replaces_and_adds_only_what_it_is_told(
    database: str, store: Store
) -> None:
    from monitor.store import bulk

    sources = schema.sources
    first = {
        "name": "wire",
        "etag": '"a"',
        "last_success_at": T0,
        "consecutive_failures": 0,
        "fetched_once": True,
        "items_seen": 3,
    }
    later = {**first, "etag": '"b"', "last_success_at": T0 + timedelta(hours=1), "items_seen": 4}
    with raw_engine(database) as engine, engine.begin() as conn:
        bulk.upsert(conn, sources, first, key="name", replaced=("etag",), added=("items_seen",))
        bulk.upsert(
            conn,
            sources,
            {**later, "consecutive_failures": 9},
            key="name",
            replaced=("etag",),
            added=("items_seen",),
        )
        bulk.upsert(conn, sources, later, key="name", replaced=("last_success_at",))
        with pytest.raises(KeyError, match="not columns of sources"):
            bulk.upsert(conn, sources, {"name": "x", "nope": 1}, key="name", replaced=("nope",))
    with raw_engine(database) as engine, engine.connect() as conn:
        row = conn.execute(select(sources).where(sources.c.name == "wire")).one()
    assert row.etag == '"b"'
    assert row.items_seen == 7
    # neither replaced nor added: what the first insert wrote stays
    assert row.consecutive_failures == 0
    assert utc(row.last_success_at) == T0 + timedelta(hours=1)
    assert row.fetched_once is True


def test_a_poll_stores_its_items_and_its_fetch_together_or_neither(store: Store) -> None:
    fetched = FetchSuccess(etag='"v1"', last_modified=None, fetch_ms=12, parse_ms=3)
    story = keyed("A story the first poll found today", guid="one")
    result = store.commit_poll(
        "wire", [(story, [outgoing(story, "slack")])], at=T0, fetched=fetched
    )
    assert result == CommitResult(items_added=1, alerts_enqueued=1)
    state = store.source_state("wire")
    assert (state.etag, state.items_seen, state.fetch_ms, state.parse_ms) == ('"v1"', 1, 12, 3)
    # a repeated channel fails the commit: the fetch that found the item is not recorded either
    broken = keyed("A story whose alert names a channel twice", guid="two")
    with pytest.raises(StoreError):
        store.commit_poll(
            "wire",
            [(broken, [outgoing(broken, "slack", "slack")])],
            at=T0 + timedelta(hours=1),
            fetched=FetchSuccess(etag='"v2"', last_modified=None),
        )
    state = store.source_state("wire")
    assert (state.etag, state.items_seen) == ('"v1"', 1)
    assert [i.guid for i in store.recent_items(since=T0)] == ["one"]
    # inside a batch's transaction, the poll is part of it
    with store.shared_transaction():
        store.commit_poll("wire", [], at=T0, fetched=FetchSuccess(etag='"v3"', last_modified=None))
    assert store.source_state("wire").etag == '"v3"'
