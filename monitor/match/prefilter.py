"""Many rules against one item: a multi-pattern scan picks the rules that could match.

Each rule is reduced to groups of literal keys such that any match holds a key of every group (one
group per clause every match needs). One Aho-Corasick pass over the item finds every key at once;
a rule is indexed by its rarest group and evaluated only when the item holds a key of each of its
groups. A rule with no group (a lone regex, a ``none:`` on its own) is always evaluated.

Every part of a rule has groups too. A candidate is scanned once more, for the literals of its
parts that did not choose it, and its evaluation then skips any part whose groups the item lacks
and any term of a list whose keys it lacks, without another scan (keyindex.Shortcuts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from monitor.match.evaluate import PreparedItem, evaluate, prepare
from monitor.match.expressions import AllOf, AnyOf, AtLeast, Expr, Near, NoneOf, Scored, Term
from monitor.match.keyindex import Shortcuts, children_by_key
from monitor.match.rule import Rule
from monitor.model import Item, Match

Keys = frozenset[str] | None


@lru_cache(maxsize=4096)
def _cost(keys: frozenset[str]) -> float:
    """How often the keys may occur in text: short keys occur everywhere."""
    # Cached: a named list of hundreds of terms is costed again for every rule that uses it,
    # and again merged with each alternative (a frozenset keeps its hash, so a hit is cheap).
    return sum(0.25 ** len(key.rstrip("*")) for key in keys)


def _union(parts: Iterable[Keys]) -> Keys:
    merged: set[str] = set()
    for keys in parts:
        if keys is None:
            return None
        merged |= keys
    return frozenset(merged)


def required_clauses(expr: Expr) -> list[frozenset[str]]:
    """Groups of literals such that every match of ``expr`` holds one literal of each group."""
    return _Clauses().of(expr)


def required_keys(expr: Expr) -> Keys:
    """Literals of which every match of ``expr`` contains one; None when nothing is required."""
    return _Clauses().keys(expr)


class _Clauses:
    """``required_clauses`` of many expressions, each part worked out once: rules share their
    named lists and aliased clauses as one object (expressions.share_equal), and merging a list
    of hundreds of terms again for each of a thousand rules took seconds."""

    def __init__(self) -> None:
        #: id of a part -> the part (keeping its id taken) and its groups
        self._known: dict[int, tuple[Expr, list[frozenset[str]]]] = {}
        #: id of an ``any``'s children -> the children and their group: the ``any`` of a named
        #: list is an object of each rule that uses it, but its children are one tuple
        self._alternatives: dict[int, tuple[tuple[Expr, ...], list[frozenset[str]]]] = {}

    def of(self, expr: Expr) -> list[frozenset[str]]:
        known = self._known.get(id(expr))
        if known is None:
            known = self._known[id(expr)] = (expr, self._work_out(expr))
        return known[1]

    def _work_out(self, expr: Expr) -> list[frozenset[str]]:
        if isinstance(expr, Term):
            return [expr.keys] if expr.keys is not None else []
        if isinstance(expr, AnyOf | AtLeast):
            known = self._alternatives.get(id(expr.children))
            if known is None:
                known = (expr.children, self._either(expr.children))
                self._alternatives[id(expr.children)] = known
            return known[1]
        if isinstance(expr, AllOf | Near):
            return [clause for child in expr.children for clause in self.of(child)]
        if isinstance(expr, NoneOf):
            return []
        if isinstance(expr, Scored):
            return self._scored(expr)
        raise TypeError(f"unknown expression {expr!r}")

    def _either(self, children: Sequence[Expr]) -> list[frozenset[str]]:
        """One group for a match of any child: a group of each child, merged, chosen so that
        the merged group is rare ("China" named in the title, or near the event, or near the
        site: the places are the group, not the event's words)."""
        options = [self.of(child) for child in children]
        if not options or any(not groups for groups in options):
            return []
        best: frozenset[str] | None = None
        for first in options[0]:
            merged = set(first)
            for groups in options[1:]:
                # a term has one group: nothing to choose (choosing costs a new set per term,
                # and a named list has hundreds of terms)
                merged |= (
                    groups[0]
                    if len(groups) == 1
                    else min(groups, key=lambda group: _cost(frozenset(merged | group)))
                )
            if best is None or _cost(frozenset(merged)) < _cost(best):
                best = frozenset(merged)
        return [best] if best is not None else []

    def keys(self, expr: Expr) -> Keys:
        """The rarest of ``expr``'s groups (see required_keys)."""
        clauses = self.of(expr)
        return min(clauses, key=_cost) if clauses else None

    def _scored(self, expr: Scored) -> list[frozenset[str]]:
        if expr.threshold <= 0:
            return []
        best = [max(e.weight, e.title_weight or e.weight, 0.0) for e in expr.entries]
        reachable = sum(best)
        # an entry without which the threshold cannot be reached is needed, like a child of all:
        needed = [
            clause
            for entry, most in zip(expr.entries, best, strict=True)
            if most > 0 and reachable - most < expr.threshold
            for clause in self.of(entry.expr)
        ]
        if needed:
            return needed
        merged = _union(
            self.keys(e.expr) for e, most in zip(expr.entries, best, strict=True) if most > 0
        )
        return [merged] if merged is not None else []


class RuleSet:
    """Rules indexed for matching many items; build once per set of rules."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        #: the sequence this set was built from, so a cache can tell it is still current
        self.source = rules
        self.rules = tuple(rules)
        self._always: list[int] = []
        #: every literal of every rule, numbered
        ids: dict[str, int] = {}
        #: literal -> the rules indexed by it, each by its rarest group of literals
        indexed: dict[int, list[int]] = {}
        #: rule -> its other groups, each of which the item must hold one literal of too
        self._also: dict[int, list[frozenset[int]]] = {}
        worked_out = _Clauses()
        #: a group -> its literals' numbers; rules that use one list share one set
        numbered: dict[frozenset[str], frozenset[int]] = {}

        def numbers(group: frozenset[str]) -> frozenset[int]:
            found = numbered.get(group)
            if found is None:
                found = numbered[group] = frozenset(ids.setdefault(k, len(ids)) for k in group)
            return found

        for index, rule in enumerate(self.rules):
            clauses = worked_out.of(rule.expr)
            if not clauses:
                self._always.append(index)
                continue
            rarest = min(clauses, key=_cost)
            for number in numbers(rarest):
                indexed.setdefault(number, []).append(index)
            others = {numbers(group) for group in clauses if group is not rarest}
            self._also[index] = sorted(others, key=len)
        self._indexed = indexed
        self._shortcuts = _shortcuts(self.rules, worked_out, ids, numbers)

    def candidates(self, prepared: PreparedItem) -> list[Rule]:
        """The rules worth evaluating for ``prepared``, whose evaluation then reuses the scan
        that chose them."""
        found = self._shortcuts.scan(prepared.text)
        chosen = set(self._always)
        for number in found:
            for index in self._indexed.get(number, ()):
                if index not in chosen and all(not found.isdisjoint(c) for c in self._also[index]):
                    chosen.add(index)
        if chosen:
            prepared.found = found | self._shortcuts.scan_rest(prepared.text)
            prepared.shortcuts = self._shortcuts
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


def _shortcuts(
    rules: Sequence[Rule],
    worked_out: _Clauses,
    ids: dict[str, int],
    numbers: Callable[[frozenset[str]], frozenset[int]],
) -> Shortcuts:
    """The Shortcuts of every part of ``rules``; ``ids`` numbers their literals."""
    #: the literals the rules are chosen by; the parts' own come after them
    first = len(ids)
    needs: dict[int, list[frozenset[int]]] = {}
    children: dict[int, tuple[dict[int, list[int]], tuple[int, ...]]] = {}
    #: id of a part, or of a tuple of parts -> whether it holds a ``score`` (all of them kept
    #: alive by ``rules``); a named list is a tuple of parts that many rules share
    scoring: dict[int, bool] = {}

    def visit_all(parts: tuple[Expr, ...]) -> bool:
        known = scoring.get(id(parts))
        if known is None:
            known = False
            for part in parts:  # every part is recorded, so no stopping at the first score
                known = visit(part) or known
            scoring[id(parts)] = known
        return known

    def visit(expr: Expr) -> bool:
        """Record ``expr`` and its parts; whether it holds a ``score``."""
        known = scoring.get(id(expr))
        if known is not None:
            return known
        if isinstance(expr, Term):
            scores = False
        elif isinstance(expr, Scored):
            scores = True
            for entry in expr.entries:
                visit(entry.expr)
        else:
            scores = visit_all(expr.children)
            if isinstance(expr, AnyOf | AtLeast):
                _index_children(expr.children, children, ids)
            groups = worked_out.of(expr)
            # A part that scores adds to the rule's score as it is evaluated, held or not:
            # skipping it would change the score.
            if groups and not scores:
                needs[id(expr)] = [numbers(group) for group in groups]
        scoring[id(expr)] = scores
        return scores

    for rule in rules:
        visit(rule.expr)
    return Shortcuts(ids, first, needs, children)


def _index_children(
    parts: tuple[Expr, ...],
    children: dict[int, tuple[dict[int, list[int]], tuple[int, ...]]],
    ids: dict[str, int],
) -> None:
    if id(parts) in children:
        return
    by_key, always = children_by_key([c.keys if isinstance(c, Term) else None for c in parts])
    by_literal = {ids.setdefault(key, len(ids)): held for key, held in by_key.items()}
    children[id(parts)] = (by_literal, always)


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
