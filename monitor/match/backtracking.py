"""Regexes that Python's backtracking engine could take exponential time over: found before a rule
is accepted, since a single match cannot be interrupted.

Two shapes cause it, both inside a repeat without an upper bound, where the engine can split the
same text between iterations in many ways and tries them all before failing:

- a repeat nested in it, as in ``(a+)+`` or ``(\\w+\\s?)*``, unless each iteration starts or ends
  with a character the inner repeats cannot match (``(?:-\\w+)*``, ``(?:\\d+,)*``);
- alternatives that can begin with the same character, or more than one that can match nothing,
  as in ``(x|x)*`` or ``(?:a|a?b)*``.

The check reads the pattern as Python parses it; it decides from samples of each kind of
character, so it is conservative rather than exact: it may refuse a pattern that would have run
fast, and then says how to write it instead.
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

#: one character of each kind a class or category tells apart
_SAMPLES = "abcdefghijklmnopqrstuvwxyz0123456789 \t\n\r_-.,;:!?'\"()[]{}/\\@#$%&*+=<>|~^`é中\u00a0ß"
_CATEGORIES = {
    sre.CATEGORY_DIGIT: re.compile(r"\d"),
    sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre.CATEGORY_SPACE: re.compile(r"\s"),
    sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    sre.CATEGORY_WORD: re.compile(r"\w"),
    sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
_EVERY = frozenset(_SAMPLES)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
Items = list[tuple[Any, Any]]


def backtracking_problem(source: str, flags: int = re.IGNORECASE) -> str | None:
    """Why ``source`` could backtrack for exponential time, or None."""
    return _check(list(sre_parse.parse(source, flags).data), flags & re.IGNORECASE != 0)


def _check(items: Items, fold: bool) -> str | None:
    for op, value in items:
        if op in _REPEATS:
            _, high, body = value
            if op != sre.POSSESSIVE_REPEAT and high == sre.MAXREPEAT:
                found = _unbounded_body_problem(list(body), fold)
                if found:
                    return found
            found = _check(list(body), fold)
        elif op == sre.SUBPATTERN:
            found = _check(list(value[-1]), fold)
        elif op == sre.BRANCH:
            found = next(filter(None, (_check(list(b), fold) for b in value[1])), None)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found = _check(list(value[1]), fold)
        else:
            continue
        if found:
            return found
    return None


def _unbounded_body_problem(body: Items, fold: bool) -> str | None:
    inner = _repeated_chars(body, fold)
    if inner is not None:
        leading = _first_chars(body, fold)
        closing = _last_chars(body, fold)
        delimited = (leading is not None and not leading & inner) or (
            closing is not None and not closing & inner
        )
        if not delimited:
            return (
                "regex nests repeats (as in (a+)+), which can take exponential time; bound the "
                "outer repeat ({0,5}), or start or end each repetition with a character the "
                "inner repeat cannot match"
            )
    for branches in _branches(body):
        starts = [_first_chars(list(b), fold) for b in branches]
        empty = sum(1 for s in starts if s is None)
        known = [s for s in starts if s is not None]
        overlapping = any(a & b for i, a in enumerate(known) for b in known[i + 1 :])
        if empty > 1 or overlapping:
            return (
                "regex repeats alternatives that can start alike (as in (x|x)*), which can take "
                "exponential time; make the alternatives start differently"
            )
    return None


def _branches(items: Items) -> list[list[Items]]:
    found = []
    for op, value in items:
        if op == sre.BRANCH:
            found.append([list(b) for b in value[1]])
            for branch in value[1]:
                found.extend(_branches(list(branch)))
        elif op == sre.SUBPATTERN:
            found.extend(_branches(list(value[-1])))
    return found


def _repeated_chars(items: Items, fold: bool) -> frozenset[str] | None:
    """The characters repeats inside ``items`` can match (None when they hold no repeat that
    can match more than once)."""
    found: set[str] = set()
    seen = False
    for op, value in items:
        if op in _REPEATS:
            if value[1] > 1:
                seen = True
                found |= _chars_of(list(value[2]), fold)
            inner = _repeated_chars(list(value[2]), fold)
        elif op == sre.SUBPATTERN:
            inner = _repeated_chars(list(value[-1]), fold)
        elif op == sre.BRANCH:
            parts = [_repeated_chars(list(b), fold) for b in value[1]]
            inner = None
            if any(p is not None for p in parts):
                inner = frozenset().union(*(p for p in parts if p is not None))
        else:
            continue
        if inner is not None:
            seen = True
            found |= inner
    return frozenset(found) if seen else None


def _first_chars(items: Items, fold: bool) -> frozenset[str] | None:
    """The characters a match of ``items`` can begin with; None when it can match nothing."""
    found: set[str] = set()
    for op, value in items:
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # takes no character
        if op in _REPEATS:
            found |= _first_chars(list(value[2]), fold) or frozenset()
            if value[0] > 0:
                return frozenset(found)
            continue
        if op == sre.SUBPATTERN:
            first = _first_chars(list(value[-1]), fold)
        elif op == sre.BRANCH:
            starts = [_first_chars(list(b), fold) for b in value[1]]
            found.update(*(s for s in starts if s is not None))
            if any(s is None for s in starts):
                continue
            return frozenset(found)
        else:
            first = _single(op, value, fold)
        if first is None:
            continue
        return frozenset(found | first)
    return frozenset(found) if found else None


def _last_chars(items: Items, fold: bool) -> frozenset[str] | None:
    """The characters every match of ``items`` ends with, when its last element is one
    character that must be there; else None."""
    for op, value in reversed(items):
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        if op == sre.SUBPATTERN:
            return _last_chars(list(value[-1]), fold)
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            return _single(op, value, fold)
        return None
    return None


def _chars_of(items: Items, fold: bool) -> frozenset[str]:
    """Every character ``items`` can match anywhere (all of them, for anything unusual)."""
    found: set[str] = set()
    for op, value in items:
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        if op in _REPEATS:
            found |= _chars_of(list(value[2]), fold)
        elif op == sre.SUBPATTERN:
            found |= _chars_of(list(value[-1]), fold)
        elif op == sre.BRANCH:
            for branch in value[1]:
                found |= _chars_of(list(branch), fold)
        else:
            found |= _single(op, value, fold) or _EVERY
    return frozenset(found)


def _single(op: Any, value: Any, fold: bool) -> frozenset[str] | None:
    """The characters one single-character element matches; every one for anything else."""
    if op == sre.LITERAL:
        char = chr(value)
        # a character beyond the samples stands for itself, in both cases when case is folded
        itself = {char, char.lower(), char.upper()} if fold else {char}
        return frozenset(c for c in _SAMPLES if _same(c, char, fold)) or frozenset(itself)
    if op == sre.NOT_LITERAL:
        return frozenset(c for c in _SAMPLES if not _same(c, chr(value), fold))
    if op == sre.ANY:
        return frozenset(c for c in _SAMPLES if c != "\n")
    if op == sre.IN:
        return frozenset(c for c in _SAMPLES if _in_class(c, list(value), fold))
    return _EVERY


def _same(a: str, b: str, fold: bool) -> bool:
    return a == b or (fold and a.lower() == b.lower())


def _in_class(char: str, members: Items, fold: bool) -> bool:
    negate = bool(members) and members[0][0] == sre.NEGATE
    hit = False
    for op, value in members[1:] if negate else members:
        if op == sre.LITERAL:
            hit = _same(char, chr(value), fold)
        elif op == sre.RANGE:
            low, high = value
            hit = low <= ord(char) <= high or (
                fold and any(low <= ord(c) <= high for c in (char.lower(), char.upper()))
            )
        elif op == sre.CATEGORY:
            pattern = _CATEGORIES.get(value)
            hit = pattern is None or pattern.fullmatch(char) is not None
        else:
            hit = True
        if hit:
            break
    return hit != negate
