"""The validation search: its rules on students of known fidelity and size, and a run's search end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_cli

from tabcompress import Settings
from tabcompress.methods.search import DataOption, Search, data_options, validation_split

N_VAL = 200
CLASSES = np.array([0, 1])


class Known:
    """A stand-in student: agrees with the teacher on ``agree`` of the validation rows; pickles to about
    ``size`` bytes."""

    def __init__(self, agree: float, size: int):
        self.agree = agree
        self.payload = b"x" * size

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        right = int(round(self.agree * len(X)))
        return np.r_[np.ones(right, dtype=int), np.zeros(len(X) - right, dtype=int)]


def search(settings: Settings, table: dict) -> Search:
    """A Search whose fits look students up in ``table``: (family, depth, synthetic rows) → (agreement, bytes);
    students not in it are poor and big."""
    X_val = pd.DataFrame({"a": np.arange(N_VAL)})
    T_val = np.tile([0.0, 1.0], (N_VAL, 1))  # the teacher says 1 everywhere

    def fit(family, params, data):  # a key may also name the rows' generator
        key = (family, params.get("max_depth"), data.n_synthetic)
        return Known(*table.get((*key, data.generator), table.get(key, (0.5, 10**6))))

    return Search(settings, fit=fit, X_val=X_val, T_val=T_val, n_real=100, classes=CLASSES)


def judge_all(s: Search, table: dict) -> None:
    for family, depth, n in table:
        s.judge(family, {"max_depth": depth}, DataOption("munge" if n else "none", n))


TABLE = {("tree", 2, 400): (0.80, 1_000), ("tree", 4, 400): (0.90, 4_000), ("tree", 6, 400): (0.95, 12_000),
         ("tree", 8, 400): (0.96, 40_000), ("tree", 6, 0): (0.93, 11_000)}


def test_target_fidelity_takes_the_smallest_that_reaches_it():
    s = search(Settings.from_options(target_fidelity=0.94), TABLE)
    judge_all(s, TABLE)
    chosen, rule = s.choose()
    assert (chosen.params["max_depth"], chosen.data.n_synthetic) == (6, 400)
    assert "smallest reaching" in rule and not s.notes


def test_unreached_target_ships_the_most_faithful_with_a_note():
    s = search(Settings.from_options(target_fidelity=0.99), TABLE)
    judge_all(s, TABLE)
    chosen, _ = s.choose()
    assert chosen.params["max_depth"] == 8
    assert any("reaches fidelity 0.99" in n for n in s.notes)


def test_max_size_takes_the_most_faithful_inside_it():
    s = search(Settings.from_options(max_size="12KB"), TABLE)
    judge_all(s, TABLE)
    chosen, _ = s.choose()
    assert chosen.params["max_depth"] == 6 and chosen.bytes <= 12_000 and chosen.data.n_synthetic == 0
    s = search(Settings.from_options(max_size=100), TABLE)
    judge_all(s, TABLE)
    chosen, _ = s.choose()
    assert chosen.params["max_depth"] == 2 and any("no student tried is at most 100 bytes" in n for n in s.notes)


def test_the_settings_own_student_stays_unless_another_is_clearly_better_and_the_frontier_is_monotone():
    options = [DataOption("none", 0), DataOption("munge", 100), DataOption("munge", 400)]
    table = {("tree", 6, 0): (0.90, 11_000), ("tree", 6, 100): (0.91, 11_500), ("tree", 6, 400): (0.92, 12_000)}
    result = search(Settings(), table).run(options)
    assert result.chosen.data.n_synthetic == 400 and "no other was clearly more faithful" in result.rule
    assert not result.notes
    table[("tree", 6, 100)] = (0.99, 11_500)  # 20 more rows of 200 right: far beyond the noise
    result = search(Settings(), table).run(options)
    assert result.chosen.data.n_synthetic == 100 and "clearly more faithful" in result.rule
    s = search(Settings.from_options(max_size="1MB"), TABLE)
    result = s.run([DataOption("none", 0), DataOption("munge", 400)])
    fidelities = [c.fidelity for c in result.frontier()]
    assert fidelities == sorted(fidelities) and len(set(fidelities)) == len(fidelities)


def test_a_choice_below_real_rows_alone_is_noted():
    # under a size bound the real-rows-only twin is too big, so the student with synthetic rows ships
    table = {("tree", d, n): v for (f, d, n), v in TABLE.items()}
    table[("tree", 6, 0)] = (0.97, 13_000)
    s = search(Settings.from_options(max_size=12_500), table)
    result = s.run([DataOption("none", 0), DataOption("munge", 400)])
    assert result.chosen.data.n_synthetic == 400 and result.chosen.params["max_depth"] == 6
    assert any("than the same student on the real rows alone" in n for n in result.notes)


def test_synthetic_rows_that_hurt_on_the_validation_rows_make_way_for_the_real_rows_alone():
    # however slightly: the choice among synthetic rows keeps the settings' own within the noise, but the
    # rows must not make the student less faithful than the real rows alone (any generator, any AUC)
    options = [DataOption("none", 0), DataOption("munge", 100), DataOption("munge", 400)]
    table = {("tree", 6, 0): (0.90, 11_000), ("tree", 6, 100): (0.885, 11_500), ("tree", 6, 400): (0.895, 12_000)}
    result = search(Settings(), table).run(options)
    assert result.chosen.data.n_synthetic == 0 and sum(c.chosen for c in result.candidates) == 1
    assert result.rule.startswith("the real rows alone, since the synthetic rows did not help")
    assert any("is no more faithful" in n and "(0.8950 against 0.9000): it trains on the real rows alone" in n
               and "look unlike" not in n for n in result.notes)
    # a quarter of them made it more faithful than the real rows alone: the quarter ships
    table[("tree", 6, 100)] = (0.905, 11_500)
    fewer = search(Settings(), table).run(options)
    assert fewer.chosen.data.n_synthetic == 100 and fewer.rule.startswith("fewer synthetic rows")


def test_rows_that_do_not_look_real_must_earn_their_place():
    # CTGAN-like rows (a classifier tells them from real ones at AUC 0.99): the real rows alone ship
    # when the student trained on them is at least as faithful on the validation rows, however close
    options = [DataOption("none", 0), DataOption("ctgan", 100), DataOption("ctgan", 400)]
    table = {("tree", 6, 0): (0.90, 11_000), ("tree", 6, 100): (0.89, 11_500), ("tree", 6, 400): (0.90, 12_000)}
    plain = search(Settings(), table).run(options)
    assert plain.chosen.data.n_synthetic == 400  # level with the real rows alone: the settings' own stays
    doubtful = search(Settings(), table)
    doubtful.realism = lambda: 0.99
    result = doubtful.run(options)
    assert result.chosen.data.n_synthetic == 0 and result.chosen.chosen
    assert "the real rows alone" in result.rule and sum(c.chosen for c in result.candidates) == 1
    assert any("tells them apart at ROC AUC 0.99" in n and "trains on the real rows alone" in n for n in result.notes)
    # rows that do help still ship; so does a student whose real-rows twin breaks a size bound
    table[("tree", 6, 400)] = (0.91, 12_000)
    doubtful = search(Settings(), table)
    doubtful.realism = lambda: 0.99
    assert doubtful.run(options).chosen.data.n_synthetic == 400
    assert doubtful.detection_auc is None  # not measured: the rows helped
    # all of them hurt, a quarter of them helped: the quarter ships, not the real rows alone
    table[("tree", 6, 400)], table[("tree", 6, 100)] = (0.89, 12_000), (0.905, 11_500)
    doubtful = search(Settings(), table)
    doubtful.realism = lambda: 0.99
    fewer = doubtful.run(options)
    assert fewer.chosen.data.n_synthetic == 100 and "fewer synthetic rows" in fewer.rule
    assert any("trains on ctgan ×" in n and "(0.9050)" in n for n in fewer.notes)
    bounded = {("tree", d, n): v for (f, d, n), v in TABLE.items()}
    bounded[("tree", 6, 0)] = (0.97, 13_000)
    doubtful = search(Settings.from_options(max_size=12_500), bounded)
    doubtful.realism = lambda: 0.99
    assert doubtful.run([DataOption("none", 0), DataOption("munge", 400)]).chosen.data.n_synthetic == 400


def test_rows_that_do_not_look_real_are_weighed_against_the_default_generators():
    # --generator ctgan, whose rows a classifier tells from real ones: the same student is trained on the
    # rows --generator auto uses (munge), and those ship unless another is clearly more faithful
    options = [DataOption("none", 0), DataOption("ctgan", 100), DataOption("ctgan", 400)]
    table = {("tree", 6, 0): (0.90, 11_000), ("tree", 6, 100): (0.905, 11_500), ("tree", 6, 400): (0.91, 12_000),
             ("tree", 6, 100, "munge"): (0.90, 11_500), ("tree", 6, 400, "munge"): (0.92, 12_000)}
    asked = []

    def default_rows():
        asked.append(True)
        return [DataOption("munge", 100), DataOption("munge", 400)]

    def run(realism):
        s = search(Settings(), table)
        s.realism, s.default_rows = (lambda: realism), default_rows
        return s.run(options)

    result = run(0.99)
    assert (result.chosen.generator, result.chosen.data.n_synthetic) == ("munge", 400) and asked
    assert "the rows --generator auto uses" in result.rule and sum(c.chosen for c in result.candidates) == 1
    assert any("from ctgan look unlike" in n and "munge ×" in n and "it trains on those" in n for n in result.notes)
    # a close call keeps the default's rows, whichever side it falls on: only a clear gain overrules them
    table[("tree", 6, 400)] = (0.93, 12_000)
    assert run(0.99).chosen.generator == "munge"
    table[("tree", 6, 400)] = (0.99, 12_000)  # 14 more rows of 200 right: clearly better
    result = run(0.99)
    assert (result.chosen.generator, result.chosen.data.n_synthetic) == ("ctgan", 400)
    assert "clearly more faithful than the rows --generator auto uses" in result.rule
    # rows that look real are not second-guessed, and the default's rows are not even made
    asked.clear()
    table[("tree", 6, 400)] = (0.91, 12_000)
    result = run(0.80)
    assert result.chosen.generator == "ctgan" and not asked


def test_data_options_and_split():
    assert data_options("munge", 1000) == [DataOption("none", 0), DataOption("munge", 250), DataOption("munge", 1000)]
    assert data_options("none", 1000) == [DataOption("none", 0)]
    labels = np.array([0, 1] * 100)
    fit, val = validation_split(200, Settings(), labels)
    assert len(val) == 40 and not set(fit) & set(val) and len(fit) + len(val) == 200
    assert labels[val].mean() == 0.5  # stratified
    assert validation_split(100, Settings(), None) is None  # 20 rows are too few to choose on


def test_a_run_chooses_on_validation_rows_and_reports_it(tmp_path, teachers):
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--json",
                   "--target-fidelity", "0.9", "--synthetic-ratio", "4", "--student", "tree")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    search = report["search"]
    assert search["fit_rows"] + search["validation_rows"] == report["data"]["train_rows"]
    assert report["data"]["validation_path"] is None  # without --validation-data they are DATA's rows
    chosen = [c for c in search["candidates"] if c["chosen"]]
    assert len(chosen) == 1 and search["chosen"] == chosen[0]["name"]
    # each frontier point marked once, even where two candidates share a name and a generator
    assert sum(c["on_frontier"] for c in search["candidates"]) == len(search["frontier"])
    assert {c["generator"] for c in search["candidates"]} == {"none", "munge+forest"}  # a forest's tree student
    assert len({c["params"]["max_depth"] for c in search["candidates"]}) > 3
    reaching = [c for c in search["candidates"] if c["validation"]["fidelity"] >= 0.9]
    if reaching:
        assert chosen[0]["bytes"] == min(c["bytes"] for c in reaching)
    else:
        assert chosen[0]["validation"]["fidelity"] == max(c["validation"]["fidelity"] for c in search["candidates"])
    assert report["settings"]["student"]["max_depth"] == chosen[0]["params"]["max_depth"]
    # the most faithful tree pruned on its cost-complexity path: smaller, and shipped with its alpha if chosen
    pruned = [c for c in search["candidates"] if c["params"].get("ccp_alpha")]
    assert len(pruned) >= 2 and all("pruned at" in c["name"] for c in pruned)
    unpruned = {c["params"]["max_depth"]: c["bytes"] for c in search["candidates"] if not c["params"].get("ccp_alpha")}
    assert all(c["bytes"] < unpruned[c["params"]["max_depth"]] for c in pruned)
    assert report["settings"]["student"]["ccp_alpha"] == chosen[0]["params"].get("ccp_alpha", 0.0)
    assert report["data"]["synthetic_rows"] == chosen[0]["synthetic_rows"]
    # the candidates were CART's trees (candidate_options); the tree shipped looks ahead, as the settings say
    assert report["settings"]["student"]["lookahead"] == 5
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chosen on" in done.stderr and "frontier:" in done.stderr


def test_max_size_fills_the_bound_with_boosted_trees(tmp_path, teachers):
    from tabcompress.students import GBDTStudent
    from tabcompress.students.gbdt import MAX_FILL_ROUNDS

    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", tmp_path / "out", "--json",
                   "--student", "gbdt", "--max-size", "30KB", "--synthetic-ratio", "2", "--no-baseline", "--no-tsc",
                   "-q")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    candidates = report["search"]["candidates"]
    ladder = [(size["trees"], size["max_depth"]) for size in GBDTStudent.sizes]
    filled = [c for c in candidates if (c["params"]["trees"], c["params"]["max_depth"]) not in ladder]
    # at each depth the most rounds that fit, unless the ladder already had nearly that many within the bound
    assert filled and all(c["bytes"] <= 30_000 for c in filled)
    assert all(c["bytes"] > 0.9 * 30_000 or c["params"]["trees"] == MAX_FILL_ROUNDS for c in filled)
    chosen = next(c for c in candidates if c["chosen"])
    inside = [c for c in candidates if c["bytes"] <= 30_000]
    assert chosen["validation"]["fidelity"] == max(c["validation"]["fidelity"] for c in inside)
    assert report["student"]["serialized_bytes"] <= 30_000
    # trees grown on the teacher's classes were tried too (--grow-on auto), and the choice ships as chosen
    assert {c["params"]["grow_on"] for c in candidates} == {"probabilities", "classes"}
    assert report["settings"]["student"]["grow_on"] == chosen["params"]["grow_on"]


@pytest.mark.parametrize("option,value", [("--target-fidelity", "0.9"), ("--student", "auto")])
def test_targets_need_real_rows(teachers, tmp_path, option, value):
    done = run_cli("distill", teachers["rf_magic"], "--out", tmp_path / "out", option, value)
    assert done.returncode == 2 and option in done.stderr.splitlines()[-1], done.stderr


def test_target_fidelity_on_magic_with_a_300_tree_forest(tmp_path, magic):
    """The issue's case on a slice: a 300-tree forest, --target-fidelity 0.97; the student shipped reaches
    0.96 on rows held out from teacher and student alike. The forest of 900 rows is small (4 MB, against 50
    MB on the whole file, where the student is under 1 % of it): here the student is under 15 % of it."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    train, test = magic.iloc[:900], magic.iloc[900:]
    forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, random_state=0, n_jobs=2)
    joblib.dump(forest.fit(train.drop(columns="target"), train["target"]), tmp_path / "teacher.joblib")
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    done = run_cli("distill", tmp_path / "teacher.joblib", tmp_path / "train.csv", "--eval-data",
                   tmp_path / "test.csv", "--target-fidelity", "0.97", "--out", tmp_path / "out", "--json",
                   "--synthetic-ratio", "5", "--no-baseline", "--no-tsc")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    chosen = next(c for c in report["search"]["candidates"] if c["chosen"])
    assert {c["family"] for c in report["search"]["candidates"]} == {"linear", "tree", "gbdt"}
    reaching = [c for c in report["search"]["candidates"] if c["validation"]["fidelity"] >= 0.97]
    if reaching:
        assert chosen["bytes"] == min(c["bytes"] for c in reaching)
    else:  # the forest echoes its own rows' labels, so validation reads low (docs/methods.md)
        assert chosen["validation"]["fidelity"] == max(c["validation"]["fidelity"]
                                                       for c in report["search"]["candidates"])
    assert report["student"]["serialized_bytes"] < 0.15 * report["teacher"]["serialized_bytes"]
    assert report["metrics"]["student"]["fidelity"] >= 0.96


