"""Stored items read back for replaying a rule: each with whether that rule alerted on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select

from monitor.model import Item
from monitor.store import rows, schema
from monitor.store.part import StorePart


class ItemHistory(StorePart):
    """Part of ``Store``; the queries of ``monitor test-rule --history``."""

    def items_with_alerts(
        self, *, since: datetime, rule: str, limit: int = 100_000
    ) -> list[tuple[Item, bool]]:
        """Items first seen since ``since``, oldest first, each with whether ``rule`` alerted."""
        i, a = schema.items, schema.alerts
        query = (
            select(i, a.c.id.label("alert_id"))
            .select_from(i.outerjoin(a, and_(a.c.item_id == i.c.id, a.c.rule == rule)))
            .where(i.c.first_seen_at >= rows.utc(since))
            .order_by(i.c.first_seen_at.desc(), i.c.id.desc())
            .limit(limit)
        )
        with self._transaction("reading stored items") as conn:
            found = conn.execute(query).all()
        return [
            (rows.item_from_row(r._mapping), r._mapping["alert_id"] is not None)
            for r in reversed(found)
        ]
