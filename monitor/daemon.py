"""The long-running daemon: APScheduler wiring, rule reload, signals.

APScheduler holds no durable state: jobs are rebuilt from the config at every start, in memory,
with ``coalesce`` (a host that slept runs each missed job once, not a hundred times),
``max_instances=1`` (a slow source never runs twice at once) and a misfire grace of one interval.
Everything that must survive a restart lives in the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, load_rules, watched_file_stats
from monitor.config.schema import FeedSource, PageSource
from monitor.errors import ConfigError
from monitor.health_alerts import announce_health
from monitor.pipeline import poll_source, utcnow
from monitor.schedule import first_poll_offsets
from monitor.service import Services, open_services

logger = logging.getLogger(__name__)

OUTBOX_EVERY = timedelta(seconds=5)
RULES_CHECK_EVERY = timedelta(seconds=2)
HEALTH_EVERY = timedelta(minutes=1)
#: how long a stop waits for deliveries already being sent
DRAIN_TIMEOUT = 30.0


def _rules_signature(rules_dir: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(watched_file_stats(rules_dir))


class Daemon:
    def __init__(self, config: Config, *, stdout: TextIO | None = None) -> None:
        self.config = config
        self.stdout = stdout
        self._stop = asyncio.Event()
        self._deliver_lock = asyncio.Lock()
        self._deliveries: set[asyncio.Task[Any]] = set()
        self._polls: set[asyncio.Task[Any]] = set()
        self._rules_signature = _rules_signature(config.rules_dir)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        async with open_services(self.config, stdout=self.stdout) as services:
            scheduler = self._schedule(services)
            scheduler.start()
            logger.info(
                "monitoring %d sources with %d rules",
                len(self.config.settings.sources),
                len(services.runtime.rules),
            )
            try:
                await self._stop.wait()
            finally:
                logger.info("stopping: finishing deliveries in flight")
                scheduler.shutdown(wait=False)
                for task in self._polls:
                    task.cancel()
                await asyncio.gather(*self._polls, return_exceptions=True)
                if self._deliveries:
                    await asyncio.wait(self._deliveries, timeout=DRAIN_TIMEOUT)

    def _schedule(self, services: Services) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        now = datetime.now(UTC)
        sources = self.config.settings.sources
        everies = [self.config.settings.every(source) for source in sources]
        for source, every, offset in zip(
            sources, everies, first_poll_offsets(everies), strict=True
        ):
            first = now + offset
            scheduler.add_job(
                self._poll,
                IntervalTrigger(
                    seconds=every.total_seconds(), jitter=min(60, int(every.total_seconds() // 10))
                ),
                args=[services, source],
                id=f"source:{source.name}",
                next_run_time=first,
                misfire_grace_time=int(every.total_seconds()),
            )
        scheduler.add_job(
            self._deliver,
            IntervalTrigger(seconds=OUTBOX_EVERY.total_seconds()),
            args=[services],
            id="outbox",
            next_run_time=now,
        )
        if self.config.settings.health.notify:
            scheduler.add_job(
                self._announce_health,
                IntervalTrigger(seconds=HEALTH_EVERY.total_seconds()),
                args=[services],
                id="health",
            )
        scheduler.add_job(
            self._reload_rules,
            IntervalTrigger(seconds=RULES_CHECK_EVERY.total_seconds()),
            args=[services],
            id="rules",
        )
        return scheduler

    async def _poll(self, services: Services, source: FeedSource | PageSource) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._polls.add(task)
        try:
            outcome = await poll_source(services.runtime, source, honour_schedule=True)
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
            # stopping cuts polls in flight short: the next start polls the source again
            logger.info("source %s: poll cut short by the stop", source.name)
            return
        finally:
            if task is not None:
                self._polls.discard(task)
        if outcome.alerts and not self._stop.is_set():
            await self._deliver(services)

    async def _deliver(self, services: Services) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._deliveries.add(task)
        try:
            async with self._deliver_lock:
                await services.outbox.deliver_due()
        except Exception:
            logger.exception("delivery sweep failed; the next sweep retries")
        finally:
            if task is not None:
                self._deliveries.discard(task)

    async def _announce_health(self, services: Services) -> None:
        try:
            await announce_health(
                self.config.settings, services.runtime.store, services.channels, utcnow()
            )
        except Exception:
            logger.exception("source health check failed; the next one retries")

    async def _reload_rules(self, services: Services) -> None:
        signature = _rules_signature(self.config.rules_dir)
        if signature == self._rules_signature:
            return
        self._rules_signature = signature
        try:
            rules = load_rules(self.config.rules_dir, set(self.config.settings.channels))
        except ConfigError as exc:
            logger.error(
                "rule files changed but are invalid; keeping the last good rules:\n%s", exc
            )
            return
        runtime = services.runtime
        runtime.rules = rules
        if runtime.workers is not None:
            # the workers hold the rules they started with: new rules, new workers
            old = runtime.workers
            runtime.workers = old.with_rules(rules)
            await old.aclose()
        logger.warning("rules reloaded: %d rules", len(rules))
