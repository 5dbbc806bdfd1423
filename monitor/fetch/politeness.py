"""Per-host politeness: a few requests at once to one host, and a pause between their starts.

A monitor that polls many feeds of one publisher must not look like a flood to it. The limit is
keyed by scheme, host and port, the unit a server operator sees; the global cap on requests in
flight stays in the fetcher.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

HostKey = tuple[str, str | None, int | None]
_SWEEP_AT = 1024


@dataclass
class _Host:
    slots: asyncio.Semaphore
    #: held while a request waits out the spacing, so starts are spaced one by one
    pacing: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float = float("-inf")
    users: int = 0


class HostLimiter:
    def __init__(self, *, concurrency: int, spacing: float) -> None:
        if concurrency < 1:
            raise ValueError("per-host concurrency must be at least 1")
        self.concurrency = concurrency
        self.spacing = max(0.0, spacing)
        self._hosts: dict[HostKey, _Host] = {}

    def slot(self, host: HostKey) -> _Slot:
        """``async with`` it around a request to ``host``."""
        return _Slot(self, host)

    async def _enter(self, host: HostKey) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= _SWEEP_AT:
                self._forget_idle()
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.concurrency))
        state.users += 1
        try:
            await state.slots.acquire()
        except BaseException:
            self._leave(host, state, acquired=False)
            raise
        try:
            if self.spacing:
                async with state.pacing:
                    wait = state.last_start + self.spacing - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    state.last_start = time.monotonic()
        except BaseException:
            self._leave(host, state, acquired=True)
            raise
        return state

    def _leave(self, host: HostKey, state: _Host, *, acquired: bool) -> None:
        if acquired:
            state.slots.release()
        state.users -= 1
        # Forget idle hosts whose spacing has passed, so memory does not grow with every
        # host ever seen (links found in content reach many).
        if state.users == 0 and time.monotonic() - state.last_start >= self.spacing:
            self._hosts.pop(host, None)

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for key, state in list(self._hosts.items()):
            if state.users == 0 and now - state.last_start >= self.spacing:
                del self._hosts[key]

    @property
    def hosts_tracked(self) -> int:
        return len(self._hosts)


class _Slot:
    """One request's turn at a host; a class rather than a generator, as it wraps every
    request and a generator-based context manager costs several times as much."""

    __slots__ = ("_host", "_limiter", "_state")

    def __init__(self, limiter: HostLimiter, host: HostKey) -> None:
        self._limiter = limiter
        self._host = host
        self._state: _Host | None = None

    async def __aenter__(self) -> None:
        self._state = await self._limiter._enter(self._host)

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._state is not None
        self._limiter._leave(self._host, self._state, acquired=True)
