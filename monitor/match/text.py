"""Text folding shared by rules and items: case and accents removed, offsets kept."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCTUATION_ALIASES = {ord(a): b for a, b in zip("’‘‐‑–—", "''----", strict=True)}
_WORD = re.compile(r"\w+")
# a full stop ends a sentence unless it ends an initial or a usual abbreviation ("U.S. firm")
_SENTENCE_END = re.compile(
    r"(?<![\s.][a-z])(?<!^[a-z])(?<!\binc)(?<!\bltd)(?<!\bcorp)(?<!\bco)(?<!\bmr)(?<!\bms)"
    r"(?<!\bdr)(?<!\bst)(?<!\bvs)(?<!\bno)[.!?]+[\"')\]]*\s+|[。！？]+|\n+"
)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(
        _PUNCTUATION_ALIASES
    )


class _StripTable(dict[int, str | None]):
    """Combining marks removed and typographic punctuation made plain, for ``str.translate``.

    Filled as characters are met: deciding for all of Unicode up front costs a third of a
    second in every process that folds one non-ASCII character.
    """

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value = None if unicodedata.combining(char) else char
        self[code] = value
        return value


@lru_cache(maxsize=1)
def _strip_table() -> _StripTable:
    table = _StripTable()
    table.update(_PUNCTUATION_ALIASES)
    return table


def fold(text: str) -> str:
    """The text as rules see it; equal to folding each character alone (see fold_with_offsets)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_strip_table())


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and map each folded position back to its position in ``text``.

    The map has one extra entry for the end, so a folded span ``[a, b)`` is the original span
    ``[offsets[a], offsets[b])``.
    """
    folded: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        piece = _fold_char(char) if not char.isascii() else char.lower()
        folded.append(piece)
        offsets.extend([index] * len(piece))
    offsets.append(len(text))
    return "".join(folded), offsets


def word_starts(folded: str) -> list[int]:
    return [m.start() for m in _WORD.finditer(folded)]


def sentence_starts(folded: str) -> list[int]:
    return [0, *(m.end() for m in _SENTENCE_END.finditer(folded))]


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
    )
