"""Worker processes driven from the event loop: a pipe per worker, read by the loop itself.

concurrent.futures' process pool hands every task and result through two threads and two
queues of the monitor's own; over a pass of a thousand feeds that is a fifth of a second of
the monitor's time, spent taking turns on its interpreter lock. Here a task is written to an
idle worker's pipe and its result read when the loop sees the pipe ready: no thread, one
pickle each way. A worker runs one task at a time, so a pipe never holds more than one message.

A worker that dies fails only the task it held (``WorkerDied``), and the next task starts a
new worker in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Task = tuple[Callable[..., Any], tuple[Any, ...]]


class WorkerDied(Exception):
    """The worker process running the task ended before answering."""


def _serve(
    connection: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]
) -> None:
    initializer(*initargs)
    while True:
        try:
            request: Task | None = connection.recv()
        except (EOFError, OSError):  # the monitor is gone
            return
        if request is None:
            return
        task, args = request
        try:
            outcome: tuple[bool, Any] = (True, task(*args))
        except Exception as exc:
            outcome = (False, exc)
        try:
            connection.send(outcome)
        except Exception as exc:  # a result or an error that cannot be pickled
            connection.send((False, RuntimeError(f"{task.__name__}: unsendable result: {exc!r}")))


class _Worker:
    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        #: the answer awaited from this worker, if it holds a task
        self.answer: asyncio.Future[Any] | None = None


class ProcessPool:
    """Up to ``size`` worker processes from ``context``, each started with
    ``initializer(*initargs)``; use from one event loop."""

    def __init__(
        self,
        size: int,
        *,
        context: ForkServerContext,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
    ) -> None:
        self._size = size
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._workers: list[_Worker] = []
        self._waiting: deque[tuple[Task, asyncio.Future[Any]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def run(self, task: Callable[..., T], *args: Any) -> T:
        """``task(*args)`` in a worker; raises what it raised, or WorkerDied."""
        if self._closed:
            raise RuntimeError("the worker processes are closed")
        loop = asyncio.get_running_loop()
        self._loop = loop
        answer: asyncio.Future[T] = loop.create_future()
        self._waiting.append(((task, args), answer))
        self._dispatch()
        return await answer

    def _dispatch(self) -> None:
        while self._waiting:
            worker = next((w for w in self._workers if w.answer is None), None)
            if worker is None:
                if len(self._workers) >= self._size:
                    return
                worker = self._start()
            request, answer = self._waiting.popleft()
            if answer.done():  # its caller gave up waiting
                continue
            worker.answer = answer
            try:
                worker.connection.send(request)
            except (OSError, ValueError):
                self._lost(worker)
            except Exception as exc:  # arguments that cannot be pickled
                worker.answer = None
                answer.set_exception(exc)

    def _start(self) -> _Worker:
        assert self._loop is not None
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(theirs, self._initializer, self._initargs),
            name="monitor-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        self._loop.add_reader(ours.fileno(), self._receive, worker)
        return worker

    def _receive(self, worker: _Worker) -> None:
        try:
            succeeded, value = worker.connection.recv()
        except (EOFError, OSError):
            self._lost(worker)
            self._dispatch()
            return
        answer, worker.answer = worker.answer, None
        if answer is not None and not answer.done():
            if succeeded:
                answer.set_result(value)
            else:
                answer.set_exception(value)
        self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        """A worker that ended: its task fails, and a new worker takes its place when needed."""
        self._forget(worker)
        worker.process.join(timeout=1)
        logger.warning("a worker process ended (exit code %s)", worker.process.exitcode)
        answer, worker.answer = worker.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(WorkerDied(f"worker exit code {worker.process.exitcode}"))

    def _forget(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self._loop.remove_reader(worker.connection.fileno())
        worker.connection.close()

    async def aclose(self) -> None:
        """Let the tasks already given finish, then stop the workers."""
        self._closed = True
        pending = [a for _, a in self._waiting] + [
            w.answer for w in self._workers if w.answer is not None
        ]
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.to_thread(self._join, self._stop_all())

    def close(self) -> None:
        """Stop the workers now; for a caller outside the event loop, once it has ended."""
        self._join(self._stop_all())

    def _stop_all(self) -> list[_Worker]:
        """Tell every worker to stop, and forget it: the workers, to join."""
        self._closed = True
        workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.connection.send(None)
            self._forget(worker)
        return workers

    @staticmethod
    def _join(workers: list[_Worker]) -> None:
        for worker in workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
