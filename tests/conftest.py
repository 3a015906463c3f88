"""Shared fixtures: small slices of real datasets (tests/data) and small teachers fitted on them.

Slices, 1,200-1,500 rows each, sampled from ../shared/datasets: magic (numeric, binary),
covertype (a text column, 7 classes), california_housing (a text column, missing cells,
regression), house_16H (numeric regression), bank_marketing (9 text columns, binary).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"
BIN = Path(sys.executable).parent


def tabcompress_cmd() -> list[str]:
    """The installed console script (what users run), next to this interpreter."""
    script = BIN / "tabcompress"
    assert script.exists(), f"console script not installed at {script}"
    return [str(script)]


def run_cli(*args: str, timeout: int = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(tabcompress_cmd() + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def assert_bad_input(done, *needles, out=None):
    assert done.returncode == 2, (done.returncode, done.stderr)
    # Progress lines may come first; the error is one line, the last.
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("tabcompress: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], done.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    if out is not None:
        assert not out.exists() or not any(out.iterdir())


@pytest.fixture()
def cli(capfd, monkeypatch):
    """Run the command line in this process: ``main``, which the console script calls, with the
    environment ``run_cli`` gives it; returns what ``run_cli`` returns. A refusal is then checked without
    starting (and importing everything into) a new Python, which costs more than most refusals."""
    import signal
    import types

    from tabcompress.cli import main

    monkeypatch.setenv("NO_COLOR", "1")
    sigterm = signal.getsignal(signal.SIGTERM)

    def run(*args):
        capfd.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        out, err = capfd.readouterr()
        return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)

    yield run
    signal.signal(signal.SIGTERM, sigterm)


@pytest.fixture(scope="session", autouse=True)
def _private_generator_cache(tmp_path_factory):
    """Tests never read or fill the user's real generator cache (CLI subprocesses inherit this)."""
    before = os.environ.get("TABCOMPRESS_CACHE_DIR")
    os.environ["TABCOMPRESS_CACHE_DIR"] = str(tmp_path_factory.mktemp("generator-cache"))
    yield
    if before is None:
        os.environ.pop("TABCOMPRESS_CACHE_DIR", None)
    else:
        os.environ["TABCOMPRESS_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def magic() -> pd.DataFrame:
    return pd.read_csv(DATA / "magic_1200.csv")


@pytest.fixture(scope="session")
def covertype() -> pd.DataFrame:
    return pd.read_csv(DATA / "covertype_1500.csv")


@pytest.fixture(scope="session")
def california() -> pd.DataFrame:
    return pd.read_csv(DATA / "california_1200.csv")


@pytest.fixture(scope="session")
def house() -> pd.DataFrame:
    return pd.read_csv(DATA / "house16h_1200.csv")


@pytest.fixture(scope="session")
def bank() -> pd.DataFrame:
    return pd.read_csv(DATA / "bank_1500.csv")


def _split(df: pd.DataFrame):
    return df.drop(columns="target"), df["target"]


def text_pipeline(X: pd.DataFrame, forest):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    text = [c for c in X.columns if X[c].dtype == object]
    return Pipeline([
        ("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                     remainder="passthrough")),
        ("forest", forest),
    ])


@pytest.fixture
def compiled_sklearn_trees(monkeypatch) -> list:
    """Every scikit-learn tree a TreeStudent is compiled from during the test, in order (the fitted
    student keeps only the tree's arrays)."""
    from tabcompress.students import TreeStudent

    trees: list = []
    compile_tree = TreeStudent._compile

    def keep(self, model):
        trees.append(model)
        compile_tree(self, model)

    monkeypatch.setattr(TreeStudent, "_compile", keep)
    return trees


@pytest.fixture(scope="session")
def teachers(tmp_path_factory, magic, house, bank, covertype) -> dict[str, Path]:
    """Small fitted teachers saved to disk, by name."""
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    root = tmp_path_factory.mktemp("teachers")
    out: dict[str, Path] = {}

    X, y = _split(magic)
    out["rf_magic"] = root / "rf_magic.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y), out["rf_magic"])
    out["xgb_magic"] = root / "xgb_magic.pkl"
    joblib.dump(xgb.XGBClassifier(n_estimators=40, max_depth=4, random_state=0).fit(X, y), out["xgb_magic"])

    X, y = _split(house)
    out["rf_house"] = root / "rf_house.joblib"
    joblib.dump(RandomForestRegressor(n_estimators=30, random_state=0).fit(X, y), out["rf_house"])

    X, y = _split(bank)
    out["pipe_bank"] = root / "pipe_bank.joblib"
    joblib.dump(text_pipeline(X, RandomForestClassifier(n_estimators=40, random_state=0)).fit(X, y),
                out["pipe_bank"])

    X, y = _split(covertype)
    out["pipe_covertype"] = root / "pipe_covertype.joblib"
    joblib.dump(text_pipeline(X, RandomForestClassifier(n_estimators=30, random_state=0)).fit(X, y),
                out["pipe_covertype"])
    return out


def heldout_rows(df: pd.DataFrame, model, *, test_size: float = 0.2, seed: int = 0,
                 classifier: bool = True) -> pd.DataFrame:
    """The rows tabcompress holds out, recomputed independently from its documented rule:
    a split of the row numbers with ``test_size`` and ``seed``, stratified by the teacher's class."""
    from sklearn.model_selection import train_test_split

    X = df.drop(columns="target")
    stratify = None
    if classifier:
        stratify = model.classes_[np.argmax(model.predict_proba(X), axis=1)]
    _, test = train_test_split(np.arange(len(df)), test_size=test_size, random_state=seed, stratify=stratify)
    return df.iloc[np.sort(test)].reset_index(drop=True)


def predict_in_fresh_process(student_path, rows: pd.DataFrame, tmp_path) -> np.ndarray:
    """What a saved student (.joblib or .skops) predicts for ``rows`` when a new Python process loads it
    with ``tabcompress.load_student``."""
    rows_path = tmp_path / "rows.pkl"
    out_path = tmp_path / "pred.npy"
    rows.to_pickle(rows_path)
    code = (
        "import sys, numpy as np, pandas as pd, tabcompress\n"
        "student = tabcompress.load_student(sys.argv[1])\n"
        "rows = pd.read_pickle(sys.argv[2])\n"
        "np.save(sys.argv[3], np.asarray(student.predict(rows)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(student_path), str(rows_path), str(out_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return np.load(out_path, allow_pickle=True)


def assert_in_schema(rows: pd.DataFrame, X: pd.DataFrame, schema) -> None:
    """Generated ``rows`` keep ``schema``: its columns in order (others, such as a target, may follow),
    ``X``'s dtypes, seen categories only, finite numbers inside the observed ranges (whole numbers in
    integer columns)."""
    assert [c for c in rows.columns if c in schema.names] == schema.names
    for spec in schema.columns:
        col = rows[spec.name]
        assert str(col.dtype) == str(X[spec.name].dtype), spec.name
        if spec.is_categorical:
            assert set(col.dropna()) <= set(spec.categories), spec.name
            continue
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        assert np.all(finite >= spec.minimum) and np.all(finite <= spec.maximum), spec.name
        if spec.kind == "integer":
            assert np.all(finite == np.round(finite)), spec.name
