"""One pass over one source: fetch -> parse -> dedup -> match -> record items and alerts together.

A pass never raises for a bad source: it returns a SourceOutcome saying what happened, and a
failure leaves every stored item in place. Items and the alerts they cause are committed in one
transaction, so a crash either keeps both (and the alerts go out later) or neither (and the next
pass sees the items as new again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from monitor.config.schema import FeedSource, PageSource, Settings
from monitor.errors import FetchError, StoreError
from monitor.fetch import Fetcher
from monitor.fetch.client import FetchResult
from monitor.fulltext import FullText
from monitor.holdback import HoldState, forget, hold_back, load_hold_state
from monitor.match import Rule
from monitor.model import KeyedItem, Planned
from monitor.planning import FeedRead, plan_alerts
from monitor.schedule import after_failure, after_success, cache_hint, is_due
from monitor.sources.normalize import keyed
from monitor.sources.read import accept_header, read_source, source_url
from monitor.store import FetchSuccess, SourceState

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.batching import BatchedStore
    from monitor.store.process import StoreProcess
    from monitor.workers import WorkerPool

logger = logging.getLogger(__name__)

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class SourceOutcome:
    source: str
    status: Literal["ok", "not_modified", "error", "deferred"]
    items: int = 0
    new_items: int = 0
    alerts: int = 0
    warning: str | None = None
    error: str | None = None
    error_kind: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    #: the server's answer, and its body becoming items (both within ``seconds``)
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0


@dataclass
class Runtime:
    """What a pass needs; ``rules`` is replaced as a whole when the rule files are reloaded."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    rules: tuple[Rule, ...]
    clock: Callable[[], datetime] = utcnow
    #: fetches article pages for sources with ``fulltext``; None leaves items as their feed has them
    fulltext: FullText | None = None
    #: one source at a time reads the silences and recent alerts when they are stale
    hold_state_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: the silences and recent alerts that decide what is held back, read now and then
    hold_state: HoldState | None = None
    #: runs the store calls of concurrent polls many to a transaction; None: each alone
    batched: BatchedStore | StoreProcess | None = None
    #: parses feeds and matches items in other processes; None: in this one
    workers: WorkerPool | None = None

    async def stored(self, action: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``action``, a method of the store, run off the event loop."""
        if self.batched is not None:
            return await self.batched.call(action, *args, **kwargs)
        return await asyncio.to_thread(action, *args, **kwargs)


async def _hold_state(rt: Runtime) -> HoldState:
    if rt.hold_state is None or not rt.hold_state.fresh():
        rt.hold_state = await load_hold_state(
            lambda now: rt.stored(rt.store.silences, active_at=now),
            lambda since: rt.stored(rt.store.alerts_since, since),
            rt.clock(),
            rt.settings.defaults.repeat_interval,
        )
    return rt.hold_state


async def _with_full_text(
    rt: Runtime, source: FeedSource | PageSource, entries: list[KeyedItem]
) -> list[KeyedItem]:
    assert rt.fulltext is not None
    wanted = rt.settings.fulltext(source)
    if wanted is False:
        return entries
    threshold = rt.settings.defaults.fulltext_below
    needing = [e for e in entries if wanted is True or len(e.item.summary) < threshold]
    if not needing:
        return entries
    enriched = {
        id(original): fuller
        for original, fuller in zip(
            needing, await rt.fulltext.enrich(source.name, source_url(source), needing), strict=True
        )
    }
    return [enriched.get(id(e), e) for e in entries]


@dataclass(frozen=True)
class _Pass:
    #: None when the source answered 304 Not Modified
    read: FeedRead | None
    #: what the store kept: another source may have stored some of ``read``'s items first
    new_items: int
    alerts: int
    fetch_seconds: float


def _reads_in_worker(rt: Runtime, source: FeedSource | PageSource, *, baseline: bool) -> bool:
    """Whether a worker can take the whole read: parse, dedup and match. Not when articles
    are to be fetched between dedup and match, nor when the workers hold older rules."""
    workers = rt.workers
    if workers is None or not workers.reads_store or not isinstance(source, FeedSource):
        return False
    full_text = rt.fulltext is not None and rt.settings.fulltext(source) is not False
    return workers.rules is rt.rules and (baseline or not full_text)


async def _read(
    rt: Runtime, source: FeedSource | PageSource, result: FetchResult, *, baseline: bool
) -> FeedRead:
    """The body's new items, each with the alerts it causes (none on a baseline pass)."""
    if _reads_in_worker(rt, source, baseline=baseline):
        assert rt.workers is not None
        # in one trip: only the new items come back, and no item crosses processes twice
        return await rt.workers.read_new(
            source.name, result.body, url=result.url, headers=result.headers, match=not baseline
        )
    parsing = time.perf_counter()
    if rt.workers is not None and isinstance(source, FeedSource):
        parsed, entries = await rt.workers.parse(
            source.name, result.body, url=result.url, headers=result.headers
        )
    else:
        parsed = await read_source(rt.fetcher, source, result)
        entries = keyed(parsed.items)
    parse_seconds = time.perf_counter() - parsing
    new = await rt.stored(rt.store.filter_new, entries)
    if not baseline and rt.fulltext is not None:
        new = await _with_full_text(rt, source, new)
    planned: Planned
    if baseline or not new:
        planned = [(e, []) for e in new]
    elif rt.workers is not None and rt.workers.rules is rt.rules:
        planned = await rt.workers.plan(new)
    else:
        planned = plan_alerts(rt.rules, new, rt.settings.channels)
    return FeedRead(
        items=len(parsed.items),
        planned=planned,
        warning=parsed.warning,
        ttl=parsed.ttl,
        parse_seconds=parse_seconds,
    )


async def _fetch_and_parse(
    rt: Runtime, source: FeedSource | PageSource, state: SourceState
) -> _Pass:
    """What one pass found."""
    every = rt.settings.every(source)
    # After an error, skip the validators: a server that failed may have sent a bad ETag.
    conditional = state.consecutive_failures == 0
    url = source_url(source)
    result = await rt.fetcher.fetch(
        source.name,
        url,
        etag=state.etag if conditional else None,
        last_modified=state.last_modified if conditional else None,
        accept=accept_header(source),
    )
    server_hint = cache_hint(result.headers.get("cache-control"))
    if result.not_modified:
        now = rt.clock()
        await rt.stored(
            rt.store.record_not_modified,
            source.name,
            at=now,
            next_poll_at=after_success(now, every, [server_hint]),
            fetch_ms=round(result.seconds * 1000),
        )
        return _Pass(None, 0, 0, fetch_seconds=result.seconds)
    baseline = not state.fetched_once and rt.settings.first_fetch(source) == "baseline"
    read = await _read(rt, source, result, baseline=baseline)
    planned = read.planned
    told: list[tuple[str, tuple[str, str]]] = []
    if any(outgoing for _, outgoing in planned):
        async with rt.hold_state_lock:
            hold = await _hold_state(rt)
        repeat = bool(rt.settings.defaults.repeat_interval)
        planned, told = hold_back(hold, planned, rt.clock(), repeat=repeat)
    now = rt.clock()
    fetched = FetchSuccess(
        etag=result.etag,
        last_modified=result.last_modified,
        next_poll_at=after_success(now, every, [server_hint, read.ttl]),
        fetch_ms=round(result.seconds * 1000),
        parse_ms=round(read.parse_seconds * 1000),
    )
    try:
        committed = await rt.stored(
            rt.store.commit_poll, source.name, planned, at=now, fetched=fetched, packed=read.packed
        )
    except Exception:
        if told and rt.hold_state is not None:
            forget(rt.hold_state, told)
        raise
    return _Pass(
        read, committed.items_added, committed.alerts_enqueued, fetch_seconds=result.seconds
    )


#: a warning that persists (a feed malformed on every poll) is logged again after this long
WARNING_REPEAT = timedelta(days=1)


async def _note_warning(rt: Runtime, name: str, state: SourceState, warning: str | None) -> None:
    """Log a source's warning when it is new or a day old, and keep it for `monitor sources`."""
    now = rt.clock()
    last_told = state.last_warning_at
    try:
        # The wording may change from pass to pass (counts of recovered items), so only a
        # source that had no warning, or was last warned about a day ago, is logged again.
        if warning and (last_told is None or now - last_told >= WARNING_REPEAT):
            logger.warning("source %s: %s", name, warning)
            await rt.stored(rt.store.record_warning, name, warning=warning, at=now)
        elif warning:
            logger.info("source %s: still: %s", name, warning)
            if warning != state.last_warning:
                await rt.stored(rt.store.record_warning, name, warning=warning, at=last_told)
        elif state.last_warning:
            logger.info("source %s: no longer: %s", name, state.last_warning)
            await rt.stored(rt.store.record_warning, name, warning=None, at=None)
    except StoreError as exc:
        logger.error("source %s: cannot record its warning: %s", name, exc)


async def poll_source(
    rt: Runtime,
    source: FeedSource | PageSource,
    *,
    honour_schedule: bool = False,
    state: SourceState | None = None,
) -> SourceOutcome:
    """One pass; with ``honour_schedule`` (the daemon), a source backing off is left alone.

    ``state`` is the source's stored state when the caller read it already (with many others).
    """
    started = time.perf_counter()
    every = rt.settings.every(source)
    try:
        if state is None:
            state = await rt.stored(rt.store.source_state, source.name)
        if honour_schedule and not is_due(rt.clock(), state.next_poll_at, every):
            return SourceOutcome(source=source.name, status="deferred")
        fetched = await _fetch_and_parse(rt, source, state)
    except Exception as exc:
        if not isinstance(exc, FetchError | StoreError):
            # A bug met by one source's content must cost only that source.
            logger.exception("source %s: unexpected error", source.name)
        kind = (
            exc.kind.value
            if isinstance(exc, FetchError)
            else "store"
            if isinstance(exc, StoreError)
            else "internal"
        )
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        message = str(exc) if kind != "internal" else f"source {source.name!r}: internal: {exc!r}"
        failures = (state.consecutive_failures if state is not None else 0) + 1
        now = rt.clock()
        next_poll = after_failure(now, every, failures, retry_after)
        logger.warning(
            "source %s failed (%d in a row; next try after %s): %s",
            source.name,
            failures,
            next_poll.isoformat(timespec="seconds"),
            message,
        )
        try:
            await rt.stored(
                rt.store.record_fetch_failure,
                source.name,
                at=now,
                error=message,
                next_poll_at=next_poll,
            )
        except StoreError as store_exc:
            logger.error("source %s: cannot record the failure: %s", source.name, store_exc)
        return SourceOutcome(
            source=source.name,
            status="error",
            error=message,
            error_kind=kind,
            retry_after=retry_after,
            seconds=time.perf_counter() - started,
        )
    elapsed = time.perf_counter() - started
    read = fetched.read
    if read is None:
        logger.info("source %s: not modified (fetch %.3f s)", source.name, fetched.fetch_seconds)
        return SourceOutcome(
            source=source.name,
            status="not_modified",
            seconds=elapsed,
            fetch_seconds=fetched.fetch_seconds,
        )
    assert state is not None  # the fetch above needed it
    await _note_warning(rt, source.name, state, read.warning)
    logger.info(
        "source %s: %d items, %d new, %d alerts queued (%.2f s: fetch %.3f s, parse %.3f s)",
        source.name,
        read.items,
        fetched.new_items,
        fetched.alerts,
        elapsed,
        fetched.fetch_seconds,
        read.parse_seconds,
    )
    return SourceOutcome(
        source=source.name,
        status="ok",
        items=read.items,
        new_items=fetched.new_items,
        alerts=fetched.alerts,
        warning=read.warning,
        seconds=elapsed,
        fetch_seconds=fetched.fetch_seconds,
        parse_seconds=read.parse_seconds,
    )
