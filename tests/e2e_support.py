"""Run the real ``monitor`` command in a subprocess against a config written for the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_RULES = ROOT / "rules"

STORY = {
    "guid": "story-aws-shanghai",
    "title": "US cloud provider AWS shuts down its AI research lab in Shanghai",
    "link": "https://news.example.org/tech/aws-shanghai-lab",
    "description": "Amazon Web Services is closing the Shanghai lab, citing a strategic "
    "realignment between China and the United States.",
}
UNRELATED = [
    {
        "guid": "weather-1",
        "title": "Heavy rain expected across southern England this weekend",
        "link": "https://news.example.org/weather/rain",
        "description": "Forecasters issued yellow warnings for several counties.",
    },
    {
        "guid": "sport-1",
        "title": "Local club wins the regional cup after a penalty shoot-out",
        "link": "https://news.example.org/sport/cup",
        "description": "The final was settled after extra time.",
    },
    {
        "guid": "lookalike-1",
        "title": "Microsoft opens a new AI lab in Beijing",
        "link": "https://news.example.org/tech/msft-beijing",
        "description": "The US company is expanding its research work in China.",
    },
]


def rss(items: list[dict[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{i['title']}</title><link>{i['link']}</link>"
        f'<guid isPermaLink="false">{i["guid"]}</guid>'
        f"<description>{i['description']}</description>"
        "<pubDate>Tue, 03 Sep 2024 08:30:00 GMT</pubDate></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Test wire</title><link>https://news.example.org/</link>{entries}"
        "</channel></rss>"
    ).encode()


@dataclass
class MonitorCli:
    """A config folder and the environment the command runs with."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.workdir / "monitor.yaml"

    def write_config(self, text: str) -> None:
        self.config.write_text(text)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(self.env)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "monitor", "--config", str(self.config), *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self._env(),
            cwd=self.workdir,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            cwd=self.workdir,
        )


def stop(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    """SIGTERM, then the exit code and output; SIGKILL only if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"monitor did not stop on SIGTERM within {timeout} s:\n{err}"
        ) from None
    return process.returncode, out, err
