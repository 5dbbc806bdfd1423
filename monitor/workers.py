"""Parsing and matching in worker processes, so that a pass over many feeds uses every core.

The event loop fetches and stores; in the pool a feed's body becomes keyed items, the items the
store has not seen are picked out (each worker reads the store through a connection of its own),
and those become planned alerts. Only new items travel back, once. Workers start from a
forkserver (a clean, single-threaded process that imported the parsers once), never by forking
the monitor, whose threads may hold locks. The rules and channels go to each worker once, as
the pool starts; new rules take a new pool. A worker that dies (a parser crashing on a hostile
feed) fails only the feed it held: a new worker tries it once more, and a feed that kills its
worker again fails as a parse error of that source. Such a feed is never parsed in the
monitor's own process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from monitor import forkserver
from monitor.errors import FetchError, FetchErrorKind
from monitor.match import Rule, RuleSet
from monitor.match.prefilter import rule_set_for
from monitor.model import KeyedItem, PackedItems, Planned
from monitor.planning import FeedRead, MinimumSeverity, plan_alerts
from monitor.process_pool import ProcessPool, WorkerDied
from monitor.sources.normalize import keyed
from monitor.sources.text import ParsedFeed

if TYPE_CHECKING:
    from monitor.config.schema import ChannelBase
    from monitor.store.key_lookup import KeyLookup

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: where the store is: its location and the folder a relative location is under
StoreAt = tuple[str, Path | None]

_worker_rules: RuleSet | None = None
_worker_channels: Mapping[str, MinimumSeverity] | None = None
_worker_store_at: StoreAt | None = None
_worker_lookup: KeyLookup | None = None


def _start_worker(
    rules: Sequence[Rule], channels: Mapping[str, MinimumSeverity], store_at: StoreAt | None
) -> None:
    global _worker_rules, _worker_channels, _worker_store_at
    _worker_rules = rule_set_for(tuple(rules))
    _worker_channels = channels
    _worker_store_at = store_at


def _read_new(name: str, body: bytes, url: str, headers: dict[str, str], match: bool) -> FeedRead:
    started = time.perf_counter()
    parsed, entries = _parse(name, body, url, headers)
    parse_seconds = time.perf_counter() - started
    new = _lookup().filter_new(entries)
    packed, alerting = PackedItems.pack(
        _plan(new) if match and new else [(entry, []) for entry in new]
    )
    return FeedRead(
        items=len(parsed.items),
        planned=alerting,
        packed=packed,
        warning=parsed.warning,
        ttl=parsed.ttl,
        parse_seconds=parse_seconds,
    )


def _lookup() -> KeyLookup:
    global _worker_lookup
    assert _worker_store_at is not None, "read_new is offered only with a store"
    if _worker_lookup is None:
        from monitor.store import Store  # preloaded by the forkserver

        location, base_dir = _worker_store_at
        store = Store.open(location, base_dir=base_dir)
        lookup = _worker_lookup = store.key_lookup()

        def close() -> None:
            lookup.close()
            store.close()

        # closed as the worker exits, so a PostgreSQL server sees the connection end cleanly
        Finalize(store, close, exitpriority=0)
    return _worker_lookup


def _parse(
    name: str, body: bytes, url: str, headers: dict[str, str]
) -> tuple[ParsedFeed, list[KeyedItem]]:
    from monitor.sources.feed import parse_feed  # preloaded by the forkserver

    parsed = parse_feed(name, body, url=url, headers=headers)
    return parsed, keyed(parsed.items)


def _plan(batch: list[KeyedItem]) -> Planned:
    assert _worker_rules is not None, "the pool's initializer sets the rules"
    return plan_alerts(_worker_rules, batch, _worker_channels)


class WorkerPool:
    def __init__(
        self,
        rules: Sequence[Rule],
        channels: Mapping[str, ChannelBase],
        workers: int,
        *,
        store_at: StoreAt | None = None,
    ) -> None:
        #: the rules the workers hold; a caller with other rules plans in its own process
        self.rules = rules
        self._channels = channels
        self._workers = workers
        self._store_at = store_at
        minimums = {name: MinimumSeverity(c.min_severity) for name, c in channels.items()}
        self._processes = ProcessPool(
            workers,
            context=forkserver.context(),
            initializer=_start_worker,
            initargs=(rules, minimums, store_at),
        )

    @property
    def reads_store(self) -> bool:
        """Whether the workers can look items up in the store (``read_new``)."""
        return self._store_at is not None

    async def parse(
        self, name: str, body: bytes, *, url: str, headers: dict[str, str]
    ) -> tuple[ParsedFeed, list[KeyedItem]]:
        """The feed's items with their identity keys; raises FetchError like parse_feed."""
        return await self._reading(name, _parse, name, body, url, headers)

    async def read_new(
        self, name: str, body: bytes, *, url: str, headers: dict[str, str], match: bool
    ) -> FeedRead:
        """The feed parsed, its items the store has not seen and, with ``match``, the alerts
        each causes; raises FetchError like parse_feed, StoreError like the store."""
        return await self._reading(name, _read_new, name, body, url, headers, match)

    async def _reading(self, source: str, task: Callable[..., T], *args: Any) -> T:
        """``task``, which reads ``source``'s body in a worker, retried as ``_retrying`` does."""
        try:
            return await self._retrying(task, *args)
        except WorkerDied:
            # Never in-process: a feed that crashes its parser would take the monitor with it.
            raise FetchError(
                source, FetchErrorKind.PARSE, "the parser process died twice reading this feed"
            ) from None

    async def plan(self, batch: list[KeyedItem]) -> Planned:
        try:
            return await self._retrying(_plan, batch)
        except WorkerDied:
            logger.warning("matching workers died twice; matching %d items in-process", len(batch))
            return plan_alerts(self.rules, batch, self._channels)

    async def _retrying(self, task: Callable[..., T], *args: Any) -> T:
        """``task`` in a worker, once more in a new worker if its worker died under it: a task
        that kills its worker fails the second time too."""
        try:
            return await self._processes.run(task, *args)
        except WorkerDied:
            logger.warning("a worker process died under its task; trying it once more")
            return await self._processes.run(task, *args)

    def with_rules(self, rules: Sequence[Rule]) -> WorkerPool:
        """A new pool of the same size holding ``rules``."""
        return WorkerPool(rules, self._channels, self._workers, store_at=self._store_at)

    async def aclose(self) -> None:
        """Let the tasks already given finish, then stop the workers."""
        await self._processes.aclose()

    def close(self) -> None:
        """Stop the workers, from outside the event loop once it has ended."""
        self._processes.close()
