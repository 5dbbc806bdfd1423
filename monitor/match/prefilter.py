"""Many rules against one item: a multi-pattern scan picks the rules that could match.

Each rule is reduced to a set of literal keys of which any match must contain one (the keys of the
most selective clause every match needs). One Aho-Corasick pass over the item finds every key at
once; only the rules whose keys occur are evaluated. A rule with no such set (a lone regex, a
``none:`` on its own) is always evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ahocorasick

from monitor.match.evaluate import PreparedItem, evaluate, prepare
from monitor.match.expressions import AllOf, AnyOf, AtLeast, Expr, Near, NoneOf, Scored, Term
from monitor.match.syntax import Rule
from monitor.model import Item, Match

Keys = frozenset[str] | None


def _cost(keys: frozenset[str]) -> float:
    """How often the keys may occur in text: short keys occur everywhere."""
    return sum(0.25 ** len(key) for key in keys)


def _union(parts: Iterable[Keys]) -> Keys:
    merged: set[str] = set()
    for keys in parts:
        if keys is None:
            return None
        merged |= keys
    return frozenset(merged)


def required_keys(expr: Expr) -> Keys:
    """Literals of which every match of ``expr`` contains one; None when nothing is required."""
    if isinstance(expr, Term):
        return expr.keys
    if isinstance(expr, AnyOf | AtLeast):
        return _union(required_keys(c) for c in expr.children)
    if isinstance(expr, AllOf | Near):
        known = [k for k in map(required_keys, expr.children) if k is not None]
        return min(known, key=_cost) if known else None
    if isinstance(expr, NoneOf):
        return None
    if isinstance(expr, Scored):
        return _scored_keys(expr)
    raise TypeError(f"unknown expression {expr!r}")


def _scored_keys(expr: Scored) -> Keys:
    if expr.threshold <= 0:
        return None
    best = [max(e.weight, e.title_weight or e.weight, 0.0) for e in expr.entries]
    reachable = sum(best)
    # an entry without which the threshold cannot be reached is needed, like a child of all:
    needed = [
        keys
        for entry, most in zip(expr.entries, best, strict=True)
        if most > 0 and reachable - most < expr.threshold
        for keys in [required_keys(entry.expr)]
        if keys is not None
    ]
    if needed:
        return min(needed, key=_cost)
    return _union(
        required_keys(e.expr) for e, most in zip(expr.entries, best, strict=True) if most > 0
    )


class RuleSet:
    """Rules indexed for matching many items; build once per set of rules."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        #: the sequence this set was built from, so a cache can tell it is still current
        self.source = rules
        self.rules = tuple(rules)
        self._always: list[int] = []
        by_key: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            keys = required_keys(rule.expr)
            if keys is None:
                self._always.append(index)
                continue
            for key in keys:
                by_key.setdefault(key, []).append(index)
        self._automaton = ahocorasick.Automaton()
        for key, indexes in by_key.items():
            self._automaton.add_word(key, tuple(indexes))
        if by_key:
            self._automaton.make_automaton()
        self._indexed = bool(by_key)

    def candidates(self, prepared: PreparedItem) -> list[Rule]:
        chosen = set(self._always)
        if self._indexed:
            for _, indexes in self._automaton.iter(prepared.text):
                chosen.update(indexes)
        return [self.rules[i] for i in sorted(chosen)]

    def matches(self, item: Item | PreparedItem) -> list[tuple[Rule, Match]]:
        """Every rule that holds for ``item``, in the order the rules were given."""
        prepared = item if isinstance(item, PreparedItem) else prepare(item)
        found = []
        for rule in self.candidates(prepared):
            match = evaluate(rule, prepared)
            if match is not None:
                found.append((rule, match))
        return found


_last_built: list[RuleSet] = []


def rule_set_for(rules: Sequence[Rule]) -> RuleSet:
    """The RuleSet of ``rules``, built once for as long as the same rules are in use.

    The daemon replaces its rules only on a reload, so the index is rebuilt only then rather than
    for every batch of items.
    """
    if _last_built and _last_built[0].source is rules:
        return _last_built[0]
    built = RuleSet(rules)
    _last_built[:] = [built]
    return built
