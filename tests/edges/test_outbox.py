"""The outbox on a real SQLite store: what it records as it sends, and when recording fails."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.errors import StoreError
from monitor.model import Alert, Digest
from monitor.outbox import Outbox
from monitor.store import Store
from monitor.store.batching import BatchedStore
from tests.edges.test_store import T0, commit_one, keyed, raw_engine

CHANNEL = "ops"
STORIES = ("Lab closes in Shanghai", "Office shuts in Beijing", "Plant moves out of Suzhou")


class RecordingChannel:
    """A channel that accepts every alert and keeps it."""

    name = CHANNEL

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.sent.append(alert)

    async def send_digest(self, digest: Digest) -> None:
        self.sent.extend(digest.alerts)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A store holding one pending delivery to CHANNEL for each of STORIES."""
    location = str(tmp_path / "state" / "monitor.db")
    store = Store.open(location)
    try:
        for title in STORIES:
            commit_one(store, keyed(title, guid=title), CHANNEL)
    finally:
        store.close()
    return location


def refuse_marks(database: str) -> None:
    """Make the database itself refuse to record a delivery as sent."""
    with raw_engine(database) as engine, engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_marks BEFORE UPDATE ON deliveries"
                " WHEN NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'marks refused'); END"
            )
        )


def sweep(database: str, channel: RecordingChannel, *, through_writer: bool) -> int:
    """One sweep, its store calls run by a batching writer or each on a thread: alerts sent."""

    async def scenario() -> int:
        store = Store.open(database)
        writer = BatchedStore(store, gather=0.0)
        outbox = Outbox(store, {CHANNEL: channel}, max_age=timedelta(days=1), clock=lambda: T0)
        if through_writer:
            outbox = outbox.storing_through(writer.call)
        try:
            return (await outbox.deliver_due(groups=False)).sent
        finally:
            await writer.aclose()
            store.close()

    return asyncio.run(scenario())


def failed_sweep(database: str, *, through_writer: bool) -> RecordingChannel:
    """A sweep over a database that refuses every mark: the channel, with what it was sent."""
    refuse_marks(database)
    channel = RecordingChannel()
    with pytest.raises(StoreError, match="marks refused"):
        sweep(database, channel, through_writer=through_writer)
    return channel


def statuses(database: str) -> list[str]:
    store = Store.open(database)
    try:
        return [row.status for row in store.deliveries()]
    finally:
        store.close()


@pytest.mark.parametrize("through_writer", [False, True])
def test_a_sweep_records_each_alert_it_sent_and_the_next_sends_none(
    database: str, through_writer: bool
) -> None:
    channel = RecordingChannel()
    assert sweep(database, channel, through_writer=through_writer) == len(STORIES)
    assert sorted(alert.title for alert in channel.sent) == sorted(STORIES)
    assert statuses(database) == ["sent"] * len(STORIES)
    assert sweep(database, channel, through_writer=through_writer) == 0
    assert len(channel.sent) == len(STORIES)


def test_a_sweep_on_its_own_stops_at_the_first_alert_it_cannot_record(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    channel = failed_sweep(database, through_writer=False)
    # the alert went out, its mark did not: it is named, and the sweep sent no other
    assert len(channel.sent) == 1
    unrecorded = [r for r in caplog.records if "not recorded as sent" in r.getMessage()]
    assert len(unrecorded) == 1
    assert unrecorded[0].levelno == logging.ERROR
    assert channel.sent[0].key in unrecorded[0].getMessage()
    assert statuses(database) == ["pending"] * len(STORIES)


def test_a_sweep_through_the_writer_names_every_alert_it_could_not_record(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    channel = failed_sweep(database, through_writer=True)
    # the marks were asked for as each alert went out and settled together: each alert that
    # may repeat is named
    assert len(channel.sent) == len(STORIES)
    unrecorded = [
        r.getMessage() for r in caplog.records if "not recorded as sent" in r.getMessage()
    ]
    assert sorted(unrecorded) == sorted(
        f"alert {alert.key} to {CHANNEL} possibly delivered but not recorded as sent; it may repeat"
        for alert in channel.sent
    )
    assert statuses(database) == ["pending"] * len(STORIES)
