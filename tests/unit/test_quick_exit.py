"""Leaving without the interpreter's teardown: handlers run, output is kept, threads are
waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from monitor.quick_exit import exit_code


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_handlers_run_and_buffered_output_is_flushed_before_the_process_ends() -> None:
    done = run(
        """
        import atexit, sys
        from monitor.quick_exit import leave
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("buffered, no newline; ")
        leave(3)
        print("not reached")
        """
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline; handler ran\n"


def test_a_running_thread_that_is_not_a_daemon_keeps_the_usual_exit() -> None:
    done = run(
        """
        import threading, time
        from monitor.quick_exit import leave
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
        leave(0)
        print("leave returned")
        """
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["leave returned", "thread finished"]


@pytest.mark.parametrize(
    ("code", "status", "said"),
    [(None, 0, ""), (0, 0, ""), (4, 4, ""), ("Error: bad input", 1, "Error: bad input\n")],
)
def test_the_status_is_the_one_python_gives_for_the_same_exit(
    code: object, status: int, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(SystemExit(code)) == status
    assert capsys.readouterr().err == said


def test_a_profiler_gets_to_write_its_report() -> None:
    done = run(
        """
        import cProfile, io, pstats, sys
        from monitor.quick_exit import leave
        profiler = cProfile.Profile()
        profiler.enable()
        leave(0)
        profiler.disable()
        print("leave returned")
        """
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["leave returned"]
