"""Plain-text tables for the commands that list things (sources, alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def relative_time(value: datetime | None, now: datetime) -> str:
    """``5m ago``, ``in 2h``; ``-`` for no time at all."""
    if value is None:
        return "-"
    seconds = int((value - now).total_seconds())
    magnitude = abs(seconds)
    if magnitude < 90:
        text = f"{magnitude}s"
    elif magnitude < 5400:
        text = f"{magnitude // 60}m"
    elif magnitude < 172800:
        text = f"{magnitude // 3600}h"
    else:
        text = f"{magnitude // 86400}d"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def render_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last one, free text, is not padded."""
    lines = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        (
            "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
            + "  "
            + line[-1]
        ).rstrip()
        for line in lines
    )
