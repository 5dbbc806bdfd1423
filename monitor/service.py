"""Open and close what a run needs (store, fetch client, channels), and the one-pass check."""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from monitor.config import Config
from monitor.config.schema import Settings
from monitor.errors import MonitorError
from monitor.fetch import Fetcher
from monitor.fetch.client import USER_AGENT
from monitor.forkserver import pass_workers
from monitor.fulltext import FullText
from monitor.health_alerts import announce_health
from monitor.notify import Notifier, build_channels
from monitor.outbox import DeliveryReport, Grouping, Outbox, SweepsDuringPass
from monitor.pipeline import Runtime, SourceOutcome, poll_source, utcnow
from monitor.store import SourceState
from monitor.store.batching import BatchedStore
from monitor.store.process import StoreProcess
from monitor.workers import WorkerPool

if TYPE_CHECKING:
    import httpx

    from monitor.store import Store

logger = logging.getLogger(__name__)

#: sources a pass keeps in progress for each request it may have in flight (``concurrency``):
#: enough that polls waiting for the store do not hold up fetching (2 cost a 304 pass a third)
IN_PROGRESS_PER_REQUEST = 8
#: seconds the daemon's store thread waits after a call for others to share its transaction
DAEMON_STORE_GATHER = 0.1


class InstanceLocked(MonitorError):
    pass


def sqlite_path(config: Config) -> Path | None:
    state = config.settings.state
    if "://" in state:
        return Path(state.removeprefix("sqlite:///")) if state.startswith("sqlite:///") else None
    return config.base_dir / state


@contextmanager
def instance_lock(config: Config) -> Iterator[None]:
    """One process per SQLite file: a second one exits instead of sending duplicates."""
    db = sqlite_path(config)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db.parent / "daemon.lock"
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise InstanceLocked(f"another instance holds {lock_path} (pid {holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        handle.close()


@dataclass
class Services:
    runtime: Runtime
    outbox: Outbox
    channels: dict[str, Notifier]


def build_fetcher(settings: Settings) -> Fetcher:
    defaults = settings.defaults
    return Fetcher(
        timeout=defaults.timeout.total_seconds(),
        max_body_bytes=defaults.max_body_bytes,
        concurrency=defaults.concurrency,
        host_concurrency=defaults.host_concurrency,
        host_spacing=defaults.host_spacing.total_seconds(),
        allow_private=[ipaddress.ip_network(cidr, strict=False) for cidr in defaults.allow_private],
    )


class DeliveryHttp:
    """The HTTP client of the channels that post (Slack, webhooks), made when one is built:
    making it costs a start 60 ms, and many configs deliver only to the console or by email."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(15.0),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@asynccontextmanager
async def open_services(
    config: Config, *, stdout: TextIO | None = None, one_pass: bool = False
) -> AsyncIterator[Services]:
    """What a run needs; ``one_pass`` (`monitor check`) writes from a process of its own when
    there are parsing workers, where the daemon's sparse writes cost less on a thread."""
    settings = config.settings
    size = pass_workers(settings)
    # with the parsing elsewhere, a pass's writes are what this process would spend its time
    # on: they go to a process of their own, which opens the database and takes the pass's
    # other store calls too (this process then never imports SQLAlchemy)
    writes_elsewhere = bool(size and one_pass)
    own_store: Store | None = None
    if not writes_elsewhere:
        from monitor.store import Store

        own_store = await asyncio.to_thread(Store.open, settings.state, base_dir=config.base_dir)
    fetcher = build_fetcher(settings)
    delivery_http = DeliveryHttp()
    channels = build_channels(
        settings, http=delivery_http.client, stdout=stdout, templates=config.templates
    )
    workers = None
    if size:
        logger.info("parsing feeds and matching items in %d worker processes", size)
        workers = WorkerPool(
            config.rules, settings.channels, size, store_at=(settings.state, config.base_dir)
        )
    batched: BatchedStore | StoreProcess
    if own_store is None:
        batched = StoreProcess(settings.state, config.base_dir)
        store = batched.store
    else:
        # the daemon's writes come a few a second: a tenth of a second gathers several
        store = own_store
        batched = BatchedStore(store, gather=0.0 if one_pass else DAEMON_STORE_GATHER)
    runtime = Runtime(
        settings=settings,
        store=store,
        fetcher=fetcher,
        rules=config.rules,
        fulltext=FullText(fetcher),
        batched=batched,
        workers=workers,
    )
    grouping = {
        name: Grouping(wait=channel.grouping(), interval=channel.group_interval)
        for name, channel in settings.channels.items()
        if channel.grouping()
    }
    outbox = Outbox(
        store,
        channels,
        max_age=settings.defaults.delivery_max_age,
        max_attempts=settings.defaults.delivery_max_attempts,
        clock=utcnow,
        grouping=grouping,
        stored=asyncio.to_thread if own_store is not None else batched.call,
    )
    try:
        yield Services(runtime=runtime, outbox=outbox, channels=channels)
    finally:
        for notifier in channels.values():
            await notifier.aclose()
        await delivery_http.aclose()
        await fetcher.aclose()
        await batched.aclose()
        if runtime.workers is not None:
            await runtime.workers.aclose()
        if own_store is not None:
            own_store.close()


async def check_once(
    config: Config, *, stdout: TextIO | None = None
) -> tuple[list[SourceOutcome], DeliveryReport]:
    """Poll every source once, concurrently, then deliver what was queued."""
    async with open_services(config, stdout=stdout, one_pass=True) as services:
        runtime = services.runtime
        # One query for every source's state rather than one per source.
        states = {s.name: s for s in await runtime.stored(runtime.store.all_source_states)}
        sources = config.settings.sources
        done: list[tuple[int, SourceOutcome]] = []
        # the sweeps' writes go where the pass's go, many to a transaction
        sweeps = SweepsDuringPass(services.outbox.storing_through(runtime.stored))

        async def poll_in_turn(turns: Iterator[int]) -> None:
            # the runners share one iterator: each takes the next source when it is free
            for index in turns:
                source = sources[index]
                state = states.pop(source.name, None) or SourceState(name=source.name)
                outcome = await poll_source(runtime, source, state=state)
                if outcome.alerts:
                    sweeps.alerts_queued()
                done.append((index, outcome))

        # Sources in progress at once: a fetched feed waits for the parser and the store with
        # its items in memory, so without a bound a pass over 10,000 feeds holds them all. A
        # fixed set of runners bounds them where a task per source waiting on a semaphore cost
        # a tenth of a pass over unchanged feeds.
        runners = min(len(sources), IN_PROGRESS_PER_REQUEST * config.settings.defaults.concurrency)
        turns = iter(range(len(sources)))
        sweeps.start()
        try:
            await asyncio.gather(*(poll_in_turn(turns) for _ in range(runners)))
        finally:
            during = await sweeps.stop()
        outcomes = [outcome for _, outcome in sorted(done, key=lambda pair: pair[0])]
        await announce_health(
            config.settings, runtime.store, services.channels, utcnow(), stored=runtime.stored
        )
        budget = config.settings.defaults.delivery_budget.total_seconds()
        report = await services.outbox.drain(budget)
        if isinstance(runtime.batched, StoreProcess):
            # nothing more to write: it copies its write-ahead log into the database while
            # the channels and workers close
            runtime.batched.stop_soon()
        report.sent += during.sent
        report.dead += during.dead
    return outcomes, report
