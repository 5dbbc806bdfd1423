"""Source health as rows for `monitor sources`: the store's state joined with the config (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config.schema import FeedSource, PageSource, Settings
from monitor.store import SourceActivity, SourceState
from monitor.tables import relative_time, render_columns


@dataclass(frozen=True, kw_only=True)
class SourceHealth:
    name: str
    status: str
    last_success_at: datetime | None
    last_error: str | None
    failing_since: datetime | None
    consecutive_failures: int
    items_last_day: int
    next_poll_at: datetime | None
    #: the last good fetch: the server's answer and its parse, in milliseconds
    fetch_ms: int | None = None
    parse_ms: int | None = None


def source_health(
    settings: Settings,
    states: Sequence[SourceState],
    items_last_day: Mapping[str, int],
    now: datetime,
) -> list[SourceHealth]:
    by_name = {state.name: state for state in states}
    rows = []
    for source in settings.sources:
        state = by_name.get(source.name, SourceState(name=source.name))
        rows.append(_health(settings, source, state, items_last_day.get(source.name, 0), now))
    return rows


def _health(
    settings: Settings,
    source: FeedSource | PageSource,
    state: SourceState,
    items: int,
    now: datetime,
) -> SourceHealth:
    every = settings.every(source)
    if state.consecutive_failures:
        status = "failing"
    elif state.last_success_at is None:
        status = "never polled"
    elif now - state.last_success_at > max(every * 3, timedelta(hours=1)):
        status = "stale"
    else:
        status = "ok"
    next_poll = state.next_poll_at
    if next_poll is None and state.last_success_at is not None:
        next_poll = max(state.last_success_at, state.last_error_at or state.last_success_at) + every
    return SourceHealth(
        name=source.name,
        status=status,
        last_success_at=state.last_success_at,
        last_error=state.last_error
        if state.consecutive_failures
        else f"warning: {state.last_warning}"
        if state.last_warning
        else None,
        failing_since=state.failing_since,
        consecutive_failures=state.consecutive_failures,
        items_last_day=items,
        next_poll_at=next_poll,
        fetch_ms=state.fetch_ms,
        parse_ms=state.parse_ms,
    )


def health_problem(
    settings: Settings,
    state: SourceState,
    activity: SourceActivity | None,
    now: datetime,
) -> str | None:
    """``failing`` or ``silent`` when a source's trouble is worth an alert, else None.

    Failing: every fetch has failed for ``failing_after``. Silent: the source answers, but its
    newest item is older than ``silent_factor`` times its usual gap between new items (over the
    activity window), and than ``silent_after`` in any case.
    """
    health = settings.health
    if state.consecutive_failures and state.failing_since is not None:
        return "failing" if now - state.failing_since >= health.failing_after else None
    if activity is None or activity.last_at is None or state.last_success_at is None:
        return None
    quiet = now - activity.last_at
    if quiet < health.silent_after:
        return None
    if activity.count and activity.first_at is not None:
        usual_gap = (now - activity.first_at) / activity.count
        if quiet < usual_gap * health.silent_factor:
            return None
    return "silent"


def render_table(rows: Sequence[SourceHealth], now: datetime) -> str:
    header = (
        "SOURCE",
        "STATUS",
        "LAST SUCCESS",
        "FAILING SINCE",
        "FAILURES",
        "ITEMS/24H",
        "FETCH",
        "PARSE",
        "NEXT POLL",
        "LAST ERROR",
    )
    return render_columns(
        header,
        [
            (
                row.name,
                row.status,
                relative_time(row.last_success_at, now),
                relative_time(row.failing_since, now),
                str(row.consecutive_failures),
                str(row.items_last_day),
                _milliseconds(row.fetch_ms),
                _milliseconds(row.parse_ms),
                relative_time(row.next_poll_at, now),
                (row.last_error or "")[:120],
            )
            for row in rows
        ],
    )


def _milliseconds(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"
