"""Per-host politeness: a few requests at once to one host, and a pause between their starts.

A monitor that polls many feeds of one publisher must not look like a flood to it. The limit is
keyed by scheme, host and port, the unit a server operator sees; the global cap on requests in
flight stays in the fetcher.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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

    @asynccontextmanager
    async def slot(self, host: HostKey) -> AsyncIterator[None]:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= _SWEEP_AT:
                self._forget_idle()
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.concurrency))
        state.users += 1
        try:
            async with state.slots:
                if self.spacing:
                    async with state.pacing:
                        wait = state.last_start + self.spacing - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                        state.last_start = time.monotonic()
                yield
        finally:
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
