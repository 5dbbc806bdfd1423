"""The retry schedule of failed deliveries: doubling, jittered, capped, never before Retry-After."""

from __future__ import annotations

from monitor.outbox import FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, retry_delay


def test_delays_double_with_bounded_jitter_and_stop_at_the_cap() -> None:
    for attempts in range(1, 8):
        base = FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
        delays = [retry_delay(attempts) for _ in range(50)]
        assert all(base <= d <= base + FIRST_RETRY_SECONDS for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert retry_delay(40) == MAX_RETRY_SECONDS


def test_retry_after_is_a_floor() -> None:
    assert retry_delay(1, retry_after=120) == 120
    assert retry_delay(12, retry_after=5) >= 5
