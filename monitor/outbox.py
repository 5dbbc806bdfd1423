"""Deliver the alerts waiting in the store: at least once, each channel on its own.

A delivery row is marked sent only after its channel accepted the alert; a crash between the two
repeats that one message (carrying the same idempotency key), never loses it. Channels are served
concurrently and each in order, so a dead webhook never delays Slack or email. Retryable failures
are rescheduled with exponential backoff and jitter (never sooner than the server's Retry-After);
permanent ones, and rows older than the maximum age, are dead-lettered and kept.

A channel with a ``group_wait`` holds its first alert that long, then sends everything due as one
digest, and sends the next digest no sooner than ``group_interval`` after (Alertmanager's
grouping). ``monitor check`` is one pass, so it flushes groups at once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import tenacity

from monitor.errors import DeliveryError
from monitor.model import Digest
from monitor.notify import Notifier
from monitor.store import DeliveryRow

if TYPE_CHECKING:
    from monitor.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreCall(Protocol):
    """How the outbox runs a method of the store without blocking the event loop."""

    def __call__(self, action: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]: ...


FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 3600.0
#: a row for a channel no longer in the config waits this long before the next look
UNKNOWN_CHANNEL_RETRY = timedelta(hours=1)


#: doubling from 2 s up to an hour, plus up to 2 s of jitter so failed channels do not retry in step
_BACKOFF = tenacity.wait_exponential_jitter(
    multiplier=FIRST_RETRY_SECONDS, max=MAX_RETRY_SECONDS, jitter=FIRST_RETRY_SECONDS
)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try after ``attempts`` failures, never sooner than Retry-After.

    The schedule lives in the store (a crash must not forget it), so tenacity supplies the wait
    strategy here rather than a retry loop around the send.
    """
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = max(1, attempts)
    return max(float(_BACKOFF(state)), retry_after or 0.0)


#: alerts in one digest; the rest wait for the next one
DIGEST_MAX = 100


@dataclass(frozen=True)
class Grouping:
    wait: timedelta
    interval: timedelta


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead


