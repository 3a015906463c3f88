"""CTGANGenerator's speed options: torch threads, the subsampled Gaussian-mixture fit, early stopping
and the time limit — each must leave the generator's contract (reproducible, schema-true rows) intact."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from tabcompress.generators.ctgan import DEFAULT_EPOCHS, MIN_STEPS, CTGANGenerator, EarlyStopRule
from tabcompress.schema import Schema

# Settings under which the rule fires as soon as it may: a change can never exceed the losses' whole
# range, so with tolerance 1 both losses are "flat" from epoch 2 × window on.
ALWAYS_FLAT = dict(early_stop=True, min_epochs=6, window=2, patience=3, tolerance=1.0)


@pytest.fixture(scope="module")
def magic_slice(magic):
    X = magic.drop(columns="target").iloc[:600].reset_index(drop=True)
    return X, Schema.infer(X)


@pytest.fixture(scope="module")
def early(magic_slice):
    X, schema = magic_slice
    ticks: list[tuple[int, int]] = []
    gen = CTGANGenerator(epochs=30, batch_size=100, transformer_rows=200, **ALWAYS_FLAT)
    gen.fit(X, schema, random_state=3, progress=lambda done, total: ticks.append((done, total)))
    return gen, ticks


def test_threads_are_set_for_the_fit_and_restored(magic_slice):
    X, schema = magic_slice
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    seen: list[int] = []
    gen = CTGANGenerator(epochs=2, batch_size=100, threads=wanted, transformer_rows=200)
    gen.fit(X, schema, random_state=0, progress=lambda done, total: seen.append(torch.get_num_threads()))
    assert seen == [wanted, wanted]
    assert torch.get_num_threads() == before
    gen.sample(50, random_state=0)
    assert torch.get_num_threads() == before


def test_threads_are_restored_when_the_fit_fails(magic_slice, monkeypatch):
    X, schema = magic_slice
    before = torch.get_num_threads()

    def boom(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        CTGANGenerator(epochs=2, batch_size=100, threads=1 if before != 1 else 2,
                       transformer_rows=200).fit(X, schema, random_state=0, progress=boom)
    assert torch.get_num_threads() == before
    import ctgan.synthesizers.ctgan as ctgan_module
    from ctgan.data_transformer import DataTransformer
    from tqdm import tqdm
    assert ctgan_module.tqdm is tqdm and ctgan_module.DataTransformer is DataTransformer


def test_mixtures_are_fitted_on_a_subsample_but_every_category_is_kept(bank):
    X = bank.drop(columns="target")
    schema = Schema.infer(X)
    gen = CTGANGenerator(epochs=1, batch_size=100, transformer_rows=300).fit(X, schema, random_state=0)
    assert gen.transformer_fit_rows_ == 300 < len(X)
    # the one-hot encoders of discrete columns saw every row: one slot per category present
    for info in gen.model_._transformer._column_transform_info_list:
        if info.column_type == "discrete":
            assert info.output_dimensions == X[info.column_name].nunique()
    assert type(gen.model_._transformer).__name__ == "DataTransformer"  # picklable, plain ctgan
    again = pickle.loads(pickle.dumps(gen))
    pd.testing.assert_frame_equal(again.sample(100, random_state=4), gen.sample(100, random_state=4))

    small = CTGANGenerator(epochs=1, batch_size=100, transformer_rows=None).fit(X.iloc[:400], schema, random_state=0)
    assert small.transformer_fit_rows_ == 400


def test_early_stop_ends_training_and_says_why(early):
    gen, ticks = early
    stop_at = 2 * ALWAYS_FLAT["window"] + ALWAYS_FLAT["patience"] - 1  # 6, which is also min_epochs
    assert gen.stop_reason_ == "early_stop"
    assert gen.epochs_run_ == stop_at < gen.epochs
    assert len(gen.loss_history_) == stop_at and len(gen.timings_["epoch_s"]) == stop_at
    # every epoch reported against the planned total, then one tick that fills the bar
    assert ticks == [(k, 30) for k in range(1, stop_at + 1)] + [(stop_at, stop_at)]
    rows = gen.sample(200, random_state=1)
    assert len(rows) == 200 and rows.notna().all().all()


def test_early_stop_is_reproducible(early, magic_slice):
    X, schema = magic_slice
    gen, _ = early
    again = CTGANGenerator(epochs=30, batch_size=100, transformer_rows=200, **ALWAYS_FLAT).fit(X, schema, random_state=3)
    assert again.epochs_run_ == gen.epochs_run_
    pd.testing.assert_frame_equal(again.sample(300, random_state=5), gen.sample(300, random_state=5))


def test_default_epochs_give_a_small_table_enough_optimiser_steps():
    # CTGAN steps once per batch: 3,000 rows in batches of 500 are 6 steps an epoch, so 1,800 steps
    # take 300 epochs; a table of 39,000 rows gets them within the default 100 (and may stop early
    # after 24); epochs given are kept as given
    gen = CTGANGenerator()
    assert gen._planned_epochs(3000) == (300, 300)
    assert gen._planned_epochs(39000) == (DEFAULT_EPOCHS, 24)
    assert gen._planned_epochs(10) == (MIN_STEPS, MIN_STEPS)  # fewer rows than a batch: one step an epoch
    assert CTGANGenerator(epochs=5)._planned_epochs(3000) == (5, 0)
    assert CTGANGenerator(min_steps=600, batch_size=100)._planned_epochs(3000) == (DEFAULT_EPOCHS, 20)


def test_no_early_stop_before_the_step_floor(magic_slice):
    # 600 rows in batches of 100 are 6 steps an epoch: 60 steps take 10 epochs, and the rule, which would
    # fire at epoch 6, waits for them; the report gives the epochs planned
    X, schema = magic_slice
    gen = CTGANGenerator(batch_size=100, min_steps=60, transformer_rows=200, **ALWAYS_FLAT).fit(
        X, schema, random_state=3)
    assert (gen.epochs_run_, gen.stop_reason_) == (10, "early_stop")
    assert gen.training_facts()["epochs"] == gen.epochs_planned_ == DEFAULT_EPOCHS


def test_time_limit_stops_after_the_first_epoch(magic_slice):
    X, schema = magic_slice
    ticks = []
    gen = CTGANGenerator(epochs=20, batch_size=100, transformer_rows=200, time_limit=1e-3)
    gen.fit(X, schema, random_state=0, progress=lambda done, total: ticks.append((done, total)))
    assert (gen.epochs_run_, gen.stop_reason_) == (1, "time_limit")
    assert ticks == [(1, 20), (1, 1)]
    assert len(gen.sample(10, random_state=0)) == 10


def test_without_stopping_all_epochs_run(magic_slice):
    X, schema = magic_slice
    ticks = []
    gen = CTGANGenerator(epochs=3, batch_size=100, transformer_rows=200, early_stop=True, time_limit=3600)
    gen.fit(X, schema, random_state=0, progress=lambda done, total: ticks.append((done, total)))
    assert (gen.epochs_run_, gen.stop_reason_) == (3, "epochs")
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert set(gen.timings_) >= {"transformer_fit_s", "transform_s", "epoch_s", "fit_s"}


def test_early_stop_rule_on_loss_curves():
    rng = np.random.default_rng(0)
    epochs = np.arange(300)

    def first_stop(g, d, rule):
        for k in range(1, len(g) + 1):
            if rule.update(list(g[:k]), list(d[:k])):
                return k
        return None

    noise = lambda: rng.normal(0, 0.05, len(epochs))  # noqa: E731
    settles = 2 * np.exp(-epochs / 20)  # falls, then flat after ~100 epochs
    stop = first_stop(settles + noise(), -settles + noise(), EarlyStopRule(30, 10, 10, 0.05))
    assert stop is not None and 60 <= stop <= 200
    # a loss still falling steadily (here 10/150 of its range per 10-epoch window, above the 5%
    # tolerance) is not flat, however flat the other one is
    falling = 2 - epochs[:150] / 75
    assert first_stop(falling + noise()[:150], noise()[:150], EarlyStopRule(30, 10, 10, 0.05)) is None
    # never before min_epochs, even on a flat line; a loss that only jitters is flat too
    level = np.ones(len(epochs))
    assert first_stop(level, -level, EarlyStopRule(80, 10, 5, 0.05)) == 80
    assert 80 <= first_stop(level + noise(), noise(), EarlyStopRule(80, 10, 5, 0.05)) <= 120
