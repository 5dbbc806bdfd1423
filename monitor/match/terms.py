"""A term as written in a rule -> the regex that finds it in folded text, and its prefilter keys.

The keys are literal strings of which every match contains at least one as a whole word (a key
ending in ``*`` as the start of a word; in CJK text, written without spaces, anywhere); the
prefilter looks for them all at once, so the regex runs only on items that could match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from monitor.match.backtracking import backtracking_problem
from monitor.match.inflect import PARTICLES, compound_forms, word_forms
from monitor.match.text import fold, is_cjk

#: one word of any spelling, for "US * firm"
_GAP = r"[\w'&.]+"
_SEPARATOR = r"[\s\-]+"
_INFLECTABLE = re.compile(r"[a-z]+")


class TermError(ValueError):
    """A term that cannot be compiled; the message is shown at the term's position."""


class LazyPattern:
    """A regex compiled when first run.

    Rules are loaded by processes that never match (the monitor, when worker processes match
    for it), and compiling the terms of a large rule set is most of what loading it costs.
    """

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0, compiled: re.Pattern[str] | None = None):
        self.source = source
        self.flags = flags
        self._compiled = compiled

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyPattern):
            return NotImplemented
        return (self.source, self.flags) == (other.source, other.flags)

    def __hash__(self) -> int:
        return hash((self.source, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.source!r})"

    def __reduce__(self) -> tuple[type[LazyPattern], tuple[str, int]]:
        return LazyPattern, (self.source, self.flags)


@dataclass(frozen=True)
class CompiledTerm:
    pattern: LazyPattern
    #: None when no literal is known (a regex): the prefilter then always lets the rule through
    keys: frozenset[str] | None


def _word_alternatives(raw: str, folded: str, inflect: bool) -> tuple[str, list[str]]:
    """The regex of one word and the literals a match of it contains."""
    if folded == "*":
        return _GAP, []
    if folded.endswith("*"):
        stem = folded[:-1]
        # the key of a stem starts a word and may go on: "relocat*" (see keyindex.KeyScanner)
        return re.escape(stem) + r"\w*", [folded]
    if inflect and raw.islower() and _INFLECTABLE.fullmatch(raw):
        forms = list(word_forms(folded))
        ordered = sorted(forms, key=len, reverse=True)
        return "(?:" + "|".join(map(re.escape, ordered)) + ")", forms
    return re.escape(folded), [folded]


@lru_cache(maxsize=65536)
def compile_term(text: str) -> CompiledTerm:
    """Compile a word or phrase; see the language manual in ``monitor.match``.

    Cached: the lists of many rules, and every silence checked against every alert, repeat the
    same terms.
    """
    exact = text.startswith("=")
    written = text[1:].strip() if exact else text.strip()
    raw_words = written.split()
    words = fold(written).split()
    if not words or all(w.rstrip("*") == "" for w in words):
        raise TermError("a term must contain a word")
    if words[0] == "*" or words[-1] == "*":
        raise TermError("a term cannot start or end with a * word: it would match anything")
    if len(raw_words) != len(words):
        # folding changed the word count (a rare ligature); fold the written words instead
        raw_words = words
    parts: list[str] = []
    literal_sets: list[list[str]] = []
    for raw, word in zip(raw_words, words, strict=True):
        regex, literals = _word_alternatives(raw, word, not exact)
        parts.append(regex)
        if literals:
            literal_sets.append(literals)
    body = _SEPARATOR.join(parts)
    joined: tuple[str, ...] = ()
    if (
        not exact
        and len(words) == 2
        and words[1] in PARTICLES
        and raw_words[0].islower()
        and _INFLECTABLE.fullmatch(words[0])
    ):
        joined = compound_forms(words[0], words[1])
        body = f"(?:{body}|{'|'.join(map(re.escape, sorted(joined, key=len, reverse=True)))})"
    start = "" if is_cjk(words[0][0]) else r"(?<!\w)"
    last = words[-1].rstrip("*")
    end = "" if words[-1].endswith("*") or is_cjk(last[-1]) else r"(?!\w)"
    # the word whose shortest form is longest is the rarest in text: the best prefilter key
    best = set(max(literal_sets, key=lambda forms: min(len(f.rstrip("*")) for f in forms)))
    if joined:
        # "cutdown" holds "down" inside a word: the joined forms are keys too, so that every
        # match holds a key as a word (see keyindex.KeyScanner)
        best.update(joined)
    return CompiledTerm(LazyPattern(start + body + end), frozenset(best))


def compile_regex(source: str) -> CompiledTerm:
    """An explicit regex, matched case-insensitively against the folded text."""
    if not source.strip():
        raise TermError("regex: needs a pattern")
    try:
        pattern = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise TermError(f"invalid regex: {exc}") from exc
    if pattern.search(""):
        raise TermError("regex matches the empty string, so it would match every item")
    slow = backtracking_problem(source, re.IGNORECASE)
    if slow:
        raise TermError(slow)
    return CompiledTerm(LazyPattern(source, re.IGNORECASE, pattern), None)
