"""The settings and rules of the last load, kept until one of the files they came from changes.

`monitor check` run every few minutes over ten thousand sources and a thousand rule files spent
a second of each start reading and validating the same YAML again. The cache holds what that
load gave, with the digest of everything it was read from: the config file and the values of
the environment variables it names, every rule and list file (a file added or removed counts),
the folder the rules were found in, and the monitor's own code. Any difference, an unreadable
cache, or a cache written by another version is a miss: the files are read again as usual and
the cache replaced. A load that finds a problem never writes one.

The cache is a pickle in the user's cache folder (``$MONITOR_CACHE_DIR``, else
``$XDG_CACHE_HOME/news-monitor``, else ``~/.cache/news-monitor``), one file per config path,
written to a temporary file and renamed, readable by its owner only. ``MONITOR_CACHE_DIR=off``
turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.config.yamlfile import ENV_REFERENCE

if TYPE_CHECKING:
    from monitor.config.schema import Settings
    from monitor.match.rule import Rule

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "MONITOR_CACHE_DIR"
#: the format of the file; a cache of another format is a miss
FORMAT = 1


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class _Entry:
    format: int
    code: str
    config: str
    rules_dir: str
    rule_files: dict[str, str]
    loaded: Loaded


def cache_file(config_path: Path) -> Path | None:
    """Where the cache of ``config_path`` is kept; None when caching is off."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen == "off":
        return None
    if chosen:
        folder = Path(chosen)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        try:
            folder = (Path(xdg) if xdg else Path.home() / ".cache") / "news-monitor"
        except (KeyError, RuntimeError):  # no home folder (a service account): no cache
            return None
    name = hashlib.sha256(str(config_path.resolve()).encode()).hexdigest()[:32]
    return folder / f"config-{name}.pickle"


def config_digest(config_path: Path) -> str | None:
    """The config file's bytes and the value of every environment variable it names."""
    try:
        raw = config_path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(raw)
    names = sorted(set(ENV_REFERENCE.findall(raw.decode("utf-8", "replace"))))
    for name in names:
        value = os.environ.get(name)
        digest.update(f"\0{name}\0{'' if value is None else '=' + value}".encode())
    return digest.hexdigest()


def file_digests(paths: Iterable[Path]) -> dict[str, str]:
    found = {}
    for path in paths:
        with contextlib.suppress(OSError):
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The Python, pydantic (the settings are its models) and the monitor's modules (their
    sizes and times): pickled objects are only read back by the code that wrote them."""
    import pydantic

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{sys.version}\0{pydantic.VERSION}".encode())
    for module in sorted(package.rglob("*.py")):
        stat = module.stat()
        digest.update(f"{module.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def read_cached(
    config_path: Path,
    config: str | None,
    rules_dir_of: Callable[[Settings], Path],
    rule_files: Callable[[Path], list[Path]],
) -> Loaded | None:
    """The cached load of ``config_path``, whose ``config_digest`` is ``config``, if nothing it
    came from has changed."""
    where = cache_file(config_path)
    if where is None or config is None:
        return None
    try:
        with where.open("rb") as handle:
            if not _own_and_private(os.fstat(handle.fileno())):
                logger.warning("config cache %s is not yours alone; not reading it", where)
                return None
            # written by this monitor for this user (checked just above)
            entry = pickle.load(handle)  # noqa: S301
    except FileNotFoundError:
        return None
    except Exception as exc:  # truncated, or classes that changed: read the files again
        logger.debug("config cache %s unreadable: %s", where, exc)
        return None
    if not isinstance(entry, _Entry) or entry.format != FORMAT:
        return None
    if entry.code != code_digest() or entry.config != config:
        return None
    rules_dir = rules_dir_of(entry.loaded.settings)
    if str(rules_dir) != entry.rules_dir:
        return None
    if file_digests(rule_files(rules_dir)) != entry.rule_files:
        return None
    return entry.loaded


def _own_and_private(stat: os.stat_result) -> bool:
    """A pickle runs code as it is read: only a file of this user that no one else can write."""
    return stat.st_uid == os.geteuid() and not stat.st_mode & 0o022


def write_cache(
    config_path: Path, config: str | None, rules_dir: Path, files: dict[str, str], loaded: Loaded
) -> None:
    """Keep ``loaded`` for the next start, with the digests of its files taken before they were
    read (a file changed meanwhile is then a miss, never a stale hit); a cache that cannot be
    written is only logged."""
    where = cache_file(config_path)
    if where is None or config is None:
        return
    entry = _Entry(FORMAT, code_digest(), config, str(rules_dir), files, loaded)
    try:
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=where.parent, prefix=".config-")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(entry, out, pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, where)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except (OSError, pickle.PicklingError) as exc:
        logger.debug("config cache %s not written: %s", where, exc)
