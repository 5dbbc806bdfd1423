"""Parsing and matching in worker processes: the same alerts as in-process, and a dead worker
costs nothing but a moment."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import forkserver
from monitor.config import load_rules
from monitor.config.schema import Settings
from monitor.errors import FetchError
from monitor.forkserver import POOL_MIN_SOURCES, names_many_feeds, pool_size
from monitor.planning import FeedRead, plan_alerts
from monitor.process_pool import WorkerDied
from monitor.sources.feed import parse_feed
from monitor.sources.normalize import keyed
from monitor.store import Store
from monitor.workers import WorkerPool
from tests.e2e_support import SHIPPED_RULES, STORY, UNRELATED, MonitorCli, rss
from tests.servers import LoopbackServer, Reply

FEED = rss([*UNRELATED, STORY])


def alerts_of(cli: MonitorCli, receiver: LoopbackServer, workers: int) -> list[dict[str, object]]:
    cli.write_config(
        f"""
state: state/monitor-{workers}.db
rules: {SHIPPED_RULES}
defaults: {{parse_workers: {workers}, allow_private: [127.0.0.1/32]}}
sources:
"""
        + "".join(
            f"  - {{name: wire-{n}, feed: {cli.env['FEED_BASE']}/feed-{n}.xml}}\n" for n in range(6)
        )
        + f"channels:\n  hook: {{webhook: {receiver.url}/hook-{workers}}}\n"
    )
    result = cli.run("-v", "check")
    assert result.returncode == 0, result.stderr
    assert (f"matching items in {workers} worker processes" in result.stderr) == (workers > 0)
    # a clean pass logs no error (the store process, stopping as the pass ends, included)
    assert " ERROR " not in result.stderr, result.stderr
    return sorted(
        (json.loads(r.body) for r in receiver.requests_to(f"/hook-{workers}")),
        key=lambda alert: str(alert["source"]),
    )


def test_worker_processes_send_the_alerts_the_monitor_sends_alone(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    for n in range(6):
        http_server.set(f"/feed-{n}.xml", Reply(body=rss(UNRELATED) if n % 2 else FEED))
    receiver.set("/hook-0", Reply(status=204))
    receiver.set("/hook-2", Reply(status=204))
    cli = MonitorCli(tmp_path, env={"FEED_BASE": http_server.url})
    alone, pooled = alerts_of(cli, receiver, 0), alerts_of(cli, receiver, 2)
    # one story in three feeds: the first alert is sent, the others are held as repeats
    assert len(alone) == 1
    assert [(a["title"], a["matched"]) for a in pooled] == [
        (a["title"], a["matched"]) for a in alone
    ]


def test_the_pool_runs_for_many_feeds_or_when_configured() -> None:
    assert pool_size(None, POOL_MIN_SOURCES - 1) == 0
    assert pool_size(None, POOL_MIN_SOURCES) >= 1
    assert pool_size(0, 10_000) == 0
    assert pool_size(3, 1) == 3


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    opened = WorkerPool(load_rules(SHIPPED_RULES, {"all"}), {}, 1)
    try:
        yield opened
    finally:
        opened.close()


def test_a_worker_that_dies_fails_only_its_own_task_and_another_takes_its_place() -> None:
    expected = parse_feed("wire", FEED, url="https://news.example.org/feed", headers={})
    pool = WorkerPool(load_rules(SHIPPED_RULES, {"all"}), {}, 2)

    async def scenario() -> None:
        dying, parsed = await asyncio.gather(
            pool._processes.run(os._exit, 1),
            pool.parse("wire", FEED, url="https://news.example.org/feed", headers={}),
            return_exceptions=True,
        )
        assert isinstance(dying, WorkerDied)
        assert isinstance(parsed, tuple)
        assert parsed[0] == expected
        again, keys = await pool.parse(
            "wire", FEED, url="https://news.example.org/feed", headers={}
        )
        assert again == expected
        assert [k.keys for k in keys] == [k.keys for k in keyed(expected.items)]
        await pool.aclose()

    asyncio.run(scenario())


def test_a_task_that_kills_its_worker_every_time_fails_after_one_retry(pool: WorkerPool) -> None:
    async def scenario() -> None:
        with pytest.raises(WorkerDied):
            await pool._retrying(os._exit, 1)
        # the pool is whole again for the next task
        parsed, _ = await pool.parse("wire", FEED, url="u", headers={})
        assert len(parsed.items) == len(UNRELATED) + 1

    asyncio.run(scenario())


def test_closing_lets_the_tasks_given_finish_first() -> None:
    pool = WorkerPool(load_rules(SHIPPED_RULES, {"all"}), {}, 1)

    async def scenario() -> list[int]:
        reads = [
            asyncio.ensure_future(pool.parse(f"w{n}", FEED, url="u", headers={})) for n in range(3)
        ]
        await asyncio.sleep(0)  # given, not yet read
        await pool.aclose()
        assert all(read.done() for read in reads)
        with pytest.raises(RuntimeError, match="closed"):
            await pool.parse("late", FEED, url="u", headers={})
        return [len(read.result()[0].items) for read in reads]

    assert asyncio.run(scenario()) == [len(UNRELATED) + 1] * 3


def test_a_parse_error_in_a_worker_reaches_the_caller_whole(pool: WorkerPool) -> None:
    async def scenario() -> FetchError:
        with pytest.raises(FetchError) as caught:
            await pool.parse("wire", b"<html><body>no feed</body></html>", url="u", headers={})
        return caught.value

    error = asyncio.run(scenario())
    assert error.source == "wire"
    assert error.kind.value == "not_a_feed"
    assert "HTML page" in str(error)


def test_new_rules_take_a_new_pool_that_matches_with_them(pool: WorkerPool, tmp_path: Path) -> None:
    (tmp_path / "weather.yaml").write_text(
        "name: weather\nnotify: [all]\nmatch: {all: [rain, forecasters]}\n"
    )
    entries = keyed(parse_feed("wire", FEED, url="u", headers={}).items)

    async def scenario() -> tuple[list[str], list[str]]:
        before = await pool.plan(entries)
        renewed = pool.with_rules(load_rules(tmp_path, {"all"}))
        try:
            after = await renewed.plan(entries)
        finally:
            renewed.close()
        names = lambda planned: [o.alert.rule for _, outs in planned for o in outs]  # noqa: E731
        return names(before), names(after)

    before, after = asyncio.run(scenario())
    assert before == ["foreign-tech-china-closure"]
    assert after == ["weather"]


def test_a_worker_read_returns_only_what_the_store_has_not_seen(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "monitor.db"))
    entries = keyed(parse_feed("wire", FEED, url="u", headers={}).items)
    story = next(e for e in entries if e.item.title == STORY["title"])
    # everything but the story is stored already, by another writer
    store.commit_items("wire", [(e, []) for e in entries if e is not story], at=datetime.now(UTC))
    pool = WorkerPool(
        load_rules(SHIPPED_RULES, {"all"}), {}, 1, store_at=(str(tmp_path / "monitor.db"), None)
    )

    async def scenario() -> tuple[FeedRead, FeedRead]:
        matched = await pool.read_new("wire", FEED, url="u", headers={}, match=True)
        baseline = await pool.read_new("wire", FEED, url="u", headers={}, match=False)
        return matched, baseline

    try:
        matched, baseline = asyncio.run(scenario())
    finally:
        pool.close()
        store.close()
    assert matched.items == baseline.items == len(entries)
    # only items with alerts come back unpacked; every new item is in the packed batch
    assert [(e.key, [o.alert.rule for o in outs]) for e, outs in matched.planned] == [
        (story.key, ["foreign-tech-china-closure"])
    ]
    assert matched.new_items == baseline.new_items == 1
    assert matched.packed is not None
    assert baseline.packed is not None
    assert [(i[0][0], len(outs)) for i, outs in matched.packed.unpack(matched.planned)] == [
        (story.key, 1)
    ]
    assert baseline.planned == []
    assert [(i[0][0], outs) for i, outs in baseline.packed.unpack([])] == [(story.key, [])]
    assert pool.reads_store


def test_a_config_naming_many_feeds_starts_the_forkserver_before_its_settings_are_read() -> None:
    block = "".join(f"  - name: f{n}\n    feed: https://e.org/{n}\n" for n in range(60))
    flow = "".join(f"  - {{name: feed-{n}, feed: https://e.org/{n}}}\n" for n in range(60))
    few = "".join(f"  - {{name: feed-{n}, feed: https://e.org/{n}}}\n" for n in range(3))
    pages = "".join(f"  - {{name: p{n}, page: https://e.org/{n}}}\n" for n in range(60))
    assert names_many_feeds(f"sources:\n{block}".encode())
    assert names_many_feeds(f"sources:\n{flow}".encode())
    assert not names_many_feeds(f"sources:\n{few}".encode())
    assert not names_many_feeds(f"sources:\n{pages}".encode())
    assert not names_many_feeds(f"defaults: {{parse_workers: 0}}\nsources:\n{flow}".encode())


def test_workers_start_from_a_frozen_forkserver_that_imported_the_parsers() -> None:
    # the forkserver's preload is one module: run it as the forkserver would, in a clean process
    preload = list(forkserver.PRELOAD)
    script = (
        "import gc, importlib, sys\n"
        f"for name in {preload!r}: importlib.import_module(name)\n"
        "print(gc.get_freeze_count() > 0)\n"
        "print(all(m in sys.modules for m in"
        " ('monitor.workers', 'monitor.sources.feed', 'monitor.store.process', 'lxml.etree')))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["True", "True"]


def test_workers_leave_a_channel_out_of_alerts_below_its_min_severity() -> None:
    # the shipped rule is a warning: the pager takes only critical alerts
    settings = Settings.model_validate(
        {
            "sources": [],
            "channels": {
                "desk": {"console": True},
                "pager": {"webhook": "https://hooks.example.org/p", "min_severity": "critical"},
            },
        }
    )
    rules = load_rules(SHIPPED_RULES, set(settings.channels))
    parsed = parse_feed("wire", FEED, url="https://news.example.org/feed", headers={})
    entries = keyed(parsed.items)
    pool = WorkerPool(rules, settings.channels, 1)
    try:
        planned = asyncio.run(pool.plan(entries))
    finally:
        pool.close()
    sent = [(entry.item.title, out.channels) for entry, outs in planned for out in outs]
    assert sent == [(STORY["title"], ("desk",))]
    # the same rule, planned in this process with the channels' own settings
    assert sent == [
        (entry.item.title, out.channels)
        for entry, outs in plan_alerts(rules, entries, settings.channels)
        for out in outs
    ]


def test_the_processes_forked_for_a_pass_start_without_the_settings_models() -> None:
    # what the forkserver imports before it forks the workers and the store's process
    probe = (
        "import sys, monitor.worker_preload; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'monitor.config.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['monitor.config.yamlfile']"
