"""Which clauses of a rule held for an item, in words: the why of a verdict, matched or not."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.match.evaluate import PreparedItem, clause_holds
from monitor.match.expressions import AllOf, AnyOf, AtLeast, Expr, Near, NoneOf, Scored, Term
from monitor.match.rule import Rule

DESCRIPTION_MAX = 70
SHOWN_CHILDREN = 3


@dataclass(frozen=True)
class Clause:
    description: str
    #: ``held`` or ``failed``; for an exclusion, ``vetoed`` when it found something
    status: str


def describe(expr: Expr) -> str:
    """A short reading of an expression: ``near(any of [close, shut, …], @facilities) within 6``."""
    if isinstance(expr, Term):
        text = f'"{expr.label}"'
    elif isinstance(expr, AnyOf) and expr.name:
        text = f"@{expr.name}"
    elif isinstance(expr, AllOf | AnyOf | NoneOf | AtLeast):
        word = {AllOf: "all", AnyOf: "any", NoneOf: "none"}.get(type(expr), "")
        head = f"at least {expr.count}" if isinstance(expr, AtLeast) else word
        shown = [describe(c) for c in expr.children[:SHOWN_CHILDREN]]
        more = ", …" if len(expr.children) > SHOWN_CHILDREN else ""
        text = f"{head} of [{', '.join(shown)}{more}]"
    elif isinstance(expr, Near):
        inner = ", ".join(describe(c) for c in expr.children)
        reach = "in one sentence" if expr.sentence else f"within {expr.within}"
        text = f"near({inner}) {reach}" + (" in order" if expr.ordered else "")
    else:
        assert isinstance(expr, Scored)
        text = f"score of {len(expr.entries)} weighted clauses >= {expr.threshold:g}"
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def _top_level(expr: Expr) -> list[tuple[Expr, bool]]:
    """The clauses a reader sees: the children of the outer ``all``, exclusions one by one."""
    if isinstance(expr, AllOf):
        return [part for child in expr.children for part in _top_level(child)]
    if isinstance(expr, NoneOf):
        return [(child, True) for child in expr.children]
    return [(expr, False)]


def clauses(rule: Rule, prepared: PreparedItem) -> list[Clause]:
    """Each top-level clause as ``line 21: near(...)``, with what it did for this item."""
    found = []
    for expr, exclusion in _top_level(rule.expr):
        held = clause_holds(expr, prepared)
        where = f"line {expr.line}: " if expr.line else ""
        if exclusion:
            status = "vetoed" if held else "held"
            found.append(Clause(f"{where}none: {describe(expr)}", status))
        else:
            found.append(Clause(f"{where}{describe(expr)}", "held" if held else "failed"))
    return found
