"""Text folding shared by rules and items: case and accents removed, offsets kept."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_PUNCTUATION_ALIASES = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-", "–": "-", "—": "-"})


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(
        _PUNCTUATION_ALIASES
    )


def fold(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


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


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
    )
