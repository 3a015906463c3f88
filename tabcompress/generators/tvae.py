"""TVAE (Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019) from the ``ctgan`` package.

TVAE is the variational autoencoder the CTGAN paper proposes next to the GAN: same mode-specific
normalisation of numeric columns and one-hot categories, trained as a VAE instead of adversarially. It
has the same blind spots as CTGAN (no missing values in continuous columns, none of our dtypes), so this
wrapper encodes and decodes rows with exactly CTGANGenerator's code:

* categorical columns become integer codes (missing → its own code), handed to TVAE as discrete;
* a numeric column with missing cells gets a discrete "is missing" companion column, and its missing
  cells are filled with the median;
* constant columns (and all-missing ones) are kept out of the model and restored on sampling.

Unlike CTGAN, TVAE places no constraint on the batch size (no ``pac`` groups); its data loader keeps a
short last batch, so any positive batch size works, including one larger than the data.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import pandas as pd

from tabcompress.config import OneOf, Whole, parameter
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.generators.ctgan import CTGANGenerator


@dataclass(eq=False)
class TVAEGenerator(Generator):
    """Tabular variational autoencoder.

    Parameters
    ----------
    epochs : training epochs.
    batch_size : rows per training step (any positive integer).
    max_rows : fit on a random subsample of at most this many rows (None: all rows).
    device : "cpu" or "cuda".
    """

    name = "tvae"
    trains = True
    cache_worthy = True

    epochs: int = parameter(100, Whole(1))
    batch_size: int = parameter(500, Whole(1))
    max_rows: int | None = parameter(None, Whole(1, none=True))
    device: str = parameter("cpu", OneOf(("cpu", "cuda")))

    @classmethod
    def from_settings(cls, settings, *, device="cpu", teacher=None, time_limit=None) -> "TVAEGenerator":
        g = settings.generator
        return cls(epochs=g.epochs or cls.epochs, batch_size=g.batch_size, max_rows=g.fit_rows, device=device)

    # The very functions CTGANGenerator encodes and decodes with, so both models see rows the same way.
    # They read only ``self.schema_`` and set/read ``self.constants_``. Borrowed rather than inherited:
    # a TVAE is not a CTGAN, and nothing should mistake one for the other with isinstance.
    _encode = CTGANGenerator._encode
    _decode = CTGANGenerator._decode

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        from ctgan import TVAE

        encoded, discrete = self._encode(X)
        self.model_ = None
        if encoded.shape[1] == 0:
            return  # every column is constant: nothing to learn
        model = TVAE(epochs=self.epochs, batch_size=int(self.batch_size), enable_gpu=self.device == "cuda",
                     verbose=False)
        with _seeded(model, random_state, self.device), _epoch_progress(progress, self.epochs):
            model.fit(encoded, discrete_columns=discrete)
        self.model_ = model
        self.loss_history_ = model.loss_values

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        if self.model_ is None:
            return self._decode(pd.DataFrame(index=range(n)), n)
        with _seeded(self.model_, random_state, self.device):
            return self._decode(self.model_.sample(n).reset_index(drop=True), n)


@contextlib.contextmanager
def _seeded(model, random_state: int | None, device: str) -> Iterator[None]:
    """Make ``model``'s next fit or sample a function of ``random_state``.

    ``set_random_state`` makes the ctgan package run the call under its own NumPy and torch CPU
    generators (both seeded), which covers the data transformer, the batch shuffling, the weight
    initialisation and the sampling noise. On a GPU the reparametrisation noise of training is drawn by
    the CUDA generator, which that does not touch: seed it too, inside a fork so the caller's CUDA
    random state is left as it was.
    """
    if random_state is None:
        yield
        return
    model.set_random_state(int(random_state))
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    if not torch.cuda.is_available():
        yield
        return
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.cuda.manual_seed_all(int(random_state))
        yield


@contextlib.contextmanager
def _epoch_progress(progress: ProgressCallback | None, total: int) -> Iterator[None]:
    """Report TVAE's epochs to ``progress``.

    TVAE offers no callback; its training loop iterates over ``tqdm(range(epochs), disable=...)``. As
    CTGANGenerator does for CTGAN's module, we swap that name in TVAE's module for a tiny iterator that
    calls ``progress`` after each epoch, and put it back.
    """
    import ctgan.synthesizers.tvae as tvae_module

    original = getattr(tvae_module, "tqdm", None)
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

    tvae_module.tqdm = _EpochTicker
    try:
        yield
    finally:
        tvae_module.tqdm = original
