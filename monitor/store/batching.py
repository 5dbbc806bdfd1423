"""Group commit: store calls from many concurrent polls share one transaction.

A pass over thousands of sources makes thousands of small writes (a 304 noted, a fetch recorded,
items stored). Each alone is a transaction with its own fsync; run one after another on a single
thread, the calls that arrive while one batch commits go together into the next. A call that
fails rolls its batch back, and the batch is run again one call per transaction, so it fails
alone; no caller hears of success before the transaction holding its writes has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.errors import StoreError

if TYPE_CHECKING:
    from monitor.store.repository import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: calls per transaction: a bound on how long the write lock is held at once
MAX_BATCH = 500
#: why a call made after closing fails
CLOSED = "closed, the call was not run"


def take_batch(
    pending: queue.SimpleQueue[T | None], first: T, *, gather: float = 0.0
) -> tuple[list[T], bool]:
    """``first`` and what is queued behind it, up to MAX_BATCH, and with ``gather`` what
    arrives within that many seconds of it; True when the stop mark (None) was among them."""
    batch = [first]
    deadline = time.monotonic() + gather
    while len(batch) < MAX_BATCH:
        try:
            wait = deadline - time.monotonic()
            more = pending.get(timeout=wait) if wait > 0 else pending.get_nowait()
        except queue.Empty:
            break
        if more is None:
            return batch, True
        batch.append(more)
    return batch, False


@dataclass
class _Call:
    action: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: the caller's, settled on its loop; cancelled when the caller gave up waiting
    answer: asyncio.Future[Any]


class BatchedStore:
    """Runs store calls on one thread of its own, many to a transaction.

    With ``gather``, a transaction waits that many seconds after its first call for others:
    the daemon's polls come one by one, and a transaction (and its fsync) for each of their
    small writes was most of its CPU while nothing changes.
    """

    def __init__(self, store: Store, *, gather: float = 0.0) -> None:
        self.store = store
        self._gather = gather
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        #: how many calls ran, and in how many transactions
        self.calls = self.transactions = 0
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()

    async def call(self, action: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``action(*args, **kwargs)``, a method of the store, once its batch has committed."""
        if self._closed:
            raise StoreError(f"state database {self.store.display}: {CLOSED}")
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Call(action, args, kwargs, answer))
        return await answer

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Finish the calls already made, then stop the thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = take_batch(self._queue, first, gather=self._gather)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[_Call]) -> None:
        self.calls += len(batch)
        outcomes, transactions = run_batch(
            self.store, [(call.action, call.args, call.kwargs) for call in batch]
        )
        self.transactions += transactions
        # One wake-up of each caller's loop per batch, not one per call; a caller that gave
        # up waiting (its poll cancelled) is passed over rather than failing the thread.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[_Call, Outcome]]] = {}
        for call, outcome in zip(batch, outcomes, strict=True):
            settled.setdefault(call.answer.get_loop(), []).append((call, outcome))
        for loop, answers in settled.items():
            with contextlib.suppress(RuntimeError):  # that loop has ended: nobody waits
                loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[_Call, Outcome]]) -> None:
    for call, (value, error) in answers:
        if call.answer.done():
            continue
        if error is not None:
            call.answer.set_exception(error)
        else:
            call.answer.set_result(value)


Outcome = tuple[Any, BaseException | None]


def run_batch(
    store: Store, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
) -> tuple[list[Outcome], int]:
    """Each call's result or exception, and the number of transactions it took.

    All calls share one transaction; when one raises, everything was rolled back and each call
    runs again on its own, so the one that failed (or the lock, or the disk) fails alone and the
    others are kept.
    """
    try:
        with store.shared_transaction():
            results = [action(*args, **kwargs) for action, args, kwargs in calls]
    except Exception as exc:
        if len(calls) == 1:
            return [(None, exc)], 1
        logger.info("store batch of %d calls failed (%s); one by one now", len(calls), exc)
        return [_alone(*call) for call in calls], 1 + len(calls)
    return [(value, None) for value in results], 1


def _alone(action: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    try:
        return action(*args, **kwargs), None
    except Exception as exc:
        return None, exc
