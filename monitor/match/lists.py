"""Named term lists, shared by rules: ``rules/lists/NAME.yaml``.

A list file names its terms; an entry is a term, or a mapping of one name to its aliases, so that
evidence names the company however the story spelled it::

    description: Foreign technology companies
    terms:
      - Microsoft
      - AWS: [Amazon Web Services]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config.yamlfile import Document, read_yaml
from monitor.errors import ConfigError, Problem

LISTS_FOLDER = "lists"
_LIST_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class ListEntry:
    #: the name evidence reports
    label: str
    #: the term as written: the name itself or one of its aliases
    term: str
    #: where the term is written, for problems found when it is compiled
    line: int
    col: int


@dataclass(frozen=True)
class TermList:
    name: str
    path: str
    entries: tuple[ListEntry, ...]


def _entries(doc: Document, terms: Any) -> tuple[list[ListEntry], list[Problem]]:
    if not isinstance(terms, list) or not terms:
        return [], [doc.problem(("terms",), "terms: needs a non-empty list")]
    entries: list[ListEntry] = []
    problems: list[Problem] = []
    for index, entry in enumerate(terms):
        path = ("terms", index)
        if isinstance(entry, str):
            entries.append(ListEntry(entry, entry, *doc.mark(path)))
        elif isinstance(entry, dict) and len(entry) == 1:
            ((label, aliases),) = entry.items()
            aliases = [aliases] if isinstance(aliases, str) else aliases
            if not isinstance(label, str) or not isinstance(aliases, list):
                problems.append(doc.problem(path, "an entry with aliases is  NAME: [alias, ...]"))
                continue
            entries.append(ListEntry(label, label, *doc.mark((*path, label), key=True)))
            for i, alias in enumerate(aliases):
                if not isinstance(alias, str):
                    problems.append(doc.problem((*path, label, i), "an alias is a string"))
                    continue
                entries.append(ListEntry(label, alias, *doc.mark((*path, label, i))))
        else:
            problems.append(doc.problem(path, "an entry is a term or  NAME: [alias, ...]"))
    return entries, problems


def read_list(path: Path) -> tuple[TermList | None, list[Problem]]:
    doc = read_yaml(path)
    name = path.stem
    if not _LIST_NAME.fullmatch(name):
        return None, [
            doc.problem((), f"a list file is named [a-z][a-z0-9_]*.yaml, not {path.name}")
        ]
    if not isinstance(doc.data, dict):
        return None, [doc.problem((), "a list file is a mapping with terms:")]
    problems = [
        doc.problem((key,), f"unknown key {key!r}: use description or terms", key=True)
        for key in doc.data
        if key not in ("description", "terms")
    ]
    entries, entry_problems = _entries(doc, doc.data.get("terms"))
    problems += entry_problems
    if problems:
        return None, problems
    return TermList(name, str(path), tuple(entries)), []


def load_lists(rules_dir: Path) -> dict[str, TermList]:
    """Every list under ``rules_dir/lists``; a problem in any of them fails the load."""
    folder = rules_dir / LISTS_FOLDER
    if not folder.is_dir():
        return {}
    lists: dict[str, TermList] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            found, file_problems = read_list(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(file_problems)
        if found is not None:
            lists[found.name] = found
    if problems:
        raise ConfigError(problems)
    return lists
