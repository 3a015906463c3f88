"""CTGAN (Xu et al. 2019) from the ``ctgan`` package, adapted to our schema.

CTGAN itself refuses missing values in continuous columns and knows nothing of our dtypes, so this
wrapper encodes the real rows into a form it accepts and decodes what it samples:

* categorical columns become integer codes (missing → its own code), handed to CTGAN as discrete;
* a numeric column with missing cells gets a discrete "is missing" companion column, and its
  missing cells are filled with the median before CTGAN sees them;
* constant columns (and all-missing ones) are kept out of the GAN and restored on sampling.

It also makes CTGAN's fit cheaper without touching what it learns from (``bench/profile_ctgan.py``
measures each part):

* each continuous column's Gaussian mixture (the "mode-specific normalisation", which takes tens of
  seconds on ~40k rows) is fitted on a random subsample of ``transformer_rows`` rows; every row is
  still transformed with it and trained on, and discrete columns still see every row;
* torch's intra-op threads are set for the fit and sampling (and put back afterwards);
* training can stop when the losses have flattened (``early_stop``) or when the time budget would be
  overrun (``time_limit``).

CTGAN's ``fit`` is one monolithic method with no hooks, so the last three work by swapping two names
in its module for the duration of a call, and putting them back: ``tqdm`` (the epoch loop iterates
over ``tqdm(range(epochs))``, so our iterator sees every epoch and can end the loop cleanly) and
``DataTransformer`` (constructed with no arguments inside ``fit``, so our subclass is built instead).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress.config import Flag, Number, OneOf, Whole, parameter
from tabcompress.generators.base import Generator, ProgressCallback, constant_columns, varying_columns

_MISSING_SUFFIX = "__tabcompress_missing"

#: ``threads=None`` means this many torch intra-op threads: one is as fast as two on an idle 2-core
#: machine and faster on a busy one (bench/profile_ctgan.py; docs/measurements.md, "Threads and memory").
DEFAULT_THREADS = 1

STOP_EPOCHS, STOP_EARLY, STOP_TIME = "epochs", "early_stop", "time_limit"

#: ``epochs=None``: CTGAN trains at least this many epochs, and on a small table as many more as make
#: :data:`MIN_STEPS` optimiser steps (one step per batch, so an epoch of 3,000 rows in batches of 500 is
#: 6 steps). Stopping early on flat losses after 73-100 epochs left 3,000-row tables with rows a
#: classifier told from real ones at AUC 0.999; 300 epochs (1,800 steps) gave closer rows and better
#: trees (docs/measurements.md, "What is wrong with CTGAN's rows").
DEFAULT_EPOCHS = 100
MIN_STEPS = 1800


@dataclass(eq=False)
class CTGANGenerator(Generator):
    """Conditional tabular GAN.

    Parameters
    ----------
    epochs : training epochs of the GAN (the most it trains for when it may stop early); None:
        :data:`DEFAULT_EPOCHS`, or as many as make ``min_steps`` optimiser steps when that is more (a
        table of fewer than ``min_steps / DEFAULT_EPOCHS`` batches), and no early stop before them.
    min_steps : with ``epochs=None``, the fewest optimiser steps (batches) the fit trains for.
    batch_size : rows per training step; a multiple of 10 (CTGAN's ``pac``).
    max_rows : fit on a random subsample of at most this many rows (None: all rows).
    device : "cpu" or "cuda".
    threads : torch intra-op threads while fitting and sampling; None: ``DEFAULT_THREADS``. The
        process's setting is restored afterwards. Results are reproducible for a given value.
    transformer_rows : fit each continuous column's Gaussian mixture on at most this many rows
        (None: all rows). Every row is still transformed and trained on.
    early_stop : stop once the generator and discriminator losses have flattened (see
        :class:`EarlyStopRule`); deterministic given ``random_state``.
    time_limit : seconds for the whole fit (preprocessing included); training stops after the
        epoch past which the next one would overrun it, judged from the mean epoch time so far. At
        least one epoch always runs. Unlike the other options this depends on the machine's speed
        and load, so two runs can differ: ``epochs_run_`` records what ran, and passing it as
        ``epochs`` (without ``time_limit``) reproduces the run.
    min_epochs, window, patience, tolerance : the early-stopping rule's settings.

    After fitting: ``epochs_planned_`` (the most epochs it would train), ``epochs_run_``,
    ``stop_reason_`` ("epochs" | "early_stop" | "time_limit"), ``transformer_fit_rows_`` (rows the
    Gaussian mixtures were fitted on), ``loss_history_`` (a frame, one row per epoch) and ``timings_``
    (seconds per stage).
    """

    name = "ctgan"
    trains = True
    takes_time_limit = True
    cache_worthy = True
    #: the generator cache keys on every setting but this one: a time limit only decides when a fit
    #: stops, and a nightly rerun under --time-budget should find yesterday's fit (which then makes
    #: the run reproducible, where refitting under a time limit would not be)
    cache_ignored_params = ("time_limit",)
    training_attributes = (("epochs", "epochs_planned_"),
                           *(pair for pair in Generator.training_attributes if pair[0] != "epochs"))

    epochs: int | None = parameter(None, Whole(1, none=True))
    min_steps: int = parameter(MIN_STEPS, Whole(1))
    batch_size: int = parameter(500, Whole(10))
    max_rows: int | None = parameter(None, Whole(1, none=True))
    device: str = parameter("cpu", OneOf(("cpu", "cuda")))
    threads: int | None = parameter(None, Whole(1, none=True))
    transformer_rows: int | None = parameter(5000, Whole(10, none=True))
    early_stop: bool = parameter(False, Flag())
    time_limit: float | None = parameter(None, Number(0.0, open_low=True, none=True))
    min_epochs: int = parameter(30, Whole(1))
    window: int = parameter(10, Whole(2))
    patience: int = parameter(10, Whole(1))
    tolerance: float = parameter(0.05, Number(0.0))

    @classmethod
    def from_settings(cls, settings, *, device="cpu", teacher=None, time_limit=None) -> "CTGANGenerator":
        g = settings.generator
        return cls(epochs=g.epochs, batch_size=g.batch_size, max_rows=g.fit_rows, device=device,
                   early_stop=g.early_stop, time_limit=time_limit)

    # -- encoding ------------------------------------------------------------------------------
    def _encode(self, X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """Real rows → the frame CTGAN trains on, and its discrete column names."""
        columns: dict[str, Any] = {}
        discrete: list[str] = []
        self.constants_: dict[str, Any] = constant_columns(X, self.schema_)
        for spec, values in varying_columns(X, self.schema_, self.constants_):
            if spec.is_categorical:  # codes, with missing as one more
                columns[spec.name] = values
                discrete.append(spec.name)
                continue
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
    def preload(self) -> None:
        import ctgan  # noqa: F401
        import torch

        # torch's optimizers import its compiler (torch._dynamo) on first use: about 2 s on 2 cores
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        from ctgan import CTGAN

        started = time.perf_counter()
        encoded, discrete = self._encode(X)
        self.model_ = None
        self.epochs_run_, self.stop_reason_ = 0, STOP_EPOCHS
        self.epochs_planned_, self.floor_epochs_ = self._planned_epochs(len(encoded))
        self.transformer_fit_rows_ = 0
        self.timings_: dict[str, Any] = {"encode_s": time.perf_counter() - started}
        if encoded.shape[1] == 0:
            return  # every column is constant: nothing to learn
        model = CTGAN(epochs=self.epochs_planned_, batch_size=self.batch_size, enable_gpu=self.device == "cuda",
                      verbose=False)
        if random_state is not None:
            model.set_random_state(int(random_state))
        threads = self.resolved_threads
        # The model is in place before training so that a progress callback may sample from it
        # (bench/profile_ctgan.py does, to score fidelity per epoch; CTGAN's sample keeps its own
        # random state apart from the training stream's, so this leaves training unchanged).
        self.model_ = model
        watch = _Watch(self, model, progress, started)
        transformer = _transformer_factory(self.transformer_rows, random_state, threads)
        try:
            with _torch_threads(threads), _patched_ctgan(tqdm=watch.ticker, DataTransformer=transformer):
                model.fit(encoded, discrete_columns=discrete)
        except BaseException:
            self.model_ = None  # never leave a half-trained model behind
            raise
        fitted = model._transformer
        self.transformer_fit_rows_ = fitted.gmm_rows_
        timed = dict(fit_s=fitted.fit_seconds_, transform_s=fitted.transform_seconds_, end=fitted.transform_end_)
        # Our subclass is local to a function, so it could not be pickled (the generator cache
        # pickles fitted generators); once fitted it is a plain DataTransformer in every respect, so
        # it becomes one again, without our bookkeeping attributes.
        fitted.__class__ = _ctgan_module().DataTransformer
        for attr in ("_gmm_index", "gmm_rows_", "fit_seconds_", "transform_seconds_", "transform_end_"):
            fitted.__dict__.pop(attr, None)
        self.loss_history_ = model.loss_values
        self.epochs_run_, self.stop_reason_ = watch.epochs_run, watch.stop_reason
        self.timings_.update(
            transformer_fit_s=timed["fit_s"], transform_s=timed["transform_s"],
            # everything between the transform and the first epoch (data sampler, networks)
            setup_s=watch.first_epoch_start - timed["end"],
            epoch_s=watch.epoch_seconds, train_s=sum(watch.epoch_seconds),
            fit_s=time.perf_counter() - started)

    def _planned_epochs(self, n_rows: int) -> tuple[int, int]:
        """The most epochs the fit trains, and the fewest before it may stop early: ``epochs`` as given, or
        enough for ``min_steps`` steps of CTGAN's batches (``n_rows // batch_size`` per epoch)."""
        if self.epochs is not None:
            return int(self.epochs), 0
        steps_per_epoch = max(n_rows // int(self.batch_size), 1)
        floor = -(-int(self.min_steps) // steps_per_epoch)
        return max(DEFAULT_EPOCHS, floor), floor

    @property
    def resolved_threads(self) -> int:
        return DEFAULT_THREADS if self.threads is None else int(self.threads)

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        if self.model_ is None:
            return self._decode(pd.DataFrame(index=range(n)), n)
        if random_state is not None:
            self.model_.set_random_state(int(random_state))
        with _torch_threads(self.resolved_threads):
            encoded = self.model_.sample(n)
        return self._decode(encoded.reset_index(drop=True), n)


# -- early stopping ----------------------------------------------------------------------------

class EarlyStopRule:
    """When have CTGAN's losses flattened?

    CTGAN records one generator and one discriminator loss per epoch, each from the epoch's last
    batch, so single values are noisy. The rule compares the means of the last two ``window``-epoch
    blocks of each loss. A loss is flat when they differ by no more than

    * ``tolerance`` times the range its ``window``-epoch moving average has covered so far (the range
      rather than the level, because WGAN losses sit near, and cross, zero), or
    * the noise: two standard errors of that difference, from the two blocks' spread — so a loss
      that only jitters around a level counts as flat however small its range (CTGAN's
      discriminator loss typically hovers around zero from the first epochs on).

    Training stops once both losses have been flat for ``patience`` consecutive epochs, and never
    before ``min_epochs``. The rule sees only the losses, so its decision is as reproducible as they are.
    """

    def __init__(self, min_epochs: int, window: int, patience: int, tolerance: float):
        self.min_epochs, self.window, self.patience, self.tolerance = min_epochs, window, patience, tolerance
        self.flat_run = 0

    def is_flat(self, losses: np.ndarray) -> bool:
        w = self.window
        if len(losses) < 2 * w:
            return False
        last, previous = losses[-w:], losses[-2 * w:-w]
        change = abs(float(last.mean() - previous.mean()))
        noise = 2 * float(np.sqrt((last.var(ddof=1) + previous.var(ddof=1)) / w)) if w > 1 else 0.0
        smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
        return change <= max(self.tolerance * float(smooth.max() - smooth.min()), noise)

    def update(self, generator: list[float], discriminator: list[float]) -> bool:
        """Feed the losses so far (one per epoch); True when training should stop."""
        flat = self.is_flat(np.asarray(generator)) and self.is_flat(np.asarray(discriminator))
        self.flat_run = self.flat_run + 1 if flat else 0
        return len(generator) >= self.min_epochs and self.flat_run >= self.patience


class _Watch:
    """Follows CTGAN's epoch loop: times epochs, reads the losses, reports progress, decides to stop."""

    def __init__(self, owner: CTGANGenerator, model: Any, progress: ProgressCallback | None, started: float):
        self.owner, self.model, self.progress, self.started = owner, model, progress, started
        self.total = owner.epochs_planned_
        self.rule = (EarlyStopRule(max(owner.min_epochs, owner.floor_epochs_), owner.window, owner.patience,
                                   owner.tolerance) if owner.early_stop else None)
        self.epochs_run, self.stop_reason = 0, STOP_EPOCHS
        self.epoch_seconds: list[float] = []
        self.first_epoch_start = started
        self.g_loss: list[float] = []
        self.d_loss: list[float] = []

    def ticker(self, iterable, *args, **kwargs) -> "_EpochTicker":
        return _EpochTicker(self, iterable)

    def after_epoch(self, done: int) -> str | None:
        """Called once epoch ``done`` (1-based) has finished; a stop reason, or None to go on."""
        self.epochs_run = done
        losses = self.model.loss_values  # CTGAN appends one row per epoch before the next begins
        if losses is not None and len(losses) >= done:
            self.g_loss.append(float(losses["Generator Loss"].iloc[-1]))
            self.d_loss.append(float(losses["Discriminator Loss"].iloc[-1]))
        if self.progress is not None:
            self.progress(done, self.total)
        if done >= self.total:
            return None  # the loop ends by itself
        if self.rule is not None and self.rule.update(self.g_loss, self.d_loss):
            return STOP_EARLY
        limit = self.owner.time_limit
        if limit is not None:
            mean_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds)
            if time.perf_counter() - self.started + mean_epoch > limit:
                return STOP_TIME
        return None


class _EpochTicker:
    """Stands in for ``tqdm(range(epochs))`` in CTGAN's training loop.

    Its iterator yields the epochs; returning from it ends CTGAN's loop as if the epochs had run out,
    after which ``fit`` finishes normally (it has nothing left to do after the loop).
    """

    def __init__(self, watch: _Watch, iterable):
        self._watch = watch
        self._iterable = iterable

    def __iter__(self):
        watch = self._watch
        watch.first_epoch_start = time.perf_counter()
        for done, epoch in enumerate(self._iterable, start=1):
            begun = time.perf_counter()
            yield epoch
            watch.epoch_seconds.append(time.perf_counter() - begun)
            reason = watch.after_epoch(done)
            if reason is not None:
                watch.stop_reason = reason
                if watch.progress is not None:
                    watch.progress(done, done)  # so a progress bar ends full
                return

    def set_description(self, *args, **kwargs):
        pass


# -- CTGAN's data transformer, with the Gaussian mixtures fitted on a subsample -----------------

def _transformer_factory(gmm_rows: int | None, seed: int | None, jobs: int):
    from ctgan.data_transformer import DataTransformer

    class _SubsampledTransformer(DataTransformer):
        """ctgan's DataTransformer, but each continuous column's Bayesian Gaussian mixture (the slow
        part: up to 100 EM iterations of a 10-component mixture per column) is fitted on at most
        ``gmm_rows`` rows, drawn once with ``seed``. Discrete columns' one-hot encoders still see every
        row, so no rare category is lost, and ``transform`` still covers every row.

        With ``jobs == 1`` the transform runs column after column in this process instead of in
        joblib worker processes: on 2 cores, starting and feeding the workers cost more than they
        saved. The output is the same either way (each column's transformer has its own random state).
        """

        def fit(self, raw_data, discrete_columns=()):
            n = len(raw_data)
            self._gmm_index = None
            if gmm_rows is not None and n > gmm_rows:
                self._gmm_index = np.sort(np.random.default_rng(seed).choice(n, size=gmm_rows, replace=False))
            self.gmm_rows_ = n if self._gmm_index is None else len(self._gmm_index)
            begun = time.perf_counter()
            super().fit(raw_data, discrete_columns)
            self.fit_seconds_ = time.perf_counter() - begun

        def _fit_continuous(self, data):
            if self._gmm_index is not None:
                data = data.iloc[self._gmm_index]
            return super()._fit_continuous(data)

        def transform(self, raw_data):
            begun = time.perf_counter()
            out = super().transform(raw_data)
            self.transform_end_ = time.perf_counter()
            self.transform_seconds_ = self.transform_end_ - begun
            return out

        def _parallel_transform(self, raw_data, column_transform_info_list):
            if jobs == 1:
                return self._synchronous_transform(raw_data, column_transform_info_list)
            return super()._parallel_transform(raw_data, column_transform_info_list)

    return _SubsampledTransformer


# -- process-wide settings, set for one call and put back ----------------------------------------

def _ctgan_module():
    import ctgan.synthesizers.ctgan as ctgan_module

    return ctgan_module


@contextlib.contextmanager
def _patched_ctgan(**names: Any) -> Iterator[None]:
    """Swap names in ctgan's CTGAN module (``tqdm``, ``DataTransformer``) and put the originals back."""
    module = _ctgan_module()
    originals = {name: getattr(module, name) for name in names}
    for name, value in names.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(module, name, value)


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads``, and the caller's restored afterwards."""
    import torch

    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
