"""What the store remembers about each source's health: announced problems, warnings, activity."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from monitor.store import rows, schema
from monitor.store.polls import PollRecords
from monitor.store.records import SourceActivity


class SourceHealthRecords(PollRecords):
    """Part of ``Store``; kept apart so that the store's main module stays about its core tables."""

    def record_health_alert(self, name: str, *, problem: str | None, at: datetime) -> None:
        """Remember which problem the health channels were told about; ``None`` once recovered."""
        values = {"health_alert": problem, "health_alert_at": rows.utc(at)}
        self._update_source("recording a health alert", name, values)

    def record_warning(self, name: str, *, warning: str | None, at: datetime | None) -> None:
        values = {"last_warning": warning, "last_warning_at": rows.utc_or_none(at)}
        self._update_source("recording a warning", name, values)

    def source_activity(self, since: datetime) -> dict[str, SourceActivity]:
        """Per source: items first seen since ``since`` (count, earliest) and the newest ever."""
        i = schema.items
        recent = rows.utc(since)
        query = select(
            i.c.source,
            func.count().filter(i.c.first_seen_at >= recent),
            func.min(i.c.first_seen_at).filter(i.c.first_seen_at >= recent),
            func.max(i.c.first_seen_at),
        ).group_by(i.c.source)
        with self._transaction("reading source activity") as conn:
            found = conn.execute(query).all()
        return {
            source: SourceActivity(
                count=int(count or 0),
                first_at=rows.utc_or_none(first),
                last_at=rows.utc_or_none(last),
            )
            for source, count, first, last in found
        }
