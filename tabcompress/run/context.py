"""What every stage of a run shares: its settings, its clock and progress, its notes, and the rows it
trains and scores on."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress import data as data_mod
from tabcompress.config import Settings
from tabcompress.errors import InputError, SettingError, first_line
from tabcompress.progress import Progress, Stages
from tabcompress.schema import Schema
from tabcompress.teachers import Teacher, label_rows


class Run:
    """One run in progress: ``settings``, the ``stages`` timed so far, the ``notes`` for the user (each
    also shown as it is made), and the helpers the stages share."""

    def __init__(self, settings: Settings, progress: Progress | None = None, cluster: Any = None, *,
                 started: float):
        self.settings = settings
        self.cluster = cluster  # a tabcompress.cluster.Cluster that labels rows (--dask), or None
        self.progress = progress or Progress()
        self.stages = Stages(self.progress)
        self.notes: list[str] = []
        self.started = started  # a time.perf_counter() value: the time budget counts from here (distill's clock_start)

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.progress.note(message)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def read(self, rows: str | Path | pd.DataFrame, teacher: Teacher, key: str, what: str,
             held_out_share: float | None = None) -> tuple[data_mod.Dataset, str]:
        """Read a CSV (or take a DataFrame) and align it to the teacher; returns it and its absolute path
        (for the report; messages and progress name the path as given). ``held_out_share`` given, a CSV
        is read as a sample of at most ``--max-rows`` rows when that is set, with that share held out
        (:func:`~tabcompress.data.read_csv_sample`); the dataset's ``held_out`` marks them."""
        frame = rows if isinstance(rows, pd.DataFrame) else None
        given = "<DataFrame>" if frame is not None else str(rows)
        max_rows = self.settings.data.max_rows
        sample = None
        with self.stages.run(key, f"reading the {what}", given):
            if frame is None and held_out_share is not None and max_rows is not None:
                sample = data_mod.read_csv_sample(rows, max_rows, held_out_share, self.settings.seed)
                frame = sample.frame
            frame = frame if frame is not None else data_mod.read_csv(rows)
            dataset = data_mod.align(frame, teacher, target=self.settings.data.target,
                                     categorical=self.settings.data.categorical, source=given)
        if sample is not None:
            # a file no longer than the bound is split as without it (stratified), so the bound changes nothing
            dataset.n_rows, dataset.sampled = sample.n_rows, sample.n_rows > len(sample.frame)
            dataset.held_out = sample.held_out if held_out_share and dataset.sampled else None
            if dataset.sampled:
                dataset.training_side = functools.partial(data_mod.read_csv_training_side, rows,
                                                          held_out_share, self.settings.seed, sample.types)
                self.note(f"--max-rows: {len(sample.frame):,} of the {sample.n_rows:,} rows of {given}, "
                          f"chosen by a hash of each row")
        for note in dataset.notes:
            self.note(note if what == "data" else f"{what}: {note}")
        return dataset, given if given == "<DataFrame>" else str(Path(given).resolve())

    def label(self, teacher: Teacher, X: pd.DataFrame, key: str, what: str, source: str) -> np.ndarray:
        """The teacher's soft targets for ``X``, timed as stage ``key``; a teacher that rejects the rows
        is an :class:`InputError` naming ``source``."""
        with self.stages.run(key, f"labelling the {what} with the teacher", f"{len(X):,} rows"):
            return self.answers(teacher, X, source)

    def answers(self, teacher: Teacher, X: pd.DataFrame, source: str) -> np.ndarray:
        """:meth:`label` without a stage of its own (for rows that come a chunk at a time)."""
        try:
            return label_rows(teacher, X, chunk_rows=self.settings.budget.label_chunk_rows, cluster=self.cluster)
        except SettingError:  # the cluster's own failure (--dask), not the rows'
            raise
        except InputError as exc:  # the teacher said what went wrong, naming itself: add the rows' file
            raise InputError(f"data file {source}: {exc}") from exc
        except (ValueError, TypeError, KeyError) as exc:  # the teacher rejects the data: say so on one line
            raise InputError(f"data file {source}: the teacher cannot predict on it "
                             f"({type(exc).__name__}: {first_line(exc)})") from exc


@dataclass
class Rows:
    """The rows a run trains on and scores on, and where they came from.

    ``T_*`` are the teacher's soft targets; ``y_test`` the true labels of the scored rows, when known.
    ``dataset`` is the real (or prototype) rows as read; None in a data-free run.
    """

    schema: Schema
    X_train: pd.DataFrame
    T_train: np.ndarray | None
    X_test: pd.DataFrame | None = None
    T_test: np.ndarray | None = None
    y_test: pd.Series | None = None
    dataset: data_mod.Dataset | None = None
    source: str | None = None
    scored_on: str = "held-out real rows"
    held_out: data_mod.Dataset | None = None  # --eval-data's rows, as read
    eval_source: str | None = None
    stratified: bool | None = None
    space: Any = None  # the teacher's FeatureSpace, where the run read it
    validation: tuple[Any, Any] | None = None  # the fit and validation rows of X_train, when laid out so
    X_val: pd.DataFrame | None = None  # --validation-data's rows (the teacher never saw them), and their targets
    T_val: np.ndarray | None = None
    validation_source: str | None = None


@dataclass
class TrainedStudent:
    """What a mode's training returns: the student, the optional baseline, and how they were made."""

    student: Any
    baseline: Any
    generator: Any
    generator_info: dict[str, Any]
    n_synthetic: int
    timings_s: dict[str, float]
    selection: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    X_synth: pd.DataFrame | None = field(default=None, repr=False)
    T_synth: np.ndarray | None = field(default=None, repr=False)
    search: Any = None  # the validation search (tabcompress.methods.search.SearchResult), when one ran
    notes: list[str] = field(default_factory=list)  # notes made while training (already shown)
    chosen: dict[str, Any] | None = None  # the student family and the options of its size, as shipped
    #: the fit rows and the validation rows of the training rows the search used (index arrays or slices, as
    #: :func:`tabcompress.methods.search.validation_split` gives them), when it kept validation rows
    validation: tuple[Any, Any] | None = field(default=None, repr=False)

    @property
    def candidates(self) -> list[Any]:
        """Every student the search tried (fitted on the fit rows), or an empty list."""
        return self.search.candidates if self.search is not None else []
