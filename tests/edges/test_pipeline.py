"""One source pass against a loopback server and a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config.schema import Settings
from monitor.fetch import Fetcher
from monitor.pipeline import Runtime, SourceOutcome, poll_source
from monitor.store import Store
from tests.e2e_support import STORY, rss
from tests.servers import LoopbackServer, Reply


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(str(tmp_path / "monitor.db"))
    yield opened
    opened.close()


def settings_for(url: str) -> Settings:
    return Settings.model_validate(
        {"sources": [{"name": "wire", "feed": url, "every": "10m"}], "channels": {}}
    )


def poll(settings: Settings, store: Store, clock: Clock, *, honour: bool) -> SourceOutcome:
    async def go() -> SourceOutcome:
        fetcher = Fetcher(timeout=5)
        runtime = Runtime(settings=settings, store=store, fetcher=fetcher, rules=(), clock=clock)
        try:
            return await poll_source(runtime, settings.sources[0], honour_schedule=honour)
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def test_failing_source_is_deferred_until_its_backoff_passes(
    http_server: LoopbackServer, store: Store
) -> None:
    http_server.set("/f", Reply(status=503))
    settings, clock = settings_for(f"{http_server.url}/f"), Clock()
    assert poll(settings, store, clock, honour=True).status == "error"
    assert poll(settings, store, clock, honour=True).status == "deferred"
    assert len(http_server.requests_to("/f")) == 1

    clock.now += timedelta(minutes=10)
    assert poll(settings, store, clock, honour=True).status == "error"
    state = store.source_state("wire")
    assert state.consecutive_failures == 2
    assert state.next_poll_at is not None
    assert (
        clock.now + timedelta(minutes=15) <= state.next_poll_at <= clock.now + timedelta(minutes=20)
    )

    http_server.set("/f", Reply(body=rss([STORY])))
    clock.now = state.next_poll_at
    assert poll(settings, store, clock, honour=True).status == "ok"
    recovered = store.source_state("wire")
    assert recovered.consecutive_failures == 0
    assert recovered.next_poll_at is None


def test_retry_after_on_429_defers_the_next_fetch(
    http_server: LoopbackServer, store: Store
) -> None:
    http_server.set("/f", Reply(status=429, headers={"Retry-After": "7200"}))
    settings, clock = settings_for(f"{http_server.url}/f"), Clock()
    assert poll(settings, store, clock, honour=True).retry_after == 7200
    clock.now += timedelta(hours=1)
    assert poll(settings, store, clock, honour=True).status == "deferred"
    clock.now += timedelta(hours=1)
    assert poll(settings, store, clock, honour=True).status == "error"
    assert len(http_server.requests_to("/f")) == 2


def test_one_pass_check_ignores_the_backoff(http_server: LoopbackServer, store: Store) -> None:
    http_server.set("/f", Reply(status=503))
    settings, clock = settings_for(f"{http_server.url}/f"), Clock()
    poll(settings, store, clock, honour=True)
    assert poll(settings, store, clock, honour=False).status == "error"
    assert len(http_server.requests_to("/f")) == 2


def test_feed_ttl_longer_than_the_interval_stretches_it(
    http_server: LoopbackServer, store: Store
) -> None:
    body = rss([STORY]).replace(
        b"<title>Test wire</title>", b"<title>Test wire</title><ttl>60</ttl>"
    )
    http_server.set("/f", Reply(body=body, headers={"Content-Type": "application/rss+xml"}))
    settings, clock = settings_for(f"{http_server.url}/f"), Clock()
    assert poll(settings, store, clock, honour=True).status == "ok"
    clock.now += timedelta(minutes=30)
    assert poll(settings, store, clock, honour=True).status == "deferred"
    clock.now += timedelta(minutes=30)
    assert poll(settings, store, clock, honour=True).status == "ok"


def test_304_keeps_items_and_sends_validators(http_server: LoopbackServer, store: Store) -> None:
    http_server.set("/f", Reply(body=rss([STORY]), headers={"ETag": '"v1"'}))
    settings, clock = settings_for(f"{http_server.url}/f"), Clock()
    assert poll(settings, store, clock, honour=False).new_items == 1
    http_server.set("/f", Reply(status=304))
    assert poll(settings, store, clock, honour=False).status == "not_modified"
    assert http_server.requests_to("/f")[-1].headers["if-none-match"] == '"v1"'
    assert store.recent_items(since=clock.now - timedelta(days=1))[0].title == STORY["title"]


def test_page_nested_100000_deep_is_parsed_without_recursion_errors(
    http_server: LoopbackServer, store: Store
) -> None:
    body = b"<html><body>" + b"<div>" * 100_000 + b"<article><h3>AWS</h3></article>"
    http_server.set("/p", Reply(body=body, headers={"Content-Type": "text/html"}))
    settings = Settings.model_validate(
        {
            "sources": [
                {
                    "name": "deep",
                    "page": f"{http_server.url}/p",
                    "select": {"item": "article", "title": "h3"},
                }
            ]
        }
    )

    async def go() -> SourceOutcome:
        fetcher = Fetcher(timeout=30)
        runtime = Runtime(settings=settings, store=store, fetcher=fetcher, rules=(), clock=Clock())
        try:
            return await poll_source(runtime, settings.sources[0])
        finally:
            await fetcher.aclose()

    outcome = asyncio.run(go())
    assert outcome.status == "ok"
    assert outcome.items == 1