class Outbox:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Notifier],
        *,
        max_age: timedelta,
        clock: Callable[[], datetime],
        grouping: Mapping[str, Grouping] | None = None,
        max_attempts: int = 20,
        stored: StoreCall = asyncio.to_thread,
    ) -> None:
        self.store = store
        self.channels = channels
        self.max_age = max_age
        self.max_attempts = max_attempts
        self.clock = clock
        self.grouping = dict(grouping or {})
        self._stored = stored
        #: whether a channel's deliveries are marked sent together (see storing_through)
        self._marks_together = False
        self._last_digest: dict[str, datetime] = {}

    def storing_through(self, stored: StoreCall) -> Outbox:
        """This outbox with its store calls run by ``stored``, a writer that runs calls many to
        a transaction (a pass's store thread or process). The deliveries' writes join the pass's
        transactions instead of waiting for its lock (SQLite's wait sleeps in steps of up to a
        tenth of a second), and the marks of a channel's sends are each asked for as the alert
        goes out but awaited together: one transaction for many, not a round trip each. Should
        the monitor die meanwhile, the alerts of one sweep may go out again, not just one."""
        other = copy.copy(self)  # the same channels, and the same record of digests sent
        other._stored = stored
        other._marks_together = True
        return other

    async def deliver_due(self, *, flush: bool = False, groups: bool = True) -> DeliveryReport:
        """One sweep over every delivery that is due now; ``flush`` sends groups without waiting,
        and without ``groups`` the grouping channels are left for a later sweep."""
        due = await self._stored(self.store.due_deliveries, now=self.clock(), limit=500)
        by_channel: dict[str, list[DeliveryRow]] = defaultdict(list)
        for row in due:
            if groups or row.channel not in self.grouping:
                by_channel[row.channel].append(row)
        report = DeliveryReport()
        results = await asyncio.gather(
            *(
                self._deliver_group(name, rows, flush)
                if name in self.grouping and name in self.channels
                else self._deliver_channel(name, rows)
                for name, rows in by_channel.items()
            )
        )
        for result in results:
            report.add(result)
        return report

    async def drain(self, budget: float) -> DeliveryReport:
        """Sweep until nothing is due within ``budget`` seconds; what is left waits for later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        report = DeliveryReport()
        while True:
            swept = await self.deliver_due(flush=True)
            report.add(swept)
            pending = await self._stored(self.store.deliveries, status="pending")
            if not pending:
                report.retrying = 0
                return report
            soonest = min(row.next_attempt_at or self.clock() for row in pending)
            wait = max(0.0, (soonest - self.clock()).total_seconds())
            if loop.time() + wait >= deadline:
                report.retrying = len(pending)
                return report
            await asyncio.sleep(wait)

    async def _deliver_channel(self, name: str, rows: list[DeliveryRow]) -> DeliveryReport:
        report = DeliveryReport()
        notifier = self.channels.get(name)
        recording: list[tuple[DeliveryRow, asyncio.Future[None]]] = []
        try:
            for row in rows:
                if notifier is None:
                    await self._retry(
                        row, f"channel {name!r} is not configured", UNKNOWN_CHANNEL_RETRY
                    )
                    report.retrying += 1
                    continue
                try:
                    await notifier.send(row.alert)
                except DeliveryError as exc:
                    if await self._failed(row, exc):
                        report.retrying += 1
                        # The channel is failing now: the rest of its queue waits for the next
                        # sweep.
                        break
                    report.dead += 1
                    continue
                except Exception as exc:
                    # A bug in one channel must not stop the others; treat it as retryable.
                    logger.exception("channel %s: unexpected error", name)
                    await self._failed(row, DeliveryError(name, repr(exc), retryable=True))
                    report.retrying += 1
                    break
                # asked for as soon as the alert is out, whether or not it is awaited now
                marking = asyncio.ensure_future(
                    self._stored(self.store.mark_sent, row.id, at=self.clock())
                )
                recording.append((row, marking))
                if not self._marks_together:
                    settling, recording = recording, []
                    await self._recorded(settling)
                report.sent += 1
        finally:
            await self._recorded(recording)
        return report

    async def _recorded(self, recording: list[tuple[DeliveryRow, asyncio.Future[None]]]) -> None:
        """Wait for the marks of sent deliveries; a mark that failed is logged for its alert,
        which may be sent again, and raised once all of them are settled."""
        if not recording:
            return
        await asyncio.wait([marking for _, marking in recording])
        failure: BaseException | None = None
        for row, marking in recording:
            error = marking.exception()
            if error is None:
                logger.info(
                    "alert %s (%s) delivered to %s", row.alert.key, row.alert.rule, row.channel
                )
                continue
            logger.error(
                "alert %s to %s possibly delivered but not recorded as sent; it may repeat",
                row.alert.key,
                row.channel,
            )
            failure = failure or error
        if failure is not None:
            raise failure

    async def _deliver_group(
        self, name: str, rows: list[DeliveryRow], flush: bool
    ) -> DeliveryReport:
        """Everything due for a grouping channel as one digest, once the group has waited."""
        now = self.clock()
        group = self.grouping[name]
        if not flush:
            oldest = min(row.created_at for row in rows)
            last = self._last_digest.get(name)
            if now - oldest < group.wait or (last is not None and now - last < group.interval):
                return DeliveryReport()
        batch = rows[:DIGEST_MAX]
        if len(batch) == 1:
            return await self._deliver_channel(name, batch)
        report = DeliveryReport()
        digest = Digest(alerts=tuple(row.alert for row in batch))
        try:
            await self.channels[name].send_digest(digest)
        except DeliveryError as exc:
            for row in batch:
                if await self._failed(row, exc):
                    report.retrying += 1
                else:
                    report.dead += 1
            return report
        except Exception as exc:
            logger.exception("channel %s: unexpected error", name)
            for row in batch:
                await self._failed(row, DeliveryError(name, repr(exc), retryable=True))
            report.retrying += len(batch)
            return report
        self._last_digest[name] = now
        for row in batch:
            await self._stored(self.store.mark_sent, row.id, at=self.clock())
        logger.info("digest %s of %d alerts delivered to %s", digest.key, len(batch), name)
        report.sent += len(batch)
        return report

    async def _failed(self, row: DeliveryRow, exc: DeliveryError) -> bool:
        """Record a failed try; True when the row will be tried again."""
        now = self.clock()
        too_old = now - row.created_at >= self.max_age
        too_many = row.attempts + 1 >= self.max_attempts
        if not exc.retryable or too_old or too_many:
            reason = str(exc)
            if exc.retryable:
                given = f"{row.attempts + 1} tries" if too_many else str(self.max_age)
                reason = f"{exc} (gave up after {given})"
            logger.error("alert %s to %s dead-lettered: %s", row.alert.key, row.channel, reason)
            await self._stored(self.store.mark_dead, row.id, at=now, error=reason)
            return False
        delay = retry_delay(row.attempts + 1, exc.retry_after)
        logger.warning(
            "alert %s to %s failed (%s); retrying in %.0f s", row.alert.key, row.channel, exc, delay
        )
        await self._retry(row, str(exc), timedelta(seconds=delay))
        return True

    async def _retry(self, row: DeliveryRow, error: str, delay: timedelta) -> None:
        now = self.clock()
        await self._stored(
            self.store.mark_retry, row.id, at=now, error=error, next_attempt_at=now + delay
        )


class SweepsDuringPass:
    """Deliveries made while a pass still runs (`monitor check`), so that an alert goes out
    minutes before the last feed of a long pass is read: a sweep whenever a poll queued alerts,
    one sweep at a time. Digests wait for the sweep at the end, which gathers everything."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._wanted = asyncio.Event()
        self._stopping = False
        #: what the sweeps sent and gave up on; what is still retrying is the final sweep's to say
        self.report = DeliveryReport()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_when_wanted())

    def alerts_queued(self) -> None:
        self._wanted.set()

    async def stop(self) -> DeliveryReport:
        """Wait for the sweep under way, if any; start no other."""
        self._stopping = True
        self._wanted.set()
        if self._task is not None:
            await self._task
        return self.report

    async def _sweep_when_wanted(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                swept = await self._outbox.deliver_due(groups=False)
            except Exception:
                logger.exception("delivery sweep failed; the sweep at the end tries again")
                continue
            self.report.sent += swept.sent
            self.report.dead += swept.dead