def test_ctgan_rows_that_look_unreal_make_way_for_the_default_generators(tmp_path, teachers):
    # CTGAN after 2 epochs makes rows anyone can tell from real ones: the run tries the rows
    # --generator auto uses (MUNGE for an XGBoost teacher's tree) and the report names the rows shipped
    out = tmp_path / "out"
    done = run_cli("distill", teachers["xgb_magic"], DATA / "magic_1200.csv", "--out", out, "--json",
                   "--generator", "ctgan", "--epochs", "2", "--synthetic-ratio", "4", "--no-cache", "--max-depth", "4",
                   "--lookahead", "1", "--no-baseline", "--no-tsc")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    generator, search = report["generator"], report["search"]
    assert generator["name"] == "ctgan" and generator["detection_auc"] >= 0.95
    assert generator["default"]["name"] == "munge" and generator["default"]["fit_rows"] == search["fit_rows"]
    assert {c["generator"] for c in search["candidates"]} == {"none", "ctgan", "munge"}
    chosen = next(c for c in search["candidates"] if c["chosen"])
    assert report["settings"]["generator"]["name"] == (chosen["generator"] if chosen["synthetic_rows"] else "none")
    assert generator["default"]["used"] == (chosen["generator"] == "munge")
    assert generator["used"] == (chosen["generator"] == "ctgan")
    assert report["data"]["synthetic_rows"] == chosen["synthetic_rows"]
    assert "the rows --generator auto uses" in " ".join(done.stderr.split())
    if generator["default"]["used"]:
        assert "in place of ctgan's" in " ".join(done.stderr.split())


