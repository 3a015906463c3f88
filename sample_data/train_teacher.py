"""Train the demo teacher: a scikit-learn Pipeline (one-hot encoding of the text columns, then a
random forest), the usual way a forest meets text categories.

    python sample_data/train_teacher.py sample_data/bank_marketing_4k.csv demo-out/teacher.joblib
"""

import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def main(data_path: str, out_path: str, n_trees: int = 300) -> None:
    df = pd.read_csv(data_path)
    X, y = df.drop(columns="target"), df["target"]
    text = [c for c in X.columns if X[c].dtype == object]
    teacher = Pipeline([
        ("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                     remainder="passthrough")),
        ("forest", RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=2, n_jobs=-1, random_state=0)),
    ]).fit(X, y)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(teacher, out_path)
    print(f"teacher: {n_trees}-tree random forest behind a one-hot encoder for {len(text)} text columns, "
          f"fitted on {len(df):,} rows of {data_path} → {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
