"""Store calls of concurrent polls, many to a transaction, on SQLite and PostgreSQL: on a thread
of the monitor's (BatchedStore) and in a process of their own (StoreProcess)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import KeyedItem
from monitor.store import CommitResult, Store
from monitor.store.batching import BatchedStore
from monitor.store.process import StoreProcess
from tests.edges.test_store import T0, database, keyed, outgoing, store  # noqa: F401

Batcher = BatchedStore | StoreProcess


@pytest.fixture(params=["thread", "process"])
def batcher(request: pytest.FixtureRequest, database: str) -> Callable[[Store], Batcher]:  # noqa: F811
    if request.param == "thread":
        return BatchedStore
    return lambda _opened: StoreProcess(database, None)


def test_concurrent_calls_share_transactions_and_each_gets_its_own_result(
    store: Store,  # noqa: F811
    batcher: Callable[[Store], Batcher],
) -> None:
    entries = [keyed(f"Story number {n} of the day", guid=f"g{n}") for n in range(300)]

    async def scenario() -> list[CommitResult]:
        batched = batcher(store)
        try:
            results = await asyncio.gather(
                *(
                    batched.call(
                        store.commit_items, f"feed-{n}", [(e, [outgoing(e, "slack")])], at=T0
                    )
                    for n, e in enumerate(entries)
                ),
                *(batched.call(store.record_not_modified, f"other-{n}", at=T0) for n in range(300)),
            )
        finally:
            await batched.aclose()
        if isinstance(batched, BatchedStore):
            assert batched.calls == 600
            assert batched.transactions < 600
        return [r for r in results if isinstance(r, CommitResult)]

    commits = asyncio.run(scenario())
    assert commits == [CommitResult(items_added=1, alerts_enqueued=1)] * 300
    assert store.filter_new(entries) == []
    assert len(store.deliveries()) == 300
    states = {s.name: s for s in store.all_source_states()}
    assert all(states[f"other-{n}"].last_success_at == T0 for n in range(300))


def test_a_failing_call_fails_alone_and_the_rest_of_its_batch_is_stored(
    store: Store,  # noqa: F811
    batcher: Callable[[Store], Batcher],
) -> None:
    good = [keyed(f"Good story number {n} here", guid=f"g{n}") for n in range(20)]
    bad = keyed("A story whose alert names one channel twice", guid="bad")

    async def scenario() -> list[object]:
        batched = batcher(store)
        try:
            calls = [
                batched.call(store.commit_items, "wire", [(e, [outgoing(e, "slack")])], at=T0)
                for e in good[:10]
            ]
            # a repeated channel breaks UNIQUE(alert_id, channel): this call alone must fail
            calls.append(
                batched.call(
                    store.commit_items, "wire", [(bad, [outgoing(bad, "slack", "slack")])], at=T0
                )
            )
            calls += [
                batched.call(store.commit_items, "wire", [(e, [outgoing(e, "slack")])], at=T0)
                for e in good[10:]
            ]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await batched.aclose()

    results = asyncio.run(scenario())
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], StoreError)
    assert "storing items and alerts failed" in str(failures[0])
    assert store.filter_new([*good, bad]) == [bad]
    assert len(store.deliveries()) == 20
    assert bad.item not in store.recent_items(since=T0 - timedelta(days=1))


def test_a_call_is_answered_only_once_its_writes_are_committed(
    store: Store,  # noqa: F811
    database: str,  # noqa: F811
    batcher: Callable[[Store], Batcher],
) -> None:
    entry = keyed("A story another process must see", guid="seen")

    async def scenario() -> None:
        batched = batcher(store)
        try:
            await batched.call(store.commit_items, "wire", [(entry, [])], at=T0)
            # another connection, as another process would open it, sees the item at once
            other = Store.open(database)
            try:
                assert other.filter_new([entry]) == []
            finally:
                other.close()
        finally:
            await batched.aclose()

    asyncio.run(scenario())


def test_calls_after_closing_are_refused_rather_than_left_waiting(
    store: Store,  # noqa: F811
    batcher: Callable[[Store], Batcher],
) -> None:
    async def scenario() -> None:
        batched = batcher(store)
        await batched.call(store.source_state, "x")
        await batched.aclose()
        with pytest.raises(StoreError, match="closed"):
            await asyncio.wait_for(batched.call(store.source_state, "x"), timeout=5)

    asyncio.run(scenario())


def test_a_store_process_that_dies_fails_its_calls_instead_of_hanging(
    store: Store,  # noqa: F811
    database: str,  # noqa: F811
) -> None:
    async def scenario() -> None:
        batched = StoreProcess(database, None)
        try:
            assert (await batched.call(store.source_state, "x")).name == "x"
            pid = batched._process.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            for _ in range(2):  # the call in flight when it died, and every later one
                with pytest.raises(StoreError, match="store process stopped"):
                    await asyncio.wait_for(batched.call(store.source_state, "x"), timeout=10)
        finally:
            await batched.aclose()

    asyncio.run(scenario())


def test_a_store_process_that_cannot_open_the_store_says_why(tmp_path: Path) -> None:
    opened = Store.open(str(tmp_path / "monitor.db"))
    (tmp_path / "a-file").write_text("not a folder")
    unreachable = str(tmp_path / "a-file" / "monitor.db")

    async def scenario() -> str:
        batched = StoreProcess(unreachable, None)
        try:
            with pytest.raises(StoreError) as first:
                await asyncio.wait_for(batched.call(opened.source_state, "x"), timeout=30)
            with pytest.raises(StoreError) as later:
                await batched.call(opened.source_state, "x")
            assert str(later.value) == str(first.value)
            return str(first.value)
        finally:
            await batched.aclose()

    try:
        message = asyncio.run(scenario())
    finally:
        opened.close()
    # the store's own error, as the monitor's process would have raised opening it
    assert message.startswith("cannot open state database ")
    assert "a-file" in message


def test_a_call_larger_than_the_pipe_holds_is_written_in_parts_and_answered(
    store: Store,  # noqa: F811
    database: str,  # noqa: F811
) -> None:
    # a pipe holds 64 KiB: this call is several times that, written as the child reads it
    long_summary = "A long summary of the day's news. " * 20
    entries = [
        keyed(f"Story number {n} of a long day", guid=f"long-{n}", url=f"https://e.org/{n}")
        for n in range(2000)
    ]
    batch = [(replace_summary(e, long_summary), []) for e in entries]

    async def scenario() -> CommitResult:
        batched = StoreProcess(database, None)
        try:
            committed: CommitResult = await batched.call(store.commit_items, "wire", batch, at=T0)
            return committed
        finally:
            await batched.aclose()

    assert asyncio.run(scenario()) == CommitResult(items_added=2000, alerts_enqueued=0)
    assert store.filter_new(entries) == []


def replace_summary(entry: KeyedItem, summary: str) -> KeyedItem:
    return dataclasses.replace(entry, item=dataclasses.replace(entry.item, summary=summary))


def test_with_a_gathering_window_calls_made_one_after_another_share_a_transaction(
    store: Store,  # noqa: F811
) -> None:
    async def scenario(gather: float) -> int:
        batched = BatchedStore(store, gather=gather)
        calls = []
        try:
            for n in range(6):
                # one after another, as the daemon's polls come: never queued together
                call = batched.call(store.record_not_modified, f"s{n}", at=T0)
                calls.append(asyncio.ensure_future(call))
                await asyncio.sleep(0.01)
            await asyncio.gather(*calls)
        finally:
            await batched.aclose()
        assert batched.calls == 6
        return batched.transactions

    assert asyncio.run(scenario(0.0)) == 6
    assert asyncio.run(scenario(0.5)) == 1


def test_a_store_process_stopped_early_leaves_its_writes_in_the_database_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The monitor's own connection is still open, so closing the child's would not copy the
    # write-ahead log into the file: the child copies it as it stops, and the monitor's close
    # has little left to do. The file alone (a backup copy, say) then holds the items.
    location = str(tmp_path / "monitor.db")
    opened = Store.open(location)
    entries = [keyed(f"Story number {n} of the pass", guid=f"pass-{n}") for n in range(200)]

    async def scenario() -> None:
        batched = StoreProcess(location, None)
        await batched.call(opened.commit_items, "wire", [(e, []) for e in entries], at=T0)
        batched.stop_soon()
        batched.stop_soon()  # a second request changes nothing
        with pytest.raises(StoreError, match="closed"):
            await batched.call(opened.source_state, "wire")
        # the child ends on its own: the monitor sees its pipe close as the end it asked for
        for _ in range(300):
            if not batched._process.is_alive():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        await batched.aclose()

    try:
        asyncio.run(scenario())
        copy = tmp_path / "copy" / "monitor.db"
        copy.parent.mkdir()
        copy.write_bytes((tmp_path / "monitor.db").read_bytes())
        from_file_alone = Store.open(str(copy))
        try:
            assert from_file_alone.filter_new(entries) == []
        finally:
            from_file_alone.close()
    finally:
        opened.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_checkpoint_keeps_every_write_on_either_backend(store: Store) -> None:  # noqa: F811
    entry = keyed("A story written before the checkpoint", guid="before")
    store.commit_items("wire", [(entry, [])], at=T0)
    store.checkpoint()
    assert store.filter_new([entry]) == []


def test_a_call_given_up_while_it_waits_leaves_the_others_answered(
    store: Store,  # noqa: F811
    batcher: Callable[[Store], Batcher],
) -> None:
    # A poll cancelled (a shutdown, a timeout) while its store call waits for its batch must
    # cost only that call: the writer goes on answering every later one.
    entry = keyed("A story stored after a call was given up", guid="after-cancel")

    async def scenario() -> CommitResult:
        batched = batcher(store)
        try:
            given_up = asyncio.create_task(batched.call(store.source_state, "wire"))
            await asyncio.sleep(0)
            given_up.cancel()
            with pytest.raises(asyncio.CancelledError):
                await given_up
            committed: CommitResult = await asyncio.wait_for(
                batched.call(store.commit_items, "wire", [(entry, [])], at=T0), timeout=10
            )
            return committed
        finally:
            await batched.aclose()

    assert asyncio.run(scenario()) == CommitResult(items_added=1, alerts_enqueued=0)


def test_with_a_gathering_window_a_call_given_up_inside_it_leaves_the_writer_running(
    store: Store,  # noqa: F811
) -> None:
    async def scenario() -> str:
        batched = BatchedStore(store, gather=0.2)
        try:
            given_up = asyncio.create_task(batched.call(store.source_state, "wire"))
            await asyncio.sleep(0.05)  # queued, its batch still gathering
            given_up.cancel()
            await asyncio.sleep(0.4)  # the batch has run by now
            state = await asyncio.wait_for(batched.call(store.source_state, "other"), 10)
            return str(state.name)
        finally:
            await batched.aclose()

    assert asyncio.run(scenario()) == "other"
