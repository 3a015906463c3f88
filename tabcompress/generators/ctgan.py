"""CTGAN (Xu et al. 2019) from the ``ctgan`` package, adapted to our schema.

CTGAN itself refuses missing values in continuous columns and knows nothing of our dtypes, so this
wrapper encodes the real rows into a form it accepts and decodes what it samples:

* categorical columns become integer codes (missing → its own code), handed to CTGAN as discrete;
* a numeric column with missing cells gets a discrete "is missing" companion column, and its
  missing cells are filled with the median before CTGAN sees them;
* constant columns (and all-missing ones) are kept out of the GAN and restored on sampling.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress.generators.base import Generator, ProgressCallback

_MISSING_SUFFIX = "__tabcompress_missing"


class CTGANGenerator(Generator):
    """Conditional tabular GAN.

    Parameters
    ----------
    epochs : training epochs of the GAN.
    batch_size : rows per training step; a multiple of 10 (CTGAN's ``pac``).
    max_rows : fit on a random subsample of at most this many rows (None: all rows).
    device : "cpu" or "cuda".
    """

    name = "ctgan"

    def __init__(self, epochs: int = 100, batch_size: int = 500, max_rows: int | None = None,
                 device: str = "cpu"):
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_rows = max_rows
        self.device = device

    # -- encoding ------------------------------------------------------------------------------
    def _encode(self, X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """Real rows → the frame CTGAN trains on, and its discrete column names."""
        columns: dict[str, Any] = {}
        discrete: list[str] = []
        self.constants_: dict[str, Any] = {}
        for spec in self.schema_.columns:
            col = X[spec.name]
            if col.nunique(dropna=False) <= 1:
                self.constants_[spec.name] = col.iloc[0]
                continue
            if spec.is_categorical:
                codes = pd.Categorical(col, categories=spec.categories).codes.astype(np.int64)
                codes[codes < 0] = len(spec.categories)  # missing → one code past the last category
                columns[spec.name] = codes
                discrete.append(spec.name)
                continue
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = np.isnan(values)
            if missing.any():
                values = np.where(missing, np.median(values[~missing]), values)
                columns[spec.name + _MISSING_SUFFIX] = missing.astype(np.int64)
                discrete.append(spec.name + _MISSING_SUFFIX)
            columns[spec.name] = values
        return pd.DataFrame(columns), discrete

    def _decode(self, encoded: pd.DataFrame, n: int) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for spec in self.schema_.columns:
            if spec.name in self.constants_:
                out[spec.name] = np.full(n, self.constants_[spec.name], dtype=object)
                continue
            col = encoded[spec.name].to_numpy()
            if spec.is_categorical:
                codes = col.astype(np.int64)
                cats = np.array(list(spec.categories) + [np.nan], dtype=object)
                out[spec.name] = cats[np.clip(codes, 0, len(spec.categories))]
                continue
            values = col.astype(np.float64)
            flag = spec.name + _MISSING_SUFFIX
            if flag in encoded:
                values = np.where(encoded[flag].to_numpy().astype(np.int64) == 1, np.nan, values)
            out[spec.name] = values
        return pd.DataFrame(out, columns=self.schema_.names)

    # -- Generator -----------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        from ctgan import CTGAN

        X = self._subsample(X, self.max_rows, random_state)
        self.n_fit_rows_ = len(X)
        encoded, discrete = self._encode(X)
        self.model_ = None
        if encoded.shape[1] == 0:
            return  # every column is constant: nothing to learn
        model = CTGAN(epochs=self.epochs, batch_size=self.batch_size, enable_gpu=self.device == "cuda",
                      verbose=False)
        if random_state is not None:
            model.set_random_state(int(random_state))
        with _epoch_progress(progress, self.epochs):
            model.fit(encoded, discrete_columns=discrete)
        self.model_ = model
        self.loss_history_ = model.loss_values

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        if self.model_ is None:
            return self._decode(pd.DataFrame(index=range(n)), n)
        if random_state is not None:
            self.model_.set_random_state(int(random_state))
        return self._decode(self.model_.sample(n).reset_index(drop=True), n)


@contextlib.contextmanager
def _epoch_progress(progress: ProgressCallback | None, total: int) -> Iterator[None]:
    """Report CTGAN's epochs to ``progress``.

    CTGAN offers no callback; its training loop iterates over ``tqdm(range(epochs))``. We swap that
    name in its module for a tiny iterator that calls ``progress`` after each epoch, and put it back.
    """
    import ctgan.synthesizers.ctgan as ctgan_module

    original = getattr(ctgan_module, "tqdm", None)
    if progress is None or original is None:
        yield
        return

    class _EpochTicker:
        def __init__(self, iterable, *args, **kwargs):
            self._iterable = iterable

        def __iter__(self):
            for done, epoch in enumerate(self._iterable, start=1):
                yield epoch
                progress(done, total)

        def set_description(self, *args, **kwargs):
            pass

    ctgan_module.tqdm = _EpochTicker
    try:
        yield
    finally:
        ctgan_module.tqdm = original
