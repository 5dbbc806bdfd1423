"""Which planned alerts are recorded but not sent: muted by a silence, or a story told already.

The silences and the alerts of the last ``repeat_interval`` are read from the store once and
kept for ``HOLD_STATE_TTL``: a pass over thousands of feeds would otherwise read them again for
every feed with an alert. Decisions update the kept list at once, so that two feeds telling one
story in the same pass see each other's alert before either is committed; the caller takes an
alert back out with ``forget`` when committing it failed.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.model import KeyedItem, Outgoing
from monitor.silences import Silence, silencing
from monitor.stories import earlier_telling

logger = logging.getLogger(__name__)

Planned = list[tuple[KeyedItem, list[Outgoing]]]
Told = dict[str, list[tuple[str, str]]]

#: how long the silences and recent alerts read from the store are trusted; a silence added
#: with `monitor silence add` takes effect in a running daemon within this long
HOLD_STATE_TTL = 10.0


@dataclass
class HoldState:
    silences: list[Silence]
    #: rule -> (alert key, title) of the alerts within repeat_interval, oldest first
    told: Told = field(default_factory=lambda: defaultdict(list))
    loaded_at: float = field(default_factory=time.monotonic)

    def fresh(self) -> bool:
        return time.monotonic() - self.loaded_at < HOLD_STATE_TTL


async def load_hold_state(
    silences: Callable[[datetime], Awaitable[list[Silence]]],
    alerts_since: Callable[[datetime], Awaitable[list[tuple[str, str, str]]]],
    now: datetime,
    repeat: timedelta,
) -> HoldState:
    state = HoldState(silences=await silences(now))
    if repeat:
        for rule, key, title in await alerts_since(now - repeat):
            state.told[rule].append((key, title))
    return state


def hold_back(
    state: HoldState, planned: Planned, now: datetime, *, repeat: bool
) -> tuple[Planned, list[tuple[str, tuple[str, str]]]]:
    """The planned alerts with the held ones marked, and what was added to ``state.told``."""
    held: Planned = []
    added: list[tuple[str, tuple[str, str]]] = []
    for entry, outgoing in planned:
        marked = []
        for out in outgoing:
            reason = _hold_reason(out, state.silences, state.told if repeat else None, now)
            if reason:
                logger.info("alert %s (%s) not sent: %s", out.alert.key, out.alert.rule, reason)
                out = replace(out, held=reason)
            if repeat:
                told = (out.alert.key, out.alert.title)
                state.told[out.alert.rule].append(told)
                added.append((out.alert.rule, told))
            marked.append(out)
        held.append((entry, marked))
    return held, added


def forget(state: HoldState, added: list[tuple[str, tuple[str, str]]]) -> None:
    """Take back alerts whose commit failed: they were never told."""
    for rule, told in added:
        if told in state.told.get(rule, []):
            state.told[rule].remove(told)


def _hold_reason(
    out: Outgoing,
    silences: list[Silence],
    told: Mapping[str, list[tuple[str, str]]] | None,
    now: datetime,
) -> str:
    silence = silencing(silences, out.alert, now)
    if silence is not None:
        return silence.describe()
    if told is not None:
        earlier = earlier_telling(out.alert.title, told.get(out.alert.rule, []))
        if earlier is not None:
            return f"repeat of alert {earlier}, the same story within repeat_interval"
    return ""
