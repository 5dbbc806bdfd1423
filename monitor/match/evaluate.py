"""Evaluate a rule against an item: a Match with its evidence and score, or None."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.match.expressions import AllOf, AnyOf, AtLeast, Expr, Near, NoneOf, Scored, Term
from monitor.match.keyindex import Shortcuts
from monitor.match.rule import Rule
from monitor.match.text import fold, fold_with_offsets, sentence_starts, word_starts
from monitor.model import TEXT_FIELDS, Evidence, Item, Match

#: occurrences of one term in one field that proximity looks at
MAX_HITS_PER_FIELD = 32


@dataclass(frozen=True)
class Hit:
    """A term found in a field; offsets are in the folded text."""

    label: str
    field: str
    start: int
    end: int


class _FoldedFields(dict[str, str]):
    """An item's fields folded, each on first use."""

    def __init__(self, item: Item) -> None:  # starts empty: dict.__init__ has nothing to do
        self._item = item

    def __missing__(self, name: str) -> str:
        folded = self[name] = fold(self._item.field_text(name))
        return folded


class PreparedItem:
    """An item folded once, so that many rules are checked against it cheaply.

    Offsets back to the original text, word and sentence positions are computed on first use:
    most items match nothing and never need them.
    """

    def __init__(self, item: Item) -> None:
        self.item = item
        #: each field folded, when a rule first looks into it
        self.folded = _FoldedFields(item)
        #: every field at once, in TEXT_FIELDS' order, for the prefilters: folded in one piece,
        #: as folding goes character by character, at a quarter of the cost of folding and
        #: joining the fields (every item is prepared, most to be ruled out by one look at this)
        self.text = fold(
            f"{item.title}\n{item.summary}\n{item.content}\n{item.source}\n{item.url}\n"
            f"{item.author}\n{item.field_text('tags')}"
        )
        self.spans: dict[tuple[str, int, str], tuple[tuple[int, int], ...]] = {}
        self._offsets: dict[str, list[int]] = {}
        self._words: dict[str, list[int]] = {}
        self._sentences: dict[str, list[int]] = {}
        self._tried: dict[int, Sequence[int]] = {}
        #: set by RuleSet.candidates: the literals its scan found, and what they rule out
        self.found: set[int] = set()
        self.shortcuts: Shortcuts | None = None

    def to_try(self, expr: AnyOf | AtLeast) -> Sequence[int]:
        """The children of ``expr`` that may hold for this item, worked out once: a list used
        in several places of a rule is one tuple of children (see expressions.share_equal)."""
        key = id(expr.children)
        found = self._tried.get(key)
        if found is None:
            known = self.shortcuts.to_try(key, self.found) if self.shortcuts else None
            found = known if known is not None else expr.child_index.to_try(self.text)
            self._tried[key] = found
        return found

    def find(self, term: Term, field: str) -> tuple[tuple[int, int], ...]:
        pattern = term.pattern
        # the pattern's text, not the pattern: a str keeps its hash, a pattern object would
        # compute one on every lookup
        cache_key = (pattern.source, pattern.flags, field)
        found = self.spans.get(cache_key)
        if found is None:
            text = self.folded[field]
            spans = []
            # every match holds one of the term's keys: a field without any needs no search
            if term.may_match(text):
                for hit in pattern.finditer(text):
                    spans.append(hit.span())
                    if len(spans) == MAX_HITS_PER_FIELD:
                        break
            found = self.spans[cache_key] = tuple(spans)
        return found

    def word_index(self, field: str, position: int) -> int:
        if field not in self._words:
            self._words[field] = word_starts(self.folded[field])
        return bisect_right(self._words[field], position)

    def sentence_index(self, field: str, position: int) -> int:
        if field not in self._sentences:
            self._sentences[field] = sentence_starts(self.folded[field])
        return bisect_right(self._sentences[field], position)

    def evidence(self, hit: Hit) -> Evidence:
        if hit.field not in self._offsets:
            self._offsets[hit.field] = fold_with_offsets(self.item.field_text(hit.field))[1]
        offsets = self._offsets[hit.field]
        start, end = offsets[hit.start], offsets[hit.end]
        original = self.item.field_text(hit.field)
        return Evidence(
            term=hit.label, field=hit.field, start=start, end=end, text=original[start:end]
        )


def prepare(item: Item) -> PreparedItem:
    return PreparedItem(item)


def _ordered_window(placed_per_child: list[list[tuple[int, Hit]]], limit: int) -> list[Hit]:
    """Hits of the children in their written order, the last at most ``limit`` after the first."""
    for first_place, first_hit in placed_per_child[0]:
        chosen, previous = [first_hit], first_hit
        for later in placed_per_child[1:]:
            following = next(((p, h) for p, h in later if h.start >= previous.end), None)
            if following is None or following[0] - first_place > limit:
                break
            chosen.append(following[1])
            previous = following[1]
        else:
            return chosen
    return []


