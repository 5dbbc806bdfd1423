"""`monitor test-rule`: turn a text, file or URL into items and explain a rule's verdict on each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.match import Rule, evaluate, prepare
from monitor.model import Evidence, Item
from monitor.sources.feed import parse_feed
from monitor.sources.text import html_to_text

SOURCE = "test-rule"


@dataclass(frozen=True)
class Explanation:
    item: Item
    matched: bool
    evidence: tuple[Evidence, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.item.title,
            "url": self.item.url,
            "matched": self.matched,
            "evidence": [e.as_dict() for e in self.evidence],
        }

    def render(self) -> str:
        verdict = "MATCH   " if self.matched else "no match"
        lines = [f"{verdict} {self.item.title}"]
        if self.item.url:
            lines.append(f"         {self.item.url}")
        for found in self.evidence:
            text = self.item.field_text(found.field)
            context = text[max(0, found.start - 30) : found.start]
            after = text[found.end : found.end + 30]
            lines.append(f"         {found.field}: …{context}[{found.text}]{after}… ({found.term})")
        return "\n".join(lines)


def explain_items(rule: Rule, items: list[Item]) -> list[Explanation]:
    results = []
    for item in items:
        match = evaluate(rule, prepare(item))
        results.append(Explanation(item, match is not None, match.evidence if match else ()))
    return results


def items_from_text(text: str) -> list[Item]:
    first, _, rest = text.strip().partition("\n")
    return [Item(source=SOURCE, title=first.strip(), url="", summary=rest.strip())]


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
