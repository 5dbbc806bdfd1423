"""A labelled corpus of news items, and how well a rule separates it: precision and recall."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.match.evaluate import evaluate, prepare
from monitor.match.rule import Rule
from monitor.model import Item

CORPUS_SOURCE = "corpus"


@dataclass(frozen=True)
class LabelledItem:
    item: Item
    kind: str
    positive: bool


@dataclass(frozen=True)
class Quality:
    true_positives: int
    false_positives: tuple[LabelledItem, ...]
    false_negatives: tuple[LabelledItem, ...]
    size: int

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + len(self.false_negatives)
        return self.true_positives / wanted if wanted else 1.0

    def report(self) -> str:
        lines = [
            f"items {self.size}  precision {self.precision:.3f}  recall {self.recall:.3f}",
            *(f"  false positive [{x.kind}]: {x.item.title}" for x in self.false_positives),
            *(f"  false negative [{x.kind}]: {x.item.title}" for x in self.false_negatives),
        ]
        return "\n".join(lines)


def load_corpus(path: Path) -> list[LabelledItem]:
    """``positives:`` and ``negatives:``, each a list of ``{kind, title, summary}``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    labelled = []
    for key, positive in (("positives", True), ("negatives", False)):
        for entry in data.get(key, []):
            item = Item(
                source=CORPUS_SOURCE,
                title=entry["title"],
                url="",
                summary=entry.get("summary", ""),
            )
            labelled.append(LabelledItem(item, entry.get("kind", ""), positive))
    return labelled


def measure(rule: Rule, corpus: list[LabelledItem]) -> Quality:
    true_positives = 0
    false_positives, false_negatives = [], []
    for entry in corpus:
        matched = evaluate(rule, prepare(entry.item)) is not None
        if matched and entry.positive:
            true_positives += 1
        elif matched:
            false_positives.append(entry)
        elif entry.positive:
            false_negatives.append(entry)
    return Quality(true_positives, tuple(false_positives), tuple(false_negatives), len(corpus))