def _unordered_window(placed_per_child: list[list[tuple[int, Hit]]], limit: int) -> list[Hit]:
    """The smallest window holding a hit of every child, swept left to right."""
    placed = sorted(
        ((place, child, hit) for child, hits in enumerate(placed_per_child) for place, hit in hits),
        key=lambda entry: (entry[0], entry[1], entry[2].start),
    )
    latest: dict[int, tuple[int, Hit]] = {}
    for place, child, hit in placed:
        latest[child] = (place, hit)
        if (
            len(latest) == len(placed_per_child)
            and place - min(p for p, _ in latest.values()) <= limit
        ):
            return [h for _, h in latest.values()]
    return []


def _near_window(hits_per_child: list[list[Hit]], near: Near, prepared: PreparedItem) -> list[Hit]:
    """One hit of each child, all in one field and close enough; empty when there is none."""
    fields = set.intersection(*({h.field for h in hits} for hits in hits_per_child))
    position = prepared.sentence_index if near.sentence else prepared.word_index
    limit = 0 if near.sentence else near.within
    window = _ordered_window if near.ordered else _unordered_window
    for field in sorted(fields, key=TEXT_FIELDS.index):
        placed_per_child = [
            sorted(
                ((position(field, h.start), h) for h in hits if h.field == field),
                key=lambda entry: (entry[0], entry[1].start),
            )
            for hits in hits_per_child
        ]
        found = window(placed_per_child, limit)
        if found:
            return found
    return []


class _Evaluation:
    def __init__(self, prepared: PreparedItem) -> None:
        self.prepared = prepared
        self.score: float | None = None
        #: what each expression came to: a list or a clause used in several places of a rule
        #: (or a YAML alias, see expressions.share_equal) is worked out once
        self._held: dict[int, list[Hit] | None] = {}

    def holds(self, expr: Expr) -> list[Hit] | None:
        """The hits if ``expr`` holds (possibly none, for ``none``), else None."""
        if isinstance(expr, Scored):
            return self._scored(expr)
        key = id(expr)
        if key in self._held:
            return self._held[key]
        shortcuts = self.prepared.shortcuts
        if shortcuts is not None and shortcuts.rules_out(key, self.prepared.found):
            self._held[key] = None
            return None
        found = self._held[key] = self._holds(expr)
        return found

    def _holds(self, expr: Expr) -> list[Hit] | None:
        if isinstance(expr, Term):
            # most terms of a rule are nowhere in an item: one look at all of it settles them
            if not expr.may_match(self.prepared.text):
                return None
            hits = [
                Hit(expr.label, field, start, end)
                for field in expr.fields
                for start, end in self.prepared.find(expr, field)
            ]
            return hits or None
        if isinstance(expr, AllOf):
            evidence: list[Hit] = []
            for child in expr.children:
                found = self.holds(child)
                if found is None:
                    return None
                evidence.extend(found)
            return evidence
        if isinstance(expr, AnyOf | AtLeast):
            needed = expr.count if isinstance(expr, AtLeast) else 1
            evidence, held = [], 0
            children = expr.children
            for index in self.prepared.to_try(expr):
                found = self.holds(children[index])
                if found is not None:
                    held += 1
                    evidence.extend(found)
            return evidence if held >= needed else None
        if isinstance(expr, NoneOf):
            return None if any(self.holds(c) is not None for c in expr.children) else []
        if isinstance(expr, Near):
            per_child = []
            for child in expr.children:
                found = self.holds(child)
                if not found:
                    return None
                per_child.append(found)
            return _near_window(per_child, expr, self.prepared) or None
        raise TypeError(f"not an expression: {expr!r}")

    def _scored(self, expr: Scored) -> list[Hit] | None:
        total, evidence = 0.0, []
        for entry in expr.entries:
            found = self.holds(entry.expr)
            if found is None:
                continue
            in_title = any(h.field == "title" for h in found)
            weight = (
                entry.title_weight if in_title and entry.title_weight is not None else entry.weight
            )
            total += weight
            if weight > 0:
                evidence.extend(found)
        self.score = (self.score or 0.0) + total
        return evidence if total >= expr.threshold else None


def clause_holds(expr: Expr, prepared: PreparedItem) -> bool:
    """Whether one part of a rule holds, on its own."""
    return _Evaluation(prepared).holds(expr) is not None


def evaluate(rule: Rule, prepared: PreparedItem) -> Match | None:
    evaluation = _Evaluation(prepared)
    hits = evaluation.holds(rule.expr)
    if hits is None:
        return None
    # one piece of evidence per term and field: the first place it was found
    first: dict[tuple[str, str], Hit] = {}
    for hit in sorted(hits, key=lambda h: (TEXT_FIELDS.index(h.field), h.start)):
        first.setdefault((hit.label, hit.field), hit)
    ordered = sorted(first.values(), key=lambda h: hits.index(h))
    evidence = tuple(prepared.evidence(hit) for hit in ordered)
    return Match(rule=rule.name, item=prepared.item, evidence=evidence, score=evaluation.score)
