"""The command line's help: grouped, with choices listed, quick, and without importing the heavy
libraries (torch, ctgan, scikit-learn) that only a run needs."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_cli

import tabcompress


def test_version():
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout == f"tabcompress {tabcompress.__version__}\n"


def test_distill_help_groups_options_and_lists_choices():
    done = run_cli("distill", "--help")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    panels = ["Options most runs need", "Data", "Synthetic rows", "Generator training", "Student", "Research options"]
    positions = [out.index(f"─ {panel} ─") for panel in panels]
    assert positions == sorted(positions)  # the options most runs need come first
    main = out[positions[0]:positions[1]]
    for option in ("--target", "--student", "--max-depth", "--out", "--json", "--min-fidelity", "--seed",
                   "--time-budget", "--safe", "--quiet", "--config"):
        assert option in main, option
    for choices in ("<auto|cpu|cuda>", "<joblib|skops>"):
        assert choices in out, choices
    assert "Student model: tree, mlp, gbdt" in main  # the students are named in --student's help
    assert "…" not in out  # no option name or word cut short in an 80-column terminal
    assert "--refine" in out and "patent" in out


def test_help_does_not_import_torch_ctgan_or_scikit_learn():
    code = ("import sys\nfrom tabcompress.cli import main\n"
            "for args in (['--help'], ['distill', '--help'], ['score', '--help'], ['condense', '--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'ctgan', 'sklearn', 'xgboost', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_completion_is_offered():
    done = run_cli("--help")
    assert done.returncode == 0 and "--install-completion" in done.stdout
