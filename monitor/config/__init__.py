"""monitor.yaml and the rule files -> validated, typed values; all problems reported at once.

The loading (monitor.config.loading) is imported when first asked for: the rule language reads
its files through this package's YAML reader, and the processes that only match rules (the
parsing workers, the store's process) then start without pydantic and the settings' models, a
third of what they would import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.config.loading import (
        RULE_SUFFIXES,
        Config,
        load_config,
        load_rules,
        load_settings,
        load_templates_of,
        resolve_rules_dir,
        rule_files,
        watched_file_stats,
        watched_files,
    )

__all__ = [
    "RULE_SUFFIXES",
    "Config",
    "load_config",
    "load_rules",
    "load_settings",
    "load_templates_of",
    "resolve_rules_dir",
    "rule_files",
    "watched_file_stats",
    "watched_files",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from monitor.config import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
