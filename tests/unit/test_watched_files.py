"""The rule files a daemon watches for edits: those ``Path.rglob`` finds, each with its stat."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.config import RULE_SUFFIXES, watched_file_stats, watched_files


def rglob_reference(rules_dir: Path) -> list[Path]:
    """How the rule files were found before: pathlib's walk, which does not enter a link to a
    folder but follows a link to a file."""
    return sorted(p for p in rules_dir.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())


def build_tree(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    for name in [
        "a.yaml",
        "b.yml",
        "notes.txt",
        ".hidden.yaml",
        ".yaml",
        "upper.YAML",
        "two.tar.yaml",
        "lists/places.yaml",
        "sub/deep/er/x.yaml",
        "sub/deep/readme.md",
    ]:
        (rules / name).parent.mkdir(parents=True, exist_ok=True)
        (rules / name).write_text("terms: []\n")
    (rules / "folder.yaml").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inside-link.yaml").write_text("terms: []\n")
    (rules / "linked-folder").symlink_to(outside, target_is_directory=True)
    (rules / "linked-file.yaml").symlink_to(outside / "inside-link.yaml")
    (rules / "broken.yaml").symlink_to(tmp_path / "missing.yaml")
    return rules


def test_the_walk_finds_what_rglob_finds(tmp_path: Path) -> None:
    rules = build_tree(tmp_path)
    expected = rglob_reference(rules)
    assert sorted(watched_files(rules)) == expected
    # the tree holds a file of each kind the two walks could disagree on
    names = {p.name for p in expected}
    assert {"linked-file.yaml", ".hidden.yaml", "x.yaml"} <= names
    assert not {"inside-link.yaml", "broken.yaml", "folder.yaml", "upper.YAML"} & names


def test_each_file_comes_with_its_time_and_size_and_an_edit_changes_them(
    tmp_path: Path,
) -> None:
    rules = build_tree(tmp_path)
    before = watched_file_stats(rules)
    assert [(path, os.stat(path).st_mtime_ns, os.stat(path).st_size) for path, _, _ in before] == (
        before
    )
    (rules / "sub/deep/er/x.yaml").write_text("terms: [China]\n")
    after = watched_file_stats(rules)
    changed = [a for a, b in zip(before, after, strict=True) if a != b]
    assert [Path(path).name for path, _, _ in changed] == ["x.yaml"]


def test_a_missing_folder_has_no_files(tmp_path: Path) -> None:
    assert watched_file_stats(tmp_path / "nowhere") == []
    assert rglob_reference(tmp_path / "nowhere") == []
