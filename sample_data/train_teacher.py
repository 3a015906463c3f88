"""Train a random-forest teacher on a CSV whose label column is ``target``.

With text columns, the teacher is a scikit-learn Pipeline (one-hot encoding of the text columns, then
the forest), the usual way a forest meets text categories; without, a bare forest. A target with few
distinct integer values gets a classifier, anything else a regressor.

    python sample_data/train_teacher.py DATA.csv OUT.joblib [N_TREES]
"""

import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def main(data_path: str, out_path: str, n_trees: str = "300") -> None:
    df = pd.read_csv(data_path)
    X, y = df.drop(columns="target"), df["target"]
    text = [c for c in X.columns if X[c].dtype == object]
    classify = y.dtype == object or (np.allclose(y, np.round(y)) and y.nunique() <= 50)
    forest_cls = RandomForestClassifier if classify else RandomForestRegressor
    forest = forest_cls(n_estimators=int(n_trees), min_samples_leaf=2, n_jobs=-1, random_state=0)
    if text:
        teacher = Pipeline([
            ("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                         remainder="passthrough")),
            ("forest", forest),
        ])
    else:
        teacher = forest
    teacher.fit(X, y)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(teacher, out_path)
    kind = f"Pipeline(one-hot for {len(text)} text columns → forest)" if text else "forest"
    print(f"teacher: {kind}, {n_trees} trees, {forest_cls.__name__}, fitted on {len(df):,} rows of "
          f"{data_path} → {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:4])
