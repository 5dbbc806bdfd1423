"""Tell the health channels when a source starts failing or goes silent, and when it recovers.

Each change is announced once: the store remembers the problem last announced, and only a send
that every health channel accepted updates it, so a channel that is down hears of it next time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.config.schema import FeedSource, PageSource, Settings
from monitor.errors import DeliveryError, StoreError
from monitor.health import health_problem
from monitor.model import Alert
from monitor.notify import Notifier
from monitor.outbox import StoreCall
from monitor.store import SourceActivity, SourceState

if TYPE_CHECKING:
    from monitor.store import Store

logger = logging.getLogger(__name__)

HEALTH_RULE = "source-health"
#: how far back a source's usual rhythm of new items is measured
ACTIVITY_WINDOW = timedelta(days=30)


def source_url(source: FeedSource | PageSource) -> str:
    return source.feed if isinstance(source, FeedSource) else source.page


def health_alert(
    source: FeedSource | PageSource,
    state: SourceState,
    activity: SourceActivity | None,
    problem: str | None,
    now: datetime,
) -> Alert:
    """The message for one change of a source's health (pure)."""
    name = source.name
    if problem == "failing":
        since = state.failing_since or now
        title = f"Source {name} is failing: {state.last_error or 'no answer'}"
        summary = (
            f"{state.consecutive_failures} failed fetches in a row since "
            f"{since.isoformat(timespec='minutes')}; it is still being retried."
        )
        severity, moment = "warning", since
    elif problem == "silent":
        last = activity.last_at if activity and activity.last_at else now
        title = f"Source {name} is silent: no new item since {last.isoformat(timespec='minutes')}"
        summary = "The source answers, but has published nothing new for much longer than usual."
        severity, moment = "warning", last
    else:
        title = f"Source {name} has recovered ({state.health_alert or 'problem'} no more)"
        summary = "The source answers and has new items again."
        severity, moment = "info", now
    digest = hashlib.sha256(
        f"{HEALTH_RULE}\x00{name}\x00{problem or 'recovered'}\x00{moment.isoformat()}".encode()
    ).hexdigest()[:32]
    return Alert(
        key=digest,
        rule=HEALTH_RULE,
        title=title,
        url=source_url(source),
        source=name,
        published=now,
        summary=summary,
        severity=severity,
    )


async def announce_health(
    settings: Settings,
    store: Store,
    channels: Mapping[str, Notifier],
    now: datetime,
    *,
    stored: StoreCall = asyncio.to_thread,
) -> int:
    """Send the health changes found now; the number of changes announced. ``stored`` runs
    the store's methods (a pass's store process, say)."""
    targets = [channels[name] for name in settings.health.notify if name in channels]
    if not targets:
        return 0
    try:
        states = {s.name: s for s in await stored(store.all_source_states)}
        activity = await stored(store.source_activity, now - ACTIVITY_WINDOW)
    except StoreError as exc:
        logger.error("source health: %s", exc)
        return 0
    announced = 0
    for source in settings.sources:
        state = states.get(source.name, SourceState(name=source.name))
        problem = health_problem(settings, state, activity.get(source.name), now)
        if problem == state.health_alert:
            continue
        alert = health_alert(source, state, activity.get(source.name), problem, now)
        results = await asyncio.gather(
            *(_send(target, alert) for target in targets), return_exceptions=False
        )
        if not all(results):
            continue
        try:
            await stored(store.record_health_alert, source.name, problem=problem, at=now)
        except StoreError as exc:
            logger.error("source %s: cannot record its health alert: %s", source.name, exc)
            continue
        logger.warning("source %s: health alert sent: %s", source.name, alert.title)
        announced += 1
    return announced


async def _send(target: Notifier, alert: Alert) -> bool:
    try:
        await target.send(alert)
    except DeliveryError as exc:
        logger.warning("health alert to %s not delivered: %s", target.name, exc)
        return False
    except Exception:
        # One broken channel must not stop the other announcements.
        logger.exception("health alert to %s failed unexpectedly", target.name)
        return False
    return True
