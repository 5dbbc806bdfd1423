"""Which children of an ``any`` (a named list, often hundreds of terms) can hold for a text.

A term matches only where one of its prefilter keys occurs, so one Aho-Corasick pass over the
item names the few terms worth running; the others are skipped without running their regex.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick

#: below this many keyed children, running each one costs less than the scan
MIN_KEYED_CHILDREN = 8


class ChildIndex:
    def __init__(self, keys_per_child: Sequence[frozenset[str] | None]) -> None:
        self.count = len(keys_per_child)
        #: children with no known literal (a regex, a nested clause) are always tried
        self.always = tuple(i for i, keys in enumerate(keys_per_child) if keys is None)
        by_key: dict[str, list[int]] = {}
        for index, keys in enumerate(keys_per_child):
            for key in keys or ():
                by_key.setdefault(key, []).append(index)
        self._automaton: ahocorasick.Automaton | None = None
        if self.count - len(self.always) >= MIN_KEYED_CHILDREN:
            self._automaton = ahocorasick.Automaton()
            for key, indexes in by_key.items():
                self._automaton.add_word(key, tuple(indexes))
            self._automaton.make_automaton()

    def to_try(self, text: str) -> Sequence[int]:
        """The children that may hold for ``text``, in their written order."""
        if self._automaton is None:
            return range(self.count)
        chosen = set(self.always)
        for _, indexes in self._automaton.iter(text):
            chosen.update(indexes)
        return sorted(chosen)
