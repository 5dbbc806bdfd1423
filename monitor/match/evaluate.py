"""Evaluate a rule against an item: a Match with its evidence, or None."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.match.syntax import AllOf, AnyOf, Expr, NoneOf, Rule, Term
from monitor.match.text import fold_with_offsets
from monitor.model import TEXT_FIELDS, Evidence, Item, Match


@dataclass(frozen=True)
class _Field:
    original: str
    folded: str
    offsets: list[int]


@dataclass(frozen=True)
class PreparedItem:
    """An item with each field folded once, so many rules can be checked against it cheaply."""

    item: Item
    fields: dict[str, _Field]


def prepare(item: Item) -> PreparedItem:
    fields = {}
    for name in TEXT_FIELDS:
        text = item.field_text(name)
        folded, offsets = fold_with_offsets(text)
        fields[name] = _Field(text, folded, offsets)
    return PreparedItem(item, fields)


def _term_evidence(term: Term, prepared: PreparedItem) -> list[Evidence]:
    found = []
    for name in term.fields:
        field = prepared.fields[name]
        hit = term.pattern.search(field.folded)
        if hit:
            start, end = field.offsets[hit.start()], field.offsets[hit.end()]
            found.append(
                Evidence(
                    term=term.text, field=name, start=start, end=end, text=field.original[start:end]
                )
            )
    return found


def _holds(expr: Expr, prepared: PreparedItem) -> list[Evidence] | None:
    """The evidence if ``expr`` holds (possibly empty, for ``none``), else None."""
    if isinstance(expr, Term):
        return _term_evidence(expr, prepared) or None
    if isinstance(expr, AllOf):
        evidence: list[Evidence] = []
        for child in expr.children:
            found = _holds(child, prepared)
            if found is None:
                return None
            evidence.extend(found)
        return evidence
    if isinstance(expr, AnyOf):
        evidence, held = [], False
        for child in expr.children:
            found = _holds(child, prepared)
            if found is not None:
                held = True
                evidence.extend(found)
        return evidence if held else None
    if isinstance(expr, NoneOf):
        return None if any(_holds(c, prepared) is not None for c in expr.children) else []
    raise TypeError(f"unknown expression {expr!r}")


def evaluate(rule: Rule, prepared: PreparedItem) -> Match | None:
    evidence = _holds(rule.expr, prepared)
    if evidence is None:
        return None
    unique = tuple(dict.fromkeys(evidence))
    return Match(rule=rule.name, item=prepared.item, evidence=unique)
