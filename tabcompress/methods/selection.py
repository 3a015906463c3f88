"""Teacher-aware selection of synthetic rows: spend the synthetic budget where the student is wrong.

This is the tree-teacher form of the "large but bounded teacher–student difference" of Zhou & Chiam
(2023, data-free knowledge distillation for regression). Their generator is trained to produce rows on
which teacher and student differ; here the generator is fixed and we *select* instead, in rounds:

1. train the student on the real rows plus a first share of plain synthetic rows;
2. draw a pool of candidate rows from the generator and label them with the teacher (one batched call);
3. score each candidate by the teacher–student difference, **bounded**: differences above a cap count
   as the cap, so a few rows where the teacher extrapolates wildly cannot take the whole round; plus a
   term for the teacher's own uncertainty (1 − its top probability), so boundary regions get more rows;
4. keep the best-scoring candidates, with at most ``region_cap`` of a round's rows from one region
   (a leaf of a tree student, else a (teacher class, student class) pair or a pair of value bins), so
   no single region dominates; add them and retrain.

Candidates come from the generator, which already keeps them inside the observed ranges and categories
(:meth:`Schema.conform`), so "bounded" also holds in input space.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

import numpy as np
import pandas as pd

from tabcompress.generators.base import Generator
from tabcompress.students.base import Student
from tabcompress.students.encoding import StackedFrames


@dataclass
class SelectionRule:
    """How teacher-aware selection spends the synthetic rows.

    rounds : select → retrain rounds (0: no selection, all synthetic rows are plain draws).
    share : share of the synthetic rows that are chosen by selection (the rest are plain draws).
    pool : candidates drawn (and labelled by the teacher) per row kept.
    bound : disagreement cap; classification disagreement is total variation in [0, 1], regression
        disagreement is |teacher − student| in units of the teacher's standard deviation.
    uncertainty : weight of the teacher's uncertainty in the score (classification only).
    region_cap : most of a round's rows that one region may take.
    spread : weight of a term that spreads the teacher's outputs: a candidate scores more when its
        teacher class (or, for regression, its tenth of the teacher's value range) is rare among the
        rows kept so far — Zhou & Chiam's diversity term, which data-free runs need because nothing
        else keeps them from piling up in the teacher's commonest output.

    The first four are a run's settings (:class:`tabcompress.config.SelectionSettings`, checked there);
    the other three are fixed here.
    """

    rounds: int = 2
    share: float = 0.5
    pool: int = 4
    bound: float = 0.5
    uncertainty: float = 0.5
    region_cap: float = 0.05
    spread: float = 0.0

    @classmethod
    def from_settings(cls, settings: Any, rounds: int | None = None) -> "SelectionRule":
        """The rule of a run's ``settings.selection``, with ``rounds`` when a time budget cut them."""
        s = settings.selection
        return cls(rounds=s.rounds if rounds is None else rounds, share=s.share, pool=s.pool, spread=s.spread)


Labeller = Callable[[pd.DataFrame], np.ndarray]
StageFactory = Callable[..., ContextManager[None]]
StudentFactory = Callable[[], Student]


def disagreement(teacher_out: np.ndarray, student_out: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Per-row teacher–student difference: total variation between probability vectors, or the
    absolute difference of values divided by ``scale``."""
    if teacher_out.ndim == 2:
        return 0.5 * np.abs(teacher_out - student_out).sum(axis=1)
    return np.abs(teacher_out - student_out) / scale


def select(scores: np.ndarray, regions: np.ndarray, k: int, region_cap: float) -> np.ndarray:
    """Indices of ``k`` rows with the highest scores, at most ``ceil(region_cap × k)`` per region.

    When the caps leave fewer than ``k`` rows eligible, the remaining places go to the best of the
    rest, so a round always adds ``k`` rows (a student with few regions, a depth-2 tree say, would
    otherwise starve).
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    _, region_codes = np.unique(regions[order], return_inverse=True)
    # rank of each row within its region, without a Python loop: stable sort by region, then the
    # position inside each run of equal regions
    rank = np.zeros(n, dtype=np.int64)
    by_region = np.argsort(region_codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(region_codes[by_region])) + 1]
    run_lengths = np.diff(np.r_[starts, n])
    rank[by_region] = np.arange(n) - np.repeat(starts, run_lengths)
    cap = max(1, int(np.ceil(region_cap * k)))
    eligible = order[rank < cap]
    chosen = eligible[:k]
    if len(chosen) < k:
        rest = order[rank >= cap]
        chosen = np.concatenate([chosen, rest[: k - len(chosen)]])
    return np.sort(chosen)


def _regions(student: Student, X: pd.DataFrame, teacher_out: np.ndarray, student_out: np.ndarray) -> np.ndarray:
    """A region id per row: the student's leaf when it has leaves, else coarse output cells."""
    leaves = getattr(student, "leaf_ids", None)
    if callable(leaves):
        return np.asarray(leaves(X))
    if teacher_out.ndim == 2:
        return np.argmax(teacher_out, axis=1) * teacher_out.shape[1] + np.argmax(student_out, axis=1)
    edges = np.quantile(teacher_out, np.linspace(0, 1, 11)[1:-1])
    return np.searchsorted(edges, teacher_out) * 11 + np.searchsorted(edges, student_out)


def rarity(kept: np.ndarray, candidates: np.ndarray, bins: int = 10) -> np.ndarray:
    """Per candidate, how under-represented its teacher output is among the ``kept`` rows' outputs, in
    [0, 1]: 1 − (share of its class, or of its value bin) × (number of classes or bins), floored at 0."""
    if candidates.ndim == 2:
        n_out = candidates.shape[1]
        share = np.bincount(np.argmax(kept, axis=1), minlength=n_out) / max(1, len(kept))
        return np.maximum(0.0, 1.0 - n_out * share[np.argmax(candidates, axis=1)])
    low, high = float(np.min(kept)), float(np.max(kept))
    edges = np.linspace(low, high, bins + 1)[1:-1] if high > low else np.zeros(0)
    share = np.bincount(np.searchsorted(edges, kept), minlength=bins) / max(1, len(kept))
    return np.maximum(0.0, 1.0 - bins * share[np.searchsorted(edges, candidates)])


@dataclass
class SelectionResult:
    student: Student
    X_synth: pd.DataFrame
    T_synth: np.ndarray
    info: dict[str, Any]


def train_with_selection(*, make: StudentFactory, fit_kwargs: dict[str, Any], label: Labeller,
                         generator: Generator, X_real: pd.DataFrame, T_real: np.ndarray, n_synthetic: int,
                         settings: SelectionRule, seed: int, stage: StageFactory | None = None,
                         student_name: str = "student") -> SelectionResult:
    """Train a student on real rows plus ``n_synthetic`` generated rows, a share of them selected.

    ``make()`` builds an unfitted student; ``label(X)`` asks the teacher (soft targets). ``stage(key,
    title, detail)`` is a context manager wrapped around each step (the pipeline times and reports
    them: ``generate``, ``label_synthetic``, ``student_fit``, ``selection``). Returns the final student,
    the synthetic rows it saw and a summary for the report.
    """
    stage = stage or _no_stage
    rounds = settings.rounds if n_synthetic > 0 else 0
    n_selected = int(round(n_synthetic * settings.share)) if rounds else 0
    n_plain = n_synthetic - n_selected
    with stage("generate", "sampling synthetic rows", f"{n_plain:,} rows"):
        X_parts = [generator.sample(n_plain, random_state=seed + 1)]
    with stage("label_synthetic", "labelling the synthetic rows with the teacher", f"{n_plain:,} rows"):
        T_parts = [label(X_parts[0])]
    with stage("student_fit", f"training the {student_name} student",
               f"{len(X_real):,} real + {n_plain:,} synthetic rows"):
        student = make().fit(StackedFrames.of([X_real, X_parts[0]]),
                             np.concatenate([T_real, T_parts[0]]), **fit_kwargs)
    # regression differences are in units of the teacher's spread (of the real rows; of the first
    # synthetic rows when there are none, as in a data-free run)
    reference = T_real if len(T_real) else T_parts[0]
    scale = (float(np.std(reference)) or 1.0) if T_real.ndim == 1 and len(reference) else 1.0
    history: list[dict[str, Any]] = []
    per_round = np.diff(np.linspace(0, n_selected, rounds + 1).round().astype(int)) if rounds else []
    for r, k in enumerate(per_round):
        if k == 0:
            continue
        with stage(f"selection_{r + 1}", f"selection round {r + 1} of {rounds}",
                   f"keeping {int(k):,} of {int(k) * settings.pool:,} candidates, then retraining"):
            pool = generator.sample(int(k) * settings.pool, random_state=seed + 101 + r)
            T_pool = label(pool)
            S_pool = student.predict_proba(pool) if T_pool.ndim == 2 else student.predict(pool)
            diff = disagreement(T_pool, S_pool, scale=scale)
            score = np.minimum(diff, settings.bound)
            if T_pool.ndim == 2 and settings.uncertainty:
                score = score + settings.uncertainty * (1.0 - T_pool.max(axis=1))
            if settings.spread:
                score = score + settings.spread * rarity(np.concatenate([T_real, *T_parts]), T_pool)
            keep = select(score, _regions(student, pool, T_pool, S_pool), int(k), settings.region_cap)
            X_parts.append(pool.iloc[keep].reset_index(drop=True))
            T_parts.append(T_pool[keep])
            history.append({"round": r + 1, "candidates": int(len(pool)), "kept": int(len(keep)),
                            "mean_disagreement_pool": round(float(diff.mean()), 4),
                            "mean_disagreement_kept": round(float(diff[keep].mean()), 4)})
            student = make().fit(StackedFrames.of([X_real, *X_parts]),
                                 np.concatenate([T_real, *T_parts]), **fit_kwargs)
    X_synth = pd.concat(X_parts, ignore_index=True)
    info = {"rounds": len(history), "plain_rows": int(n_plain), "selected_rows": int(len(X_synth) - n_plain),
            "candidates_labelled": int(sum(h["candidates"] for h in history)), "history": history}
    return SelectionResult(student=student, X_synth=X_synth, T_synth=np.concatenate(T_parts), info=info)


@contextlib.contextmanager
def _no_stage(key: str, title: str, detail: str = "") -> Iterator[None]:
    yield
