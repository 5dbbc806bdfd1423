"""The config cache gives back the last load only while none of its files has changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config, watched_files
from monitor.config.cache import cache_file, config_digest, read_cached
from monitor.errors import ConfigError

RULE = "name: {name}\nnotify: all\nmatch: {{any: [{term}, '@places']}}\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FEED_HOST", "news.example.org")
    (tmp_path / "rules" / "lists").mkdir(parents=True)
    (tmp_path / "rules" / "lists" / "places.yaml").write_text("terms: [China, Shanghai]\n")
    (tmp_path / "rules" / "closure.yaml").write_text(RULE.format(name="closure", term="closes"))
    path = tmp_path / "monitor.yaml"
    write_config(path, sources=1)
    return path


def write_config(path: Path, *, sources: int) -> None:
    lines = "".join(
        f"  - {{name: wire-{n}, feed: 'https://${{FEED_HOST}}/{n}.xml'}}\n" for n in range(sources)
    )
    path.write_text(
        f"state: state/m.db\nrules: rules\nsources:\n{lines}"
        "channels:\n  console: {console: {format: text}}\n"
    )


def hit(path: Path) -> bool:
    digest = config_digest(path)
    return read_cached(path, digest, lambda _: path.parent / "rules", watched_files) is not None


def test_a_second_load_with_nothing_changed_comes_from_the_cache_and_equals_the_first(
    config: Path,
) -> None:
    assert not hit(config)
    first = load_config(config, cached=True)
    assert hit(config)
    again = load_config(config, cached=True)
    assert again.settings == first.settings
    assert [r.name for r in again.rules] == [r.name for r in first.rules]
    assert again.rules[0].expr == first.rules[0].expr


def test_an_edit_to_the_config_is_read(config: Path) -> None:
    load_config(config, cached=True)
    write_config(config, sources=3)
    assert not hit(config)
    assert [s.name for s in load_config(config, cached=True).settings.sources] == [
        "wire-0",
        "wire-1",
        "wire-2",
    ]


def test_a_changed_environment_variable_is_read(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_config(config, cached=True)
    monkeypatch.setenv("FEED_HOST", "other.example.org")
    source = load_config(config, cached=True).settings.sources[0]
    assert "other.example.org" in str(getattr(source, "feed", ""))


@pytest.mark.parametrize("change", ["edit rule", "add rule", "remove rule", "edit list"])
def test_a_change_to_the_rule_files_is_read(config: Path, change: str) -> None:
    rules = config.parent / "rules"
    load_config(config, cached=True)
    if change == "edit rule":
        (rules / "closure.yaml").write_text(RULE.format(name="closure", term="shuts"))
    elif change == "add rule":
        (rules / "exit.yaml").write_text(RULE.format(name="exit", term="exits"))
    elif change == "remove rule":
        (rules / "exit.yaml").write_text(RULE.format(name="exit", term="exits"))
        load_config(config, cached=True)
        (rules / "exit.yaml").unlink()
    else:
        (rules / "lists" / "places.yaml").write_text("terms: [China, Shenzhen]\n")
    assert not hit(config)
    loaded = load_config(config, cached=True)
    reference = load_config(config)
    assert [r.name for r in loaded.rules] == [r.name for r in reference.rules]
    assert [r.expr for r in loaded.rules] == [r.expr for r in reference.rules]


def test_a_broken_edit_is_reported_not_hidden_by_the_cache(config: Path) -> None:
    load_config(config, cached=True)
    config.write_text(config.read_text().replace("sources:", "sources_typo:"))
    with pytest.raises(ConfigError, match="sources_typo"):
        load_config(config, cached=True)
    # and a load with problems keeps nothing
    (config.parent / "rules" / "closure.yaml").write_text("name: closure\nmatch: {bogus: x}\n")
    write_config(config, sources=1)
    with pytest.raises(ConfigError):
        load_config(config, cached=True)
    assert not hit(config)


def test_an_unreadable_cache_is_read_past(config: Path) -> None:
    load_config(config, cached=True)
    where = cache_file(config)
    assert where is not None
    where.write_bytes(b"not a pickle")
    assert len(load_config(config, cached=True).settings.sources) == 1
    assert hit(config)  # and written again


def test_the_cache_can_be_turned_off(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", "off")
    assert cache_file(config) is None
    load_config(config, cached=True)
    assert not (config.parent / "cache").exists()


def test_a_cache_file_others_can_write_is_not_read(config: Path) -> None:
    load_config(config, cached=True)
    where = cache_file(config)
    assert where is not None
    assert hit(config)
    where.chmod(0o666)
    assert not hit(config)
    # the next load reads the files and writes a private cache again
    assert len(load_config(config, cached=True).settings.sources) == 1
    assert where.stat().st_mode & 0o077 == 0
    assert hit(config)
