"""Silences: alerts muted for a while without editing rules, still recorded when they match.

``monitor silence add --rule R --match "Apple" --for 7d`` mutes the alerts of rule R whose
headline, summary, source or link holds "Apple" (a term of the rule language: whole words, any
case or accent, lower-case words with their forms) until the silence ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.match.terms import LazyPattern, TermError, compile_term
from monitor.match.text import fold
from monitor.model import Alert


@dataclass(frozen=True, kw_only=True)
class Silence:
    id: int
    #: None mutes every rule
    rule: str | None
    match: str
    comment: str
    created_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.created_at <= now < self.ends_at

    def summary(self) -> str:
        scope = f"rule {self.rule}" if self.rule else "every rule"
        return f"({scope}, {self.match!r}, until {self.ends_at:%Y-%m-%d %H:%M} UTC)"

    def describe(self) -> str:
        return f"silenced by #{self.id} {self.summary()}"


def match_pattern(match: str) -> LazyPattern:
    """The term of a silence, compiled as rules compile theirs; ValueError names what is wrong."""
    try:
        return compile_term(match).pattern
    except TermError as exc:
        raise ValueError(f"--match {match!r}: {exc}") from exc


def silencing(silences: list[Silence], alert: Alert, now: datetime) -> Silence | None:
    """The first active silence that mutes ``alert``, if any."""
    text = fold("\n".join((alert.title, alert.summary, alert.source, alert.url)))
    for silence in silences:
        if not silence.active(now) or (silence.rule and silence.rule != alert.rule):
            continue
        if match_pattern(silence.match).search(text):
            return silence
    return None
