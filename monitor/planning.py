"""New items -> the alerts they cause (pure), and what reading a feed yields for a pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from monitor.match import Rule, RuleSet
from monitor.match.prefilter import rule_set_for
from monitor.model import Alert, KeyedItem, Outgoing, PackedItems, Planned, at_least


class TakesSeverity(Protocol):
    """What planning asks of a channel: a channel's settings, or its ``MinimumSeverity``."""

    def accepts(self, severity: str) -> bool: ...


@dataclass(frozen=True)
class MinimumSeverity:
    """A channel's ``min_severity`` alone: what the parsing workers are sent of a channel, so
    that they never import the settings' models."""

    minimum: str

    def accepts(self, severity: str) -> bool:
        return at_least(severity, self.minimum)


def plan_alerts(
    rules: Sequence[Rule] | RuleSet,
    batch: Sequence[KeyedItem],
    channels: Mapping[str, TakesSeverity] | None = None,
) -> Planned:
    """Match new items against every rule: each item with the alerts it causes (pure).

    A channel whose ``min_severity`` is above the rule's severity is left out of its alerts.
    """
    rule_set = rules if isinstance(rules, RuleSet) else rule_set_for(rules)
    planned = []
    for entry in batch:
        outgoing = []
        for rule, match in rule_set.matches(entry.item):
            wanted = tuple(
                name
                for name in rule.notify
                if channels is None or name not in channels or channels[name].accepts(rule.severity)
            )
            alert = Alert.from_match(match, entry.key, severity=rule.severity)
            outgoing.append(Outgoing(alert=alert, channels=wanted))
        planned.append((entry, outgoing))
    return planned


@dataclass(frozen=True, kw_only=True)
class FeedRead:
    """A source's body read for a pass: its new items only, each with its planned alerts.

    With ``packed``, ``planned`` holds only the items that cause alerts; the rest are in
    ``packed``, for the store.
    """

    #: items the body held, new or not
    items: int
    planned: Planned
    packed: PackedItems | None = None
    warning: str | None = None
    #: how long the publisher says the feed stays fresh (RSS <ttl>)
    ttl: timedelta | None = None
    #: the body becoming items
    parse_seconds: float = 0.0

    @property
    def new_items(self) -> int:
        return self.packed.count if self.packed is not None else len(self.planned)
