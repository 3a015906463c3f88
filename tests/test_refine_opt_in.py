"""Tree refinement is opt-in: ``--refine`` ships exactly the trees the previous default shipped.

tests/data/refine_default_trees.json holds, for three runs, every node of the tree that ``tabcompress
distill`` wrote when refinement was on by default (recorded before the default changed; its ``about``
and ``versions`` say how). The runs cover a binary and a multiclass teacher, one start winning on all
rows, and the path where the starts are screened on a 50,000-row sample (60× synthetic rows).
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
import sklearn
from conftest import DATA, run_cli

RECORDED = json.loads((DATA / "refine_default_trees.json").read_text())
TEACHERS = {"magic_ratio2_seed0": ("rf_magic", "magic_1200.csv"),
            "covertype_ratio2_seed0": ("pipe_covertype", "covertype_1500.csv"),
            "magic_ratio60_seed1": ("rf_magic", "magic_1200.csv")}


@pytest.mark.parametrize("case", sorted(TEACHERS))
def test_refine_reproduces_the_previous_default(teachers, tmp_path, case):
    if RECORDED["versions"]["scikit-learn"] != sklearn.__version__:
        pytest.skip(f"recorded with scikit-learn {RECORDED['versions']['scikit-learn']}: the teachers differ")
    recorded = RECORDED["cases"][case]
    teacher, data = TEACHERS[case]
    out = tmp_path / "out"
    # recorded before runs kept validation rows aside (--validation-size 0 trains as those runs did) and
    # before auto gave a forest's tree students rows from its trees (MUNGE alone then); the baseline and the
    # TSC score come after the student and do not touch it
    done = run_cli("distill", teachers[teacher], DATA / data, "--out", out, "--quiet", "--json", "--refine",
                   "--validation-size", "0", "--generator", "munge", "--no-baseline", "--no-tsc", *recorded["args"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    refinement = report["student"]["refinement"]
    assert (refinement["start"], refinement["screen_rows"]) == (recorded["refinement_start"], recorded["screen_rows"])
    assert report["metrics"]["student"]["fidelity"] == recorded["fidelity"]
    # the student holds scikit-learn's node arrays (students/tree.py), under its own names
    tree = joblib.load(out / "student.joblib")
    for name, held in (("feature", "feature_"), ("children_left", "left_"), ("children_right", "right_"),
                       ("missing_go_to_left", "missing_left_")):
        np.testing.assert_array_equal(getattr(tree, held), np.asarray(recorded[name]), err_msg=name)
    np.testing.assert_array_equal(tree.threshold_, np.asarray(recorded["threshold"]))
    np.testing.assert_array_equal(tree.value_, np.asarray(recorded["value"]))
    assert report["settings"]["student"]["refine_passes"] == 3
    assert report["settings"]["student"]["refine_starts"] == 6


def test_refine_is_the_old_default_spelled_out(magic):
    """``refine=True`` resolves to what the previous default resolved to: 3 passes from 6 starts for
    classification, and no refinement for regression; without it no tree is refined."""
    from tabcompress.students import TreeStudent

    X, y = magic.drop(columns="target"), magic["target"].to_numpy()
    soft = np.column_stack([1 - y, y]).astype(float)
    classes = np.array([0, 1])
    on = TreeStudent(max_depth=4, refine=True, random_state=0).fit(X, soft, classes=classes)
    spelled = TreeStudent(max_depth=4, refine_passes=3, refine_starts=6, random_state=0).fit(X, soft, classes=classes)
    np.testing.assert_array_equal(on.threshold_, spelled.threshold_)
    assert on.fitted_settings() == {"max_depth": 4, "refine_passes": 3, "refine_starts": 6, "lookahead": 1}
    off = TreeStudent(max_depth=4, random_state=0).fit(X, soft, classes=classes)
    assert off.refinement_ is None and off.fitted_settings() == {"max_depth": 4, "refine_passes": 0,
                                                                 "refine_starts": 1, "lookahead": 5}
    values = X["FLength"].to_numpy()
    regression = TreeStudent(max_depth=4, refine=True, random_state=0).fit(X, values)
    assert regression.refinement_ is None


def test_refine_starts_alone_refines_nothing_and_says_so(teachers, magic):
    from tabcompress import distill

    result = distill(str(teachers["rf_magic"]), magic, generator="none", tsc=False, refine_starts=3)
    assert result.report["student"]["refined"] is False
    assert any("--refine-starts is used only" in note for note in result.report["notes"])
