"""English word forms, so that a rule says ``close`` and catches closes, closed, closing, closure.

Forms are generated, not guessed by a stemmer: a stemmer would also fold "closer" and "closely"
into "close", and an analyst reading a hit must be able to see why it held. The tables hold the
irregular verbs and the noun forms news writing uses for the events rules look for; the regular
endings cover the rest.
"""

from __future__ import annotations

import re
from functools import lru_cache

_IRREGULAR: dict[str, tuple[str, ...]] = {
    "be": ("is", "are", "was", "were", "been", "being"),
    "build": ("built",),
    "buy": ("bought",),
    "cut": ("cuts", "cutting"),
    "draw": ("drew", "drawn"),
    "drive": ("drove", "driven"),
    "fall": ("fell", "fallen"),
    "give": ("gave", "given"),
    "go": ("goes", "went", "gone"),
    "hit": ("hits", "hitting"),
    "keep": ("kept",),
    "lay": ("laid",),
    "leave": ("left",),
    "let": ("lets", "letting"),
    "lose": ("lost",),
    "make": ("made",),
    "pay": ("paid",),
    "put": ("puts", "putting"),
    "quit": ("quits", "quitting"),
    "run": ("ran", "running"),
    "say": ("said",),
    "sell": ("sold",),
    "send": ("sent",),
    "set": ("sets", "setting"),
    "shed": ("sheds", "shedding"),
    "shrink": ("shrank", "shrunk"),
    "shut": ("shuts", "shutting"),
    "sink": ("sank", "sunk"),
    "spin": ("spun", "spinning"),
    "split": ("splits", "splitting"),
    "take": ("took", "taken"),
    "tell": ("told",),
    "wind": ("wound",),
    "withdraw": ("withdrew", "withdrawn"),
}

#: nouns a news story uses for the verb's event ("the closure of its lab")
_NOUNS: dict[str, tuple[str, ...]] = {
    "cease": ("cessation",),
    "close": ("closure",),
    "depart": ("departure",),
    "dissolve": ("dissolution",),
    "divest": ("divestment", "divestiture"),
    "exit": (),
    "expand": ("expansion",),
    "invest": ("investment",),
    "liquidate": ("liquidation",),
    "reduce": ("reduction",),
    "relocate": ("relocation",),
    "restructure": ("restructuring",),
    "suspend": ("suspension",),
    "terminate": ("termination",),
    "transfer": (),
    "withdraw": ("withdrawal",),
}

#: British and American spellings are the same word to a reader
_SPELLINGS = {
    "centre": "center",
    "defence": "defense",
    "labour": "labor",
    "licence": "license",
    "organisation": "organization",
    "programme": "program",
}
_SPELLINGS.update({american: british for british, american in _SPELLINGS.items()})

#: second words that make a phrasal verb, also written as one word: shut down -> shutdown
PARTICLES = frozenset({"back", "down", "off", "out", "up", "over"})

_VOWELS = set("aeiou")
_WORD = re.compile(r"[a-z]+")


def _plural(word: str) -> set[str]:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return {word + "es"}
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        return {word[:-1] + "ies"}
    if word.endswith("o"):
        return {word + "s", word + "es"}
    return {word + "s"}


def _doubles_final(word: str) -> bool:
    """One-syllable words ending consonant-vowel-consonant double it: shut -> shutting."""
    vowels = sum(1 for c in word if c in _VOWELS)
    return (
        vowels == 1
        and len(word) >= 3
        and word[-1] not in _VOWELS | {"w", "x", "y"}
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    )


def _verb_forms(word: str) -> set[str]:
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")):
        return (
            {word + "d", word[:-1] + "ing"}
            if not word.endswith("ie")
            else {
                word + "d",
                word[:-2] + "ying",
            }
        )
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        return {word[:-1] + "ied", word + "ing"}
    if _doubles_final(word):
        return {word + word[-1] + "ed", word + word[-1] + "ing", word + "ed", word + "ing"}
    return {word + "ed", word + "ing"}


@lru_cache(maxsize=8192)
def word_forms(word: str) -> tuple[str, ...]:
    """Every form of a lower-case English word, the word first, then longest first."""
    if not _WORD.fullmatch(word):
        return (word,)
    bases = {word, _SPELLINGS.get(word, word)}
    forms: set[str] = set()
    for base in bases:
        forms |= {base} | _plural(base) | _verb_forms(base)
        forms |= set(_IRREGULAR.get(base, ()))
        for noun in _NOUNS.get(base, ()):
            forms |= {noun} | _plural(noun)
    forms.discard(word)
    return (word, *sorted(forms, key=lambda f: (-len(f), f)))


def compound_forms(first: str, particle: str) -> tuple[str, ...]:
    """``shut down`` is also written ``shutdown`` and ``shutdowns``; ``lay off``, ``layoffs``."""
    joined = first + particle
    return (joined, *sorted(_plural(joined)))
