"""The console script as a process: its clock starts with the process, and it exits without the
interpreter's teardown, yet with every exit handler run and its exit code kept."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="elsewhere the clock starts at the CLI's import")
def test_the_clock_starts_with_the_process():
    # half a second passes before the CLI is imported: a time budget counts it, as a user's stopwatch does
    done = _python("import time\ntime.sleep(0.5)\nfrom tabcompress.cli.app import process_started\n"
                   "print(time.perf_counter() - process_started())")
    assert done.returncode == 0, done.stderr
    assert 0.5 <= float(done.stdout) < 30


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["distill", "--no-such-option"], 2)])
def test_console_exit_keeps_the_code_and_runs_exit_handlers(args, code):
    done = _python("import atexit, sys\n"
                   "atexit.register(lambda: print('exit handler ran', flush=True))\n"
                   "from tabcompress.cli.app import console_main\n"
                   f"sys.argv = ['tabcompress', *{args!r}]\nconsole_main()")
    assert done.returncode == code, done.stderr
    assert done.stdout.endswith("exit handler ran\n")
    assert "Traceback" not in done.stderr
