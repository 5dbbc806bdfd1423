"""Reading monitor.yaml and the rule files: settings, rules, templates, all problems at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from monitor.config import schema
from monitor.config.schema import Settings
from monitor.config.yamlfile import read_yaml, validation_problems
from monitor.errors import ConfigError, Problem

if TYPE_CHECKING:
    from monitor.match.rule import Rule
    from monitor.notify.templates import Templates

RULE_SUFFIXES = (".yaml", ".yml")


def _vocabulary() -> set[str]:
    words: set[str] = set()
    for value in vars(schema).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            for name, info in value.model_fields.items():
                words.add(info.alias or name)
    return words


@dataclass(frozen=True)
class Config:
    """Everything a run needs: settings, rules, and the folder relative paths start from."""

    path: Path
    settings: Settings
    rules: tuple[Rule, ...]
    templates: Templates

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def rules_dir(self) -> Path:
        return resolve_rules_dir(self.path, self.settings)


def resolve_rules_dir(config_path: Path, settings: Settings) -> Path:
    """A relative ``rules:`` is looked up beside the config file, then in the current folder.

    So both a config kept with its rules and a config kept elsewhere (``--config
    ~/monitor.yaml`` run from a checkout) find them.
    """
    configured = Path(settings.rules)
    beside = config_path.parent / configured
    if configured.is_absolute() or beside.is_dir() or not configured.is_dir():
        return beside
    return configured


def load_settings(path: Path) -> Settings:
    if not path.exists():
        raise ConfigError.single(str(path), 1, 1, "config file not found")
    doc = read_yaml(path, interpolate=True)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError.single(str(path), 1, 1, "monitor.yaml must be a mapping of settings")
    try:
        settings = Settings.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, _vocabulary())) from exc
    unknown = [
        doc.problem(("health", "notify", index), f"unknown channel {name!r}")
        for index, name in enumerate(settings.health.notify)
        if name not in settings.channels
    ]
    if unknown:
        raise ConfigError(unknown)
    return settings


def rule_files(rules_dir: Path) -> list[Path]:
    """Every rule file under ``rules_dir``; named term lists live apart, in ``lists/``."""
    # imported here: the rule language reads its own settings from this package
    from monitor.match.lists import LISTS_FOLDER

    lists = rules_dir / LISTS_FOLDER
    return sorted(
        p
        for p in rules_dir.rglob("*")
        if p.suffix in RULE_SUFFIXES and p.is_file() and lists not in p.parents
    )


def watched_files(rules_dir: Path) -> list[Path]:
    """The rule files and the term lists: an edit to any of them reloads the rules."""
    return [Path(path) for path, _, _ in watched_file_stats(rules_dir)]


def watched_file_stats(rules_dir: Path) -> list[tuple[str, int, int]]:
    """``watched_files`` as path text, each with its modification time and size: what the
    daemon compares every two seconds to see an edit.

    Walked with os.scandir, as ``Path.rglob`` walks it (a linked folder is not entered): with a
    thousand rule files, rglob, Path objects and their sorting took a fifth of the time of a
    daemon polling 10,000 unchanged feeds.
    """
    found: list[tuple[str, int, int]] = []
    folders = [str(rules_dir)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        elif os.path.splitext(entry.name)[1] in RULE_SUFFIXES and entry.is_file():
                            stat = entry.stat()
                            found.append((entry.path, stat.st_mtime_ns, stat.st_size))
                    except OSError:  # removed, or a broken link, since the folder was read
                        continue
        except OSError:  # a folder that is missing or that cannot be read
            continue
    found.sort()
    return found


def load_rules(rules_dir: Path, channels: set[str]) -> tuple[Rule, ...]:
    """Every rule in ``rules_dir``; a problem in any file fails the whole load, nothing partial.

    A rule whose examples no longer hold is a problem too, so an edit that breaks a rule is caught
    by ``monitor validate`` and refused by a running daemon.
    """
    from monitor.match.examples import failing_examples
    from monitor.match.lists import load_lists
    from monitor.match.syntax import parse_rules

    if not rules_dir.is_dir():
        raise ConfigError.single(str(rules_dir), 1, 1, "rules folder not found")
    problems: list[Problem] = []
    try:
        lists = load_lists(rules_dir)
    except ConfigError as exc:
        problems.extend(exc.problems)
        lists = {}
    rules: list[Rule] = []
    first_seen: dict[str, Rule] = {}
    for path in rule_files(rules_dir):
        try:
            doc = read_yaml(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if doc.data is None:
            continue
        found, file_problems = parse_rules(doc, channels, lists)
        problems.extend(file_problems)
        for rule in found:
            problems.extend(failing_examples(rule))
            if rule.name in first_seen:
                other = first_seen[rule.name]
                problems.append(
                    Problem(
                        rule.path,
                        rule.line,
                        1,
                        f"duplicate rule name {rule.name!r} (also at {other.path}:{other.line})",
                    )
                )
                continue
            first_seen[rule.name] = rule
            rules.append(rule)
    if problems:
        raise ConfigError(problems)
    return tuple(rules)


def load_templates_of(path: Path, settings: Settings) -> Templates:
    from monitor.notify.templates import NO_TEMPLATES, load_templates

    if settings.templates is None:
        return NO_TEMPLATES
    folder = Path(settings.templates)
    return load_templates(folder if folder.is_absolute() else path.parent / folder)


def load_config(
    path: Path,
    *,
    on_settings: Callable[[Settings], None] | None = None,
    cached: bool = False,
) -> Config:
    """Settings, rules and templates together; problems in all of them are reported at once.

    ``on_settings`` is called with valid settings before the rules and templates are read.
    With ``cached``, settings and rules come from the cache of the last load when none of their
    files changed since (config/cache.py), and a load that finds no problem is kept there.
    """
    from monitor.config import cache

    def rules_dir_of(settings: Settings) -> Path:
        return resolve_rules_dir(path, settings)

    digest = cache.config_digest(path) if cached else None
    kept = cache.read_cached(path, digest, rules_dir_of, watched_files) if cached else None
    settings = kept.settings if kept is not None else load_settings(path)
    if on_settings is not None:
        on_settings(settings)
    problems: list[Problem] = []
    rules: tuple[Rule, ...] = ()
    if kept is not None:
        rules = kept.rules
    else:
        rules_dir = rules_dir_of(settings)
        # taken before the files are read: one edited meanwhile makes the next start a miss
        read = cache.file_digests(watched_files(rules_dir)) if cached else {}
        try:
            rules = load_rules(rules_dir, set(settings.channels))
        except ConfigError as exc:
            problems += exc.problems
        else:
            if cached:
                cache.write_cache(path, digest, rules_dir, read, cache.Loaded(settings, rules))
    try:
        templates = load_templates_of(path, settings)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return Config(path=path, settings=settings, rules=rules, templates=templates)
