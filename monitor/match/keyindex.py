"""Which children of an ``any`` (a named list, often hundreds of terms) can hold for a text.

A term matches only where one of its prefilter keys occurs, so one Aho-Corasick pass over the
item names the few terms worth running; the others are skipped without running their regex.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import ahocorasick

from monitor.match.text import is_cjk

#: below this many keyed children, running each one costs less than the scan
MIN_KEYED_CHILDREN = 8


class KeyScanner:
    """Which values' keys a text holds as words: one Aho-Corasick pass, then word boundaries.

    A key is a literal that every match of its term holds as a whole word, or, written with a
    trailing ``*`` (from ``relocat*``), at the start of one (terms.compile_term). The scan alone
    finds "app" in "approved" and "cut" in "executive"; the boundaries keep the short forms of
    common words from sending nearly every item on to the rules. CJK is written without spaces,
    so a CJK key counts wherever it is.
    """

    def __init__(self, keyed: Mapping[str, Iterable[int]]) -> None:
        by_literal: dict[str, tuple[list[int], list[int]]] = {}
        for key, values in keyed.items():
            prefix = key.endswith("*") and len(key) > 1
            literal = key[:-1] if prefix else key
            whole, starting = by_literal.setdefault(literal, ([], []))
            (starting if prefix else whole).extend(values)
        self._automaton = _automaton(by_literal)
        # Nearly all text is ASCII, where no other key can occur: an automaton without those
        # keys (the CJK place names of a list, "café") steps through the text a third faster.
        self._ascii_automaton = (
            self._automaton
            if all(literal.isascii() for literal in by_literal)
            else _automaton({k: v for k, v in by_literal.items() if k.isascii()})
        )

    def found(self, text: str) -> set[int]:
        chosen: set[int] = set()
        automaton = self._ascii_automaton if text.isascii() else self._automaton
        if automaton is None:
            return chosen
        last = len(text) - 1
        # the boundary tests are written out: this loop runs for every key in every item
        for end, (length, whole, starting, free_start, free_end) in automaton.iter(text):
            start = end - length + 1
            if start and not free_start:
                before = text[start - 1]
                if before.isalnum() or before == "_":
                    continue
            if starting:
                chosen.update(starting)
            if whole:
                after = text[end + 1] if end < last else " "
                if free_end or not (after.isalnum() or after == "_"):
                    chosen.update(whole)
        return chosen


def _automaton(
    by_literal: Mapping[str, tuple[list[int], list[int]]],
) -> ahocorasick.Automaton | None:
    """The literals' automaton, each with its length, values and ends; None for no literal."""
    if not by_literal:
        return None
    automaton = ahocorasick.Automaton()
    for literal, (whole, starting) in by_literal.items():
        # a CJK end needs no boundary; known here once rather than for every hit
        value = (len(literal), tuple(whole), tuple(starting))
        automaton.add_word(literal, (*value, is_cjk(literal[0]), is_cjk(literal[-1])))
    automaton.make_automaton()
    return automaton


def children_by_key(
    keys_per_child: Sequence[frozenset[str] | None],
) -> tuple[dict[str, list[int]], tuple[int, ...]]:
    """The children holding each key, and those with no known literal (a regex, a nested
    clause), which are always tried."""
    by_key: dict[str, list[int]] = {}
    for index, keys in enumerate(keys_per_child):
        for key in keys or ():
            by_key.setdefault(key, []).append(index)
    return by_key, tuple(i for i, keys in enumerate(keys_per_child) if keys is None)


class ChildIndex:
    def __init__(self, keys_per_child: Sequence[frozenset[str] | None]) -> None:
        self.count = len(keys_per_child)
        by_key, self.always = children_by_key(keys_per_child)
        keyed = self.count - len(self.always)
        self._scanner = KeyScanner(by_key) if keyed >= MIN_KEYED_CHILDREN else None

    def to_try(self, text: str) -> Sequence[int]:
        """The children that may hold for ``text``, in their written order."""
        if self._scanner is None:
            return range(self.count)
        return sorted(self._scanner.found(text).union(self.always))


class Shortcuts:
    """What one scan of an item, for every literal of a set of rules, tells about each part of
    them (prefilter.RuleSet builds it): a part is ruled out when the item lacks every literal
    of one of its required groups, and of an ``any`` only the children whose literals the item
    holds are worth trying. Evaluating a candidate rule then never scans the item again.

    The literals numbered below ``first`` are those that choose the candidate rules: every
    item is scanned for them. The rest (common words of a ``none``, "to" in "moves to") are
    looked for only in items that are candidates.
    """

    def __init__(
        self,
        literals: Mapping[str, int],
        first: int,
        needs: Mapping[int, Sequence[frozenset[int]]],
        children: Mapping[int, tuple[Mapping[int, Sequence[int]], tuple[int, ...]]],
    ) -> None:
        self._first = KeyScanner({k: [n] for k, n in literals.items() if n < first})
        self._rest = KeyScanner({k: [n] for k, n in literals.items() if n >= first})
        #: id of a part -> groups of literal numbers, one of each of which it needs
        self._needs = needs
        #: id of an ``any``'s children -> the children holding each literal, and the unkeyed
        self._children = children

    def scan(self, text: str) -> set[int]:
        """The numbers of the literals below ``first`` that ``text`` holds."""
        return self._first.found(text)

    def scan_rest(self, text: str) -> set[int]:
        """The numbers of the other literals ``text`` holds."""
        return self._rest.found(text)

    def rules_out(self, part: int, found: set[int]) -> bool:
        needs = self._needs.get(part)
        return needs is not None and any(found.isdisjoint(group) for group in needs)

    def to_try(self, children: int, found: set[int]) -> list[int] | None:
        """The children (by id of their tuple) worth trying, in their written order; None
        for children this does not know."""
        known = self._children.get(children)
        if known is None:
            return None
        by_literal, always = known
        chosen = set(always)
        for literal in found:
            holding = by_literal.get(literal)
            if holding:
                chosen.update(holding)
        return sorted(chosen)
