"""The examples written inside a rule, run: a rule that no longer does what they say is invalid."""

from __future__ import annotations

from monitor.errors import Problem
from monitor.match.evaluate import evaluate, prepare
from monitor.match.rule import Example, Rule
from monitor.model import Item

EXAMPLE_SOURCE = "example"


def text_item(text: str, *, source: str = EXAMPLE_SOURCE) -> Item:
    """A short text as an item: the first line is the headline, the rest its summary."""
    first, _, rest = text.strip().partition("\n")
    return Item(source=source, title=first.strip(), url="", summary=rest.strip())


def _shorten(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def example_problem(rule: Rule, example: Example) -> Problem | None:
    match = evaluate(rule, prepare(text_item(example.text)))
    if example.should_match and match is None:
        message = (
            f"example should match rule {rule.name!r} but does not: {_shorten(example.text)!r}"
        )
    elif not example.should_match and match is not None:
        terms = ", ".join(dict.fromkeys(e.term for e in match.evidence)) or "no terms"
        message = (
            f"example should not match rule {rule.name!r} but does "
            f"(matched: {terms}): {_shorten(example.text)!r}"
        )
    else:
        return None
    return Problem(rule.path, example.line, example.col, message)


def failing_examples(rule: Rule) -> list[Problem]:
    return [p for p in (example_problem(rule, e) for e in rule.examples) if p is not None]
