from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.schedule import MAX_DELAY, after_failure, after_success, cache_hint, is_due

NOW = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 7.5, 10), (2, 15, 20), (3, 30, 40), (5, 120, 160)],
    ids=["first", "second", "third", "fifth"],
)
def test_backoff_doubles_per_failure_with_downward_jitter(
    failures: int, low: float, high: float
) -> None:
    for seed in range(20):
        delay = after_failure(NOW, EVERY, failures, rng=random.Random(seed)) - NOW
        assert timedelta(minutes=low) <= delay <= timedelta(minutes=high)


def test_backoff_is_capped_at_a_day_and_never_parks_the_source() -> None:
    delay = after_failure(NOW, EVERY, 500, rng=random.Random(1)) - NOW
    assert timedelta(hours=18) <= delay <= MAX_DELAY


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(120, timedelta(seconds=120)), (5, timedelta(seconds=60)), (999_999_999, MAX_DELAY)],
    ids=["honoured", "clamped-up-to-a-minute", "clamped-down-to-a-day"],
)
def test_retry_after_is_honoured_within_bounds(retry_after: float, expected: timedelta) -> None:
    every = timedelta(seconds=30)
    assert after_failure(NOW, every, 1, retry_after, rng=random.Random(0)) - NOW == expected


def test_hints_only_ever_stretch_the_interval() -> None:
    assert after_success(NOW, EVERY, [timedelta(minutes=5)]) is None
    assert after_success(NOW, EVERY, [None, timedelta(hours=1)]) == NOW + timedelta(hours=1)
    assert after_success(NOW, EVERY, [timedelta(days=30)]) == NOW + MAX_DELAY
    assert after_success(NOW, EVERY, []) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("public, max-age=3600", timedelta(hours=1)),
        ("max-age=0", timedelta(0)),
        ("no-cache, max-age=3600", None),
        ("private", None),
        (None, None),
    ],
)
def test_cache_control_max_age(header: str | None, expected: timedelta | None) -> None:
    assert cache_hint(header) == expected


def test_ticks_slightly_early_still_count_as_due() -> None:
    assert is_due(NOW, None, EVERY)
    assert is_due(NOW, NOW + timedelta(seconds=30), EVERY)
    assert not is_due(NOW, NOW + timedelta(minutes=5), EVERY)
