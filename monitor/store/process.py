"""Group commit in a process of its own, for passes over many feeds.

A pass over thousands of feeds keeps the event loop busy with HTTP and the store busy with
SQLAlchemy; in one process they take turns on one interpreter lock. Here the store's calls run
in a child process with its own connection, many to a transaction as in batching.py, and the
monitor only sends the arguments and reads the results. The child opens the same database, so
the monitor's other store calls (deliveries, health) run beside it as another process's would.
A child that dies fails the calls in its hands and every later one with a StoreError.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from monitor import forkserver
from monitor.errors import StoreError
from monitor.store.batching import MAX_BATCH, run_batch, take_batch
from monitor.store.repository import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
Request = tuple[int, str, tuple[Any, ...], dict[str, Any]]


def _serve(location: str, base_dir: Path | None, connection: Connection) -> None:
    try:
        store = Store.open(location, base_dir=base_dir)
    except Exception as exc:
        # said before going, so that the monitor's error names the cause, not only the exit
        with contextlib.suppress(OSError, ValueError):
            connection.send([(None, None, StoreError(f"cannot open the store: {exc}"))])
        return
    try:
        while True:
            try:
                first: list[Request] | None = connection.recv()
            except EOFError:  # the monitor is gone
                return
            if first is None:
                return
            batch, stop = list(first), False
            while len(batch) < MAX_BATCH and connection.poll(0):
                more: list[Request] | None = connection.recv()
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            outcomes, _ = run_batch(
                store, [(getattr(store, name), args, kwargs) for _, name, args, kwargs in batch]
            )
            connection.send(
                [
                    (call_id, value, error)
                    for (call_id, *_), (value, error) in zip(batch, outcomes, strict=True)
                ]
            )
            if stop:
                return
    finally:
        store.close()


class StoreProcess:
    """The store's calls, run in a child process many to a transaction."""

    def __init__(self, store: Store, location: str, base_dir: Path | None) -> None:
        self.store = store
        context = forkserver.context()
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(location, base_dir, child), name="store-writer", daemon=True
        )
        # Sending from a thread: a send that waits for the child to read must never hold up
        # the event loop, which is the one reading the child's answers. The thread starts the
        # child too, as starting the forkserver takes a moment the monitor need not wait for.
        self._outbox: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._sender = threading.Thread(
            target=self._send, args=(child,), name="store-sender", daemon=True
        )
        self._sender.start()
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: str | None = None

    async def call(self, action: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``action(*args, **kwargs)``, a method of the store, once its batch has committed."""
        if self._failed is not None:
            raise StoreError(f"state database {self.store.display}: {self._failed}")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            loop.add_reader(self._connection.fileno(), self._receive)
        call_id = next(self._ids)
        answer: asyncio.Future[T] = loop.create_future()
        self._pending[call_id] = answer
        self._outbox.put((call_id, action.__name__, args, kwargs))
        return await answer

    def _send(self, child: Connection) -> None:
        try:
            self._process.start()
        except Exception as exc:  # no process: the reader sees the pipe close and fails calls
            logger.error("cannot start the store process: %s", exc)
            self._connection.close()
            return
        finally:
            child.close()
        while (request := self._outbox.get()) is not None:
            # what queued up meanwhile goes in the same message: one pickle and one write
            requests, stopping = take_batch(self._outbox, request)
            try:
                self._connection.send(requests)
            except (OSError, ValueError):
                return  # the child is gone; _receive fails what is pending
            if stopping:
                return

    def _receive(self) -> None:
        try:
            while self._connection.poll(0):
                for call_id, value, error in self._connection.recv():
                    if call_id is None:  # the child could not start; it says why
                        self._fail(f"the store process stopped: {error}")
                        return
                    answer = self._pending.pop(call_id, None)
                    if answer is None or answer.done():
                        continue
                    if error is not None:
                        answer.set_exception(error)
                    else:
                        answer.set_result(value)
        except (EOFError, OSError):
            self._fail("the store process stopped")

    def _fail(self, reason: str) -> None:
        self._failed = reason
        if self._loop is not None:
            with contextlib.suppress(OSError, ValueError):  # the pipe may be closed already
                self._loop.remove_reader(self._connection.fileno())
        logger.error("state database %s: %s", self.store.display, reason)
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(StoreError(f"state database {self.store.display}: {reason}"))
        self._pending.clear()

    async def aclose(self) -> None:
        """Finish the calls already sent, then stop the child."""
        if self._loop is not None and self._failed is None:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(self._connection.fileno())
        await asyncio.to_thread(self._stop)
        self._failed = "closed, the call was not run"

    def _stop(self) -> None:
        self._outbox.put(None)
        self._sender.join()
        if self._failed is None:
            with contextlib.suppress(OSError, ValueError):
                self._connection.send(None)
        self._process.join(timeout=60)
        self._connection.close()
