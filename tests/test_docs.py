"""The documentation says what the code does: the options reference is the command line's own, the
README's worked example is what `make demo` prints, and the README stays a short user's guide."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_options_reference_matches_the_command_line():
    from tabcompress.cli.reference import reference

    assert (ROOT / "docs" / "options.md").read_text() == reference(), \
        "docs/options.md has drifted from the command line: run `make docs`"


def test_readme_is_a_short_users_guide_covering_every_command():
    import typer.main

    from tabcompress.cli import app

    assert len(README.splitlines()) <= 320
    for command in typer.main.get_command(app).commands:
        assert f"tabcompress {command}" in README, command
    for words in (r"\d\d:\d\d[–-]\d\d:\d\d", r"\bUTC\b", r"\bthis release\b", r"\b(ms\d?|tc|tao|mix)_[ab]\b"):
        assert not re.search(words, README), words  # no lab notebook: timestamps, run names


def stable(text: str) -> str:
    """The output with what depends on the machine masked: stage times, the wall-time line and
    latencies; rich's column widths and line breaks folded away."""
    text = " ".join(text.split())
    text = re.sub(r"─+", "─", text)
    text = re.sub(r"done in \d+\.\d s", "done in _ s", text)
    text = re.sub(r"wall time [\d.]+ s \([^)]*\)", "wall time _", text)
    return re.sub(r"[\d.]+ ms", "_ ms", text)


def test_readme_worked_example_is_what_make_demo_prints(tmp_path):
    block = re.search(r"<!-- demo-output -->\s*```\n(.*?)```\s*<!-- /demo-output -->", README, re.S)
    assert block, "the README's worked example has no demo-output block"
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    make = (ROOT / "Makefile").read_text()
    assert "sample_data/train_teacher.py sample_data/bank_marketing_4k.csv $(DEMO)/teacher.joblib" in make
    assert "--out $(DEMO) --seed 0" in make
    teacher = subprocess.run([sys.executable, "sample_data/train_teacher.py", "sample_data/bank_marketing_4k.csv",
                              "demo-out/teacher.joblib"], cwd=tmp_path, check=True, capture_output=True, text=True,
                             timeout=600)
    done = run_cli("distill", "demo-out/teacher.joblib", "sample_data/bank_marketing_4k.csv", "--out", "demo-out",
                   "--seed", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = teacher.stderr + done.stderr
    assert stable(printed) == stable(block.group(1)), printed
