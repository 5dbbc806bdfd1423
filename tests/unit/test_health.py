from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config.schema import Settings
from monitor.health import health_problem, render_table, source_health
from monitor.health_alerts import health_alert
from monitor.store import SourceState
from monitor.store.source_health import SourceActivity

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


HEALTH = Settings.model_validate(
    {
        "sources": [{"name": "s", "feed": "https://e.org/1"}],
        "health": {"failing_after": "1h", "silent_factor": 10, "silent_after": "2d"},
    }
)


def _activity(count: int, first_days_ago: float, last_days_ago: float) -> SourceActivity:
    return SourceActivity(
        count=count,
        first_at=NOW - timedelta(days=first_days_ago),
        last_at=NOW - timedelta(days=last_days_ago),
    )


def test_a_source_is_failing_only_once_it_has_failed_for_the_threshold() -> None:
    def failing_for(minutes: int) -> SourceState:
        return SourceState(
            name="s",
            consecutive_failures=3,
            failing_since=NOW - timedelta(minutes=minutes),
            last_success_at=NOW - timedelta(days=1),
        )

    assert health_problem(HEALTH, failing_for(59), None, NOW) is None
    assert health_problem(HEALTH, failing_for(60), None, NOW) == "failing"


def test_silence_is_measured_against_the_source_s_usual_rhythm() -> None:
    answering = SourceState(name="s", last_success_at=NOW - timedelta(minutes=5))
    # about 10 new items a day over 30 days: three quiet days is far beyond its rhythm
    assert health_problem(HEALTH, answering, _activity(300, 30, 3), NOW) == "silent"
    # one item every 3 days: three quiet days is normal for it
    assert health_problem(HEALTH, answering, _activity(10, 30, 3), NOW) is None
    # never before silent_after, however busy the source usually is
    assert health_problem(HEALTH, answering, _activity(3000, 30, 1.5), NOW) is None
    # nothing new in the whole window
    assert health_problem(HEALTH, answering, _activity(0, 30, 40), NOW) == "silent"


def test_no_problem_is_reported_for_a_source_without_history() -> None:
    assert health_problem(HEALTH, SourceState(name="s"), None, NOW) is None
    never_answered = SourceState(name="s")
    assert health_problem(HEALTH, never_answered, _activity(5, 30, 10), NOW) is None


def test_the_health_alert_names_the_source_its_problem_and_recovery() -> None:
    source = HEALTH.sources[0]
    failing = SourceState(
        name="s",
        consecutive_failures=4,
        failing_since=NOW - timedelta(hours=2),
        last_error="source 's': http_status: HTTP 404 from https://e.org/1",
    )
    alert = health_alert(source, failing, None, "failing", NOW)
    assert alert.rule == "source-health"
    assert alert.source == "s"
    assert alert.url == "https://e.org/1"
    assert "failing" in alert.title
    assert "HTTP 404" in alert.title
    assert alert.severity == "warning"
    again = health_alert(source, failing, None, "failing", NOW + timedelta(minutes=5))
    assert again.key == alert.key  # the same episode: a receiver can drop a repeat
    recovered = health_alert(source, SourceState(name="s", health_alert="failing"), None, None, NOW)
    assert "recovered" in recovered.title
    assert recovered.key != alert.key
    assert recovered.severity == "info"


def test_the_table_shows_a_warning_of_a_source_that_is_not_failing() -> None:
    warned = SourceState(
        name="good",
        last_success_at=NOW - timedelta(minutes=3),
        last_warning="feed is malformed, 3 items recovered: mismatched tag",
    )
    rows = {r.name: r for r in source_health(SETTINGS, [warned], {}, NOW)}
    assert rows["good"].status == "ok"
    assert "warning: feed is malformed" in render_table([rows["good"]], NOW)
