"""The files around the code: compose, Dockerfile, Makefile and CI refer to what exists."""

from __future__ import annotations

import yaml

from tests.e2e_support import ROOT


def test_compose_file_parses_and_mounts_what_exists() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    monitor = compose["services"]["monitor"]
    assert monitor["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    for volume in monitor["volumes"]:
        host = volume.split(":")[0]
        assert (ROOT / host).exists(), host
    assert "mailpit" in compose["services"]
    assert compose["services"]["mailpit"]["ports"]


def test_dockerfile_copies_only_paths_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY"):
            for path in line.split()[1:-1]:
                assert (ROOT / path).exists(), path


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "\nmake test\n" in ci
