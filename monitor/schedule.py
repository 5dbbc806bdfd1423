"""When to poll a source next: backoff after failures, server hints after successes (pure).

The daemon ticks each source every ``every``; a tick before the source's ``next_poll_at`` is
skipped. So a failing source backs off exponentially (``every``, 2x, 4x, ... capped at a day,
never abandoned), a server's ``Retry-After`` is honoured within [60 s, 24 h], and a feed's
``<ttl>`` or ``Cache-Control: max-age`` only ever stretches the interval, never shortens it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

MAX_DELAY = timedelta(days=1)
MIN_RETRY_AFTER = timedelta(seconds=60)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


def cache_hint(cache_control: str | None) -> timedelta | None:
    if not cache_control or "no-cache" in cache_control.lower():
        return None
    found = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(found.group(1))) if found else None


def after_success(
    now: datetime, every: timedelta, hints: list[timedelta | None]
) -> datetime | None:
    """A later next poll when a hint asks for more than ``every``; None keeps the schedule."""
    longest = max((h for h in hints if h is not None), default=None)
    if longest is None or longest <= every:
        return None
    return now + min(longest, MAX_DELAY)


def after_failure(
    now: datetime,
    every: timedelta,
    failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Exponential backoff from ``every``, jittered down so polls of many sources spread out."""
    exponent = min(max(failures - 1, 0), 20)
    backoff = min(every * 2**exponent, MAX_DELAY)
    delay: timedelta = backoff * (rng or random).uniform(0.75, 1.0)
    if retry_after is not None:
        hinted = min(max(timedelta(seconds=retry_after), MIN_RETRY_AFTER), MAX_DELAY)
        delay = max(delay, hinted)
    return now + delay


def is_due(now: datetime, next_poll_at: datetime | None, every: timedelta) -> bool:
    """Whether a tick at ``now`` should poll; ticks drift a little, so allow some slack."""
    if next_poll_at is None:
        return True
    slack = min(every * 0.1, timedelta(seconds=60))
    return now + slack >= next_poll_at


#: first polls a second, at most, when there are many sources
FIRST_ROUND_RATE = 20.0
#: a few sources all start within this long
FIRST_ROUND_MIN = timedelta(seconds=5)


def first_poll_offsets(everies: Sequence[timedelta]) -> list[timedelta]:
    """When each source is first polled after a start, given each one's interval.

    The first polls, and so every later round, are spread out: over a few seconds for a few
    sources, at ``FIRST_ROUND_RATE`` a second for many, and never over more than a source's own
    interval, so that thousands of sources do not all fall due in the same minute.
    """
    count = len(everies)
    spread = max(FIRST_ROUND_MIN, timedelta(seconds=count / FIRST_ROUND_RATE))
    return [min(every, spread) * index / count for index, every in enumerate(everies)]
