from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config.schema import Settings
from monitor.health import render_table, source_health
from monitor.store import SourceState

NOW = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
SETTINGS = Settings.model_validate(
    {
        "sources": [
            {"name": "good", "feed": "https://e.org/1", "every": "10m"},
            {"name": "broken", "feed": "https://e.org/2"},
            {"name": "quiet", "feed": "https://e.org/3", "every": "10m"},
            {"name": "new", "feed": "https://e.org/4"},
        ]
    }
)
STATES = [
    SourceState(name="good", last_success_at=NOW - timedelta(minutes=3), fetched_once=True),
    SourceState(
        name="broken",
        last_success_at=NOW - timedelta(days=2),
        last_error="source 'broken': http_status: HTTP 503",
        last_error_at=NOW - timedelta(minutes=1),
        failing_since=NOW - timedelta(hours=5),
        consecutive_failures=7,
        next_poll_at=NOW + timedelta(hours=2),
    ),
    SourceState(name="quiet", last_success_at=NOW - timedelta(hours=3)),
    SourceState(name="removed-from-config", last_success_at=NOW),
]


def test_status_of_each_configured_source() -> None:
    rows = {r.name: r for r in source_health(SETTINGS, STATES, {"good": 12}, NOW)}
    assert set(rows) == {"good", "broken", "quiet", "new"}
    assert rows["good"].status == "ok"
    assert rows["good"].items_last_day == 12
    assert rows["good"].next_poll_at == NOW + timedelta(minutes=7)
    assert rows["broken"].status == "failing"
    assert rows["broken"].failing_since == NOW - timedelta(hours=5)
    assert rows["broken"].last_error == "source 'broken': http_status: HTTP 503"
    assert rows["quiet"].status == "stale"
    assert rows["new"].status == "never polled"


def test_table_is_aligned_and_readable() -> None:
    table = render_table(source_health(SETTINGS, STATES, {"good": 12}, NOW), NOW)
    lines = table.splitlines()
    assert lines[0].startswith("SOURCE")
    broken = next(line for line in lines if line.startswith("broken"))
    assert "failing" in broken
    assert "5h ago" in broken
    assert "in 2h" in broken
    assert broken.endswith("HTTP 503")
    column = lines[0].index("STATUS")
    assert [line[column:].split()[0] for line in lines[1:]] == ["ok", "failing", "stale", "never"]
