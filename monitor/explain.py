"""`monitor test-rule`: turn a text, file, URL or the stored history into items and explain a
rule's verdict on each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.match import Rule, evaluate, prepare
from monitor.match.clauses import Clause, clauses
from monitor.match.examples import text_item
from monitor.model import Evidence, Item
from monitor.sources.feed import parse_feed
from monitor.sources.text import html_to_text

SOURCE = "test-rule"
CONTEXT = 30


@dataclass(frozen=True)
class Explanation:
    item: Item
    matched: bool
    evidence: tuple[Evidence, ...]
    score: float | None = None
    #: for a replay: whether the rule alerted on this item when it was first seen
    alerted: bool | None = None
    clauses: tuple[Clause, ...] = ()

    @property
    def change(self) -> str:
        """``added`` or ``dropped`` against what was alerted; empty when nothing changed."""
        if self.alerted is None or self.alerted == self.matched:
            return ""
        return "added" if self.matched else "dropped"

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "title": self.item.title,
            "url": self.item.url,
            "matched": self.matched,
            "score": self.score,
            "evidence": [e.as_dict() for e in self.evidence],
            "clauses": [{"clause": c.description, "status": c.status} for c in self.clauses],
        }
        if self.alerted is not None:
            found |= {"source": self.item.source, "alerted": self.alerted, "change": self.change}
        return found

    def render(self) -> str:
        verdict = "MATCH   " if self.matched else "no match"
        if self.change:
            verdict = f"{verdict} ({self.change})"
        lines = [f"{verdict} {self.item.title}"]
        if self.item.url:
            lines.append(f"         {self.item.url}")
        if self.score is not None:
            lines.append(f"         score: {self.score:g}")
        for found in self.evidence:
            text = self.item.field_text(found.field)
            before = text[max(0, found.start - CONTEXT) : found.start]
            after = text[found.end : found.end + CONTEXT]
            lines.append(f"         {found.field}: …{before}[{found.text}]{after}… ({found.term})")
        if not self.matched:
            # why not: the clauses that failed and the exclusions that vetoed
            lines += [
                f"         {c.status}: {c.description}" for c in self.clauses if c.status != "held"
            ]
        return "\n".join(lines)


def explain(rule: Rule, item: Item, *, alerted: bool | None = None) -> Explanation:
    prepared = prepare(item)
    match = evaluate(rule, prepared)
    held = tuple(clauses(rule, prepared))
    if match is None:
        return Explanation(item, False, (), alerted=alerted, clauses=held)
    return Explanation(item, True, match.evidence, match.score, alerted, held)


def explain_items(rule: Rule, items: list[Item]) -> list[Explanation]:
    return [explain(rule, item) for item in items]


def replay(rule: Rule, history: list[tuple[Item, bool]]) -> list[Explanation]:
    """The rule as written now over stored items, beside what was alerted when they arrived."""
    return [explain(rule, item, alerted=alerted) for item, alerted in history]


def items_from_text(text: str) -> list[Item]:
    return [text_item(text, source=SOURCE)]


def _items_from_bytes(body: bytes, url: str) -> list[Item]:
    try:
        return parse_feed(SOURCE, body, url=url, headers={}).items
    except FetchError:
        pass
    text = body.decode("utf-8", errors="replace")
    if "<" in text[:1000]:
        content = html_to_text(text)
        title = content[:120]
        return [Item(source=SOURCE, title=title, url=url, content=content)]
    return items_from_text(text)


def items_from_file(path: Path) -> list[Item]:
    return _items_from_bytes(path.read_bytes(), path.resolve().as_uri())


async def items_from_url(url: str) -> list[Item]:
    fetcher = Fetcher()
    try:
        result = await fetcher.fetch(SOURCE, url)
    finally:
        await fetcher.aclose()
    return _items_from_bytes(result.body, result.url)
