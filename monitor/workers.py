"""Parsing and matching in worker processes, so that a pass over many feeds uses every core.

The event loop fetches and stores; in the pool a feed's body becomes keyed items, and new items
become planned alerts. Workers start from a forkserver (a clean, single-threaded process that
imported the parsers once), never by forking the monitor, whose threads may hold locks. The
rules and channels go to each worker once, as the pool starts; new rules take a new pool. A
worker that dies (a parser crashing on a hostile feed) breaks the pool under every task in
flight: a new pool tries each once more, and a feed that kills its worker again fails alone,
as a parse error of that source. Such a feed is never parsed in the monitor's own process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from monitor import forkserver
from monitor.config.schema import ChannelBase
from monitor.errors import FetchError, FetchErrorKind
from monitor.match import Rule, RuleSet
from monitor.match.prefilter import rule_set_for
from monitor.model import KeyedItem, Outgoing
from monitor.pipeline import plan_alerts
from monitor.sources.feed import parse_feed
from monitor.sources.normalize import keyed
from monitor.sources.text import ParsedFeed

logger = logging.getLogger(__name__)

Planned = list[tuple[KeyedItem, list[Outgoing]]]
T = TypeVar("T")

#: below this many feed sources a pass is too short for the pool's start to pay off
_worker_rules: RuleSet | None = None
_worker_channels: Mapping[str, ChannelBase] | None = None


def _start_worker(rules: Sequence[Rule], channels: Mapping[str, ChannelBase]) -> None:
    global _worker_rules, _worker_channels
    _worker_rules = rule_set_for(tuple(rules))
    _worker_channels = channels


def _parse(
    name: str, body: bytes, url: str, headers: dict[str, str]
) -> tuple[ParsedFeed, list[KeyedItem]]:
    parsed = parse_feed(name, body, url=url, headers=headers)
    return parsed, keyed(parsed.items)


def _plan(batch: list[KeyedItem]) -> Planned:
    assert _worker_rules is not None, "the pool's initializer sets the rules"
    return plan_alerts(_worker_rules, batch, _worker_channels)


class WorkerPool:
    def __init__(
        self, rules: Sequence[Rule], channels: Mapping[str, ChannelBase], workers: int
    ) -> None:
        #: the rules the workers hold; a caller with other rules plans in its own process
        self.rules = rules
        self._channels = channels
        self._workers = workers
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=forkserver.context(),
            initializer=_start_worker,
            initargs=(self.rules, self._channels),
        )

    async def parse(
        self, name: str, body: bytes, *, url: str, headers: dict[str, str]
    ) -> tuple[ParsedFeed, list[KeyedItem]]:
        """The feed's items with their identity keys; raises FetchError like parse_feed."""
        try:
            return await self._retrying(_parse, name, body, url, headers)
        except BrokenProcessPool:
            # Never in-process: a feed that crashes its parser would take the monitor with it.
            raise FetchError(
                name, FetchErrorKind.PARSE, "the parser process died twice reading this feed"
            ) from None

    async def plan(self, batch: list[KeyedItem]) -> Planned:
        try:
            return await self._retrying(_plan, batch)
        except BrokenProcessPool:
            logger.warning("matching workers died twice; matching %d items in-process", len(batch))
            return plan_alerts(self.rules, batch, self._channels)

    async def _retrying(self, task: Callable[..., T], *args: Any) -> T:
        """``task`` in a worker, once more in a new pool if the pool broke under it.

        A dying worker breaks every task in flight, not only its own: the others deserve a
        second try, and the task that kills its worker fails again.
        """
        try:
            return await self._run(task, *args)
        except BrokenProcessPool:
            logger.warning("a worker process died; its tasks are tried again in a new pool")
            return await self._run(task, *args)

    async def _run(self, task: Callable[..., T], *args: Any) -> T:
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, task, *args)
        except BrokenProcessPool:
            if executor is self._executor:
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
            raise

    def with_rules(self, rules: Sequence[Rule]) -> WorkerPool:
        """A new pool of the same size holding ``rules``."""
        return WorkerPool(rules, self._channels, self._workers)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