def test_validation_data_is_chosen_on_and_never_trained_on(tmp_path, teachers):
    # The teacher trained on every row of magic_1200; rows from elsewhere in the file it never saw stand
    # for a user's validation file. The search must judge on exactly those rows, and the student shipped
    # must be the chosen candidate (trained on every training row of DATA), as its fidelity there shows.
    import joblib

    from tabcompress.teachers import load_teacher

    magic = pd.read_csv(DATA / "magic_1200.csv")
    train, held = magic.iloc[:900], magic.iloc[900:]
    train.to_csv(tmp_path / "train.csv", index=False)
    held.to_csv(tmp_path / "val.csv", index=False)
    out = tmp_path / "out"
    done = run_cli("distill", teachers["xgb_magic"], tmp_path / "train.csv", "--validation-data", tmp_path / "val.csv",
                   "--out", out, "--json", "--max-depth", "4", "--synthetic-ratio", "2", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    data, search = report["data"], report["search"]
    assert data["validation_path"] == str((tmp_path / "val.csv").resolve())
    assert search["validation_rows"] == len(held) and search["fit_rows"] == data["train_rows"] == 720
    assert "validation rows of val.csv" in " ".join(done.stderr.split())
    chosen = next(c for c in search["candidates"] if c["chosen"])
    student = joblib.load(out / "student.joblib")
    X_val = held.drop(columns="target")
    agree = np.mean(student.predict(X_val) == load_teacher(teachers["xgb_magic"]).predict(X_val))
    assert agree == pytest.approx(chosen["validation"]["fidelity"], abs=1e-9)
    assert report["data"]["synthetic_rows"] == chosen["synthetic_rows"]


@pytest.mark.parametrize("refit_agrees, ships_refit", [(0.91, True), (0.90, True), (0.86, False)])
def test_the_refit_ships_unless_it_agrees_less_on_the_rows_it_trained_on(refit_agrees, ships_refit):
    """The chosen student trained again on every training row ships unless it agrees less with the teacher
    on the validation rows (which it trained on) than the student judged there; then the judged one ships,
    with a note, and the result says which."""
    from tabcompress.methods.search import SearchResult
    from tabcompress.run.modes import _refit_or_chosen

    s = search(Settings.from_options(), TABLE)
    chosen = s.judge("tree", {"max_depth": 4}, DataOption("munge", 400))  # 0.90 on the validation rows
    result = SearchResult(candidates=s.candidates, chosen=chosen, rule="as set", fit_rows=100,
                          validation_rows=N_VAL)
    refit, notes = Known(refit_agrees, 4_000), []
    shipped = _refit_or_chosen(s, result, refit, notes.append)
    assert shipped is (refit if ships_refit else chosen.student)
    assert result.refit == {"validation_fidelity": refit_agrees, "shipped": ships_refit}
    assert result.to_dict()["refit"] == result.refit
    assert bool(notes) is not ships_refit
    if notes:
        assert "agreed less with the teacher on the validation rows (0.8600) than trained on the fit rows " \
               "alone (0.9000)" in notes[0] and "100 fit rows" in notes[0]
