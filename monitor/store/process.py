"""Group commit in a process of its own, for passes over many feeds.

A pass over thousands of feeds keeps the event loop busy with HTTP and the store busy with
SQLAlchemy; in one process they take turns on one interpreter lock. Here the store's calls run
in a child process with its own connection, many to a transaction as in batching.py, and the
monitor only sends the arguments and reads the results, both from its event loop: the calls of
one turn of the loop go in one message, written without waiting (what the pipe cannot take yet
is written when it can). The child opens (and migrates) the database itself, and the pass's
other store calls (its states, deliveries, health) go to it too: the monitor's process never
imports SQLAlchemy, a fifth of a second before its first fetch. A child that cannot open the
database fails every call with the store's own error; one that dies fails the calls in its
hands and every later one with a StoreError.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import struct
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from monitor import forkserver
from monitor.errors import StoreError, without_password
from monitor.store.batching import CLOSED, MAX_BATCH, run_batch

if TYPE_CHECKING:
    from monitor.store.repository import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
Request = tuple[int, str, tuple[Any, ...], dict[str, Any]]


def _serve(location: str, base_dir: Path | None, requests: Connection, answers: Connection) -> None:
    from monitor.store.repository import Store  # preloaded by the forkserver

    try:
        store = Store.open(location, base_dir=base_dir)
    except Exception as exc:
        # said before going, so that the monitor's error names the cause, not only the exit
        error = exc if isinstance(exc, StoreError) else StoreError(f"cannot open the store: {exc}")
        with contextlib.suppress(OSError, ValueError):
            answers.send([(None, None, error)])
        return
    try:
        # first of all answers: how messages name the database
        answers.send([(None, store.display, None)])
        while True:
            try:
                first: list[Request] | None = requests.recv()
            except EOFError:  # the monitor is gone
                return
            if first is None:
                return
            batch, stop = list(first), False
            while len(batch) < MAX_BATCH and requests.poll(0):
                more: list[Request] | None = requests.recv()
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            outcomes, _ = run_batch(
                store, [(getattr(store, name), args, kwargs) for _, name, args, kwargs in batch]
            )
            answers.send(
                [
                    (call_id, value, error)
                    for (call_id, *_), (value, error) in zip(batch, outcomes, strict=True)
                ]
            )
            if stop:
                return
    finally:
        # The monitor's own connection closes last, and closing copies what the write-ahead
        # log still holds into the database: a pass's worth, a tenth of a second. Copied here,
        # as the pass ends, it overlaps the deliveries that follow.
        try:
            store.checkpoint()
        except StoreError as exc:
            logger.info("%s", exc)
        store.close()


def _framed(message: object) -> bytes:
    """``message`` as ``Connection.recv`` reads it: its pickle, after its length."""
    payload = ForkingPickler.dumps(message)
    return struct.pack("!i", len(payload)) + bytes(payload)


class StoreProcess:
    """The store's calls, run in a child process many to a transaction."""

    def __init__(self, location: str, base_dir: Path | None) -> None:
        #: how messages name the database; the child's own name for it once it has opened it
        self.display = without_password(location)
        context = forkserver.context()
        child_requests, self._requests = context.Pipe(duplex=False)
        self._answers, child_answers = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(location, base_dir, child_requests, child_answers),
            name="store-writer",
            daemon=True,
        )
        # The calls are written by the event loop, never waiting: what the pipe cannot take
        # yet waits in ``_unwritten`` until the child reads.
        os.set_blocking(self._requests.fileno(), False)
        self._unsent: list[Request] = []
        #: the stop mark is to follow the calls still unsent
        self._stopping = False
        self._unwritten = bytearray()
        self._writing = False
        self._written: asyncio.Event | None = None
        # Started from a thread: starting waits for the forkserver, which may still be
        # importing; the calls meanwhile wait in the pipe.
        self._starter = threading.Thread(
            target=self._start, args=(child_requests, child_answers), name="store-starter"
        )
        self._starter.start()
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: the error every call gets, once the child cannot answer any more
        self._failed: str | None = None

    @property
    def store(self) -> Store:
        """The store, to name its methods by: ``call(process.store.commit_poll, ...)``."""
        return cast("Store", StoreByName(self))

    def _start(self, *child_ends: Connection) -> None:
        try:
            self._process.start()
        except Exception as exc:  # no process: the reader sees the pipe close and fails calls
            logger.error("cannot start the store process: %s", exc)
        finally:
            for end in child_ends:
                end.close()

    async def call(self, action: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``action(*args, **kwargs)``, a method of the store, once its batch has committed."""
        if self._failed is not None or self._stop_asked:
            raise StoreError(self._failed or self._closed())
        loop = self._bind()
        call_id = next(self._ids)
        answer: asyncio.Future[T] = loop.create_future()
        self._pending[call_id] = answer
        self._queue((call_id, action.__name__, args, kwargs))
        return await answer

    def _bind(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._answers.fileno(), self._receive)
        return self._loop

    def _queue(self, request: Request) -> None:
        # what is asked in one turn of the loop goes in one message: one pickle, one write
        self._wake_writer()
        self._unsent.append(request)

    def _wake_writer(self) -> None:
        if not self._unsent and not self._unwritten:
            assert self._loop is not None
            self._loop.call_soon(self._write)

    def _write(self) -> None:
        if not self._unwritten:
            if self._unsent:
                self._unwritten += _framed(self._unsent)
                self._unsent = []
            if self._stopping:
                self._unwritten += _framed(None)
                self._stopping = False
        try:
            while self._unwritten:
                written = os.write(self._requests.fileno(), self._unwritten)
                del self._unwritten[:written]
        except BlockingIOError:
            pass
        except OSError:  # the child is gone; _receive fails what is pending
            self._unwritten.clear()
            self._unsent.clear()
            self._stopping = False
        self._watch_writes(bool(self._unwritten or self._unsent or self._stopping))

    def _watch_writes(self, more: bool) -> None:
        assert self._loop is not None
        if more and not self._writing:
            self._loop.add_writer(self._requests.fileno(), self._write)
        elif not more and self._writing:
            self._loop.remove_writer(self._requests.fileno())
        self._writing = more
        if not more and self._written is not None:
            self._written.set()

    def _receive(self) -> None:
        try:
            while self._answers.poll(0):
                for call_id, value, error in self._answers.recv():
                    if call_id is None and error is None:  # the child opened the database
                        self.display = value
                        continue
                    if call_id is None:  # the child could not open it; its error says why
                        self._fail(str(error), log=False)  # the callers report it
                        return
                    answer = self._pending.pop(call_id, None)
                    if answer is None or answer.done():
                        continue
                    if error is not None:
                        answer.set_exception(error)
                    else:
                        answer.set_result(value)
        except (EOFError, OSError):
            if self._stop_asked and not self._pending:
                # told to stop (stop_soon), with every call answered: the end it was asked for
                self._loop_forgets_answers()
                self._failed = self._closed()
                return
            self._fail(f"state database {self.display}: the store process stopped")

    def _closed(self) -> str:
        return f"state database {self.display}: {CLOSED}"

    def _loop_forgets_answers(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(OSError, ValueError):  # the pipe may be closed already
                self._loop.remove_reader(self._answers.fileno())

    def _fail(self, message: str, *, log: bool = True) -> None:
        self._failed = message
        self._loop_forgets_answers()
        if log:
            logger.error("%s", message)
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(StoreError(message))
        self._pending.clear()

    @property
    def _stop_asked(self) -> bool:
        """Whether the stop mark is sent or queued (``stop_soon`` sets ``_written``)."""
        return self._written is not None

    def stop_soon(self) -> None:
        """Tell the child to stop once it has run the calls already made, without waiting:
        it finishes while the monitor goes on, and ``aclose`` then waits for it. Call it from
        the event loop when no more calls will come."""
        if self._failed is not None or self._stop_asked:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._wake_writer()
        self._stopping = True
        self._written = asyncio.Event()

    async def aclose(self) -> None:
        """Finish the calls already sent, then stop the child."""
        if self._failed is None:
            self._loop_forgets_answers()
            self.stop_soon()
            assert self._written is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    await self._written.wait()
        if self._loop is not None:
            self._watch_writes(False)
        await asyncio.to_thread(self._stop)
        self._failed = self._closed()

    def _stop(self) -> None:
        self._starter.join()
        self._process.join(timeout=60)
        self._requests.close()
        self._answers.close()


class StoreByName:
    """The store as the monitor's process sees it while a store process holds the database: its
    methods are names that ``StoreProcess.call`` sends to the child, which runs them. Called
    here, one says so instead."""

    def __init__(self, process: StoreProcess) -> None:
        self._process = process

    @property
    def display(self) -> str:
        return self._process.display

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def elsewhere(*args: Any, **kwargs: Any) -> Any:
            raise TypeError(f"Store.{name} runs in the store process: pass it to its call()")

        elsewhere.__name__ = name
        return elsewhere
