"""One story told twice: the same event reported under another URL, feed or headline.

The store already knows an item seen before by its GUID, canonical URL or exact title. A story
also comes back reworded ("Amazon to close Shanghai AI lab" then "Amazon closes its Shanghai AI
lab - report"); within ``repeat_interval`` such a headline is recorded but not alerted again.
Headlines are compared by their significant words, so "closes Shanghai lab" and "closes Beijing
lab" stay two stories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from monitor.match.text import fold

#: share of the shorter headline's significant words that the longer one has too, at least
SAME_STORY = 0.8
#: and never fewer words than this, so that short headlines do not collide
MIN_SHARED = 3
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "over",
        "report",
        "reports",
        "said",
        "says",
        "say",
        "the",
        "to",
        "was",
        "will",
        "with",
        "after",
        "amid",
        "exclusive",
        "breaking",
        "update",
        "updated",
        "source",
        "sources",
        "reportedly",
        "according",
        "people",
        "familiar",
        "matter",
    ]
)
_SUFFIXES = ("ing", "es", "ed", "s")


def _stem(word: str) -> str:
    """closes, closed, closing and close all become ``clos``: enough to compare headlines."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word.removesuffix("e") if len(word) > 4 else word


@dataclass(frozen=True)
class Headline:
    words: frozenset[str]
    #: words written with a capital letter: the names of companies, places, people
    names: frozenset[str]
    #: figures: "lab 2" and "lab 3" are two labs, though a headline may leave a figure out
    numbers: frozenset[str]


@lru_cache(maxsize=65536)
def headline(title: str) -> Headline:
    """Cached: each new alert is compared with every alert of the last ``repeat_interval``."""
    words, names, numbers = set(), set(), set()
    for raw in _WORD.findall(title):
        word = fold(raw)
        if any(c.isdigit() for c in word):
            numbers.add(word)
        elif word not in _STOPWORDS and len(word) > 1:
            words.add(_stem(word))
            if raw[0].isupper():
                names.add(word)
    return Headline(frozenset(words), frozenset(names), frozenset(numbers))


def same_story(first: Headline, second: Headline) -> bool:
    """The same names, and the shorter headline's words nearly all found in the longer one.

    "Amazon closes Shanghai lab" and "Amazon closes Beijing lab" differ by a name: two events. A
    doubtful pair counts as two stories, since a repeated alert costs less than a missed one.
    """
    if first.names != second.names:
        return False
    if first.numbers and second.numbers and first.numbers != second.numbers:
        return False
    shared = len(first.words & second.words)
    shorter = min(len(first.words), len(second.words))
    return shared >= MIN_SHARED and shared / shorter >= SAME_STORY


def earlier_telling(title: str, earlier: Iterable[tuple[str, str]]) -> str | None:
    """The key of an earlier alert of the same story, among ``(key, title)`` pairs."""
    this = headline(title)
    for key, other in earlier:
        if same_story(this, headline(other)):
            return key
    return None
