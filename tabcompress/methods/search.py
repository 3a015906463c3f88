"""Choosing the student on validation rows: which synthetic rows, and, with a target or a bound, which size
(with ``--student auto``, which family too).

A run with real rows keeps ``--validation-size`` of its training rows aside. Each *candidate* is a student
fitted on the other training rows (real, plus some synthetic ones) and judged on the validation rows:
fidelity to the teacher, pickled bytes, latency on one row and on a batch. A rule then picks one:

* ``--target-fidelity F``: the smallest candidate (bytes; ties go to the faster) whose fidelity reaches F;
  when none does, the most faithful, with a note;
* ``--max-size`` / ``--max-latency``: the most faithful candidate inside the bounds; when none is, the
  smallest, with a note (both may be combined with a target);
* ``--student auto`` without either: the smallest candidate within :data:`KNEE` of the most faithful;
* otherwise (one family and size): the student trained as the settings say (all the synthetic rows, a
  tree grown on probabilities), unless another is *clearly* more faithful (by more than two standard
  errors of the paired difference on the validation rows).

The search is coordinate-wise, so that it needs few fits: per family the synthetic rows are chosen first,
at the size the settings give (no synthetic rows, a quarter of them, all of them); then the family's other
ways of training (a tree grown on the teacher's classes rather than its probabilities) with those rows;
then, when sizes are searched, the family's sizes are tried with those rows, smallest first, stopping
where a larger size cannot serve the rule better. A student chosen with synthetic rows is compared with
the same student on the real rows alone: where the real rows alone did better on the validation rows, they
ship instead (fewer synthetic rows ship where those did better still), with a note. When the synthetic rows
do not look real (:data:`DOUBTFUL_AUC`), the real rows alone ship where the two tie too. Where the settings
name a generator other than ``--generator auto``'s, rows that do not look real are weighed against
``auto``'s instead: those ship unless the asked rows (or the real rows alone) are clearly more faithful.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from tabcompress.config import AUTO_STUDENT, Settings
from tabcompress.data import split_rows
from tabcompress.evaluation.metrics import fidelity, latency, serialized_bytes
from tabcompress.registry import NO_GENERATOR
from tabcompress.students.registry import student_class

#: how many standard errors better on the validation rows a candidate must be to replace the settings' own
#: way of training (see Search.settled)
CLEARLY = 2.0
#: ``--student auto`` without a target: the smallest student within this much fidelity of the best one
KNEE = 0.005
#: the families ``--student auto`` searches, smallest first (an MLP trains for minutes per size: it is
#: searched when named, ``--student mlp``)
AUTO_FAMILIES = ("linear", "tree", "gbdt")
#: shares of the synthetic rows each family is tried with at its reference size
DATA_SHARES = (0.0, 0.25, 1.0)
#: validation rows the latencies are measured on (one row, and a batch of at most this many)
LATENCY_ROWS = 1000
#: fewer validation rows than this, or fewer fit rows, and the run trains as it is set, without a search
MIN_VALIDATION_ROWS = 30
#: synthetic rows that a classifier tells from the real rows at this ROC AUC or more
#: (:func:`tabcompress.evaluation.realism.detection_auc`) must earn their place: when the student trained
#: on them is no more faithful on the validation rows than the same student on the real rows alone, the
#: real rows alone ship. CTGAN's rows on 3,000-row tables scored 0.99 or more; on adult they cost a
#: depth-4 tree 0.065 on held-out rows but 0.025 on the validation rows (the teacher's own training rows),
#: short of CLEARLY. MUNGE's rows scored at most 0.75 against the rows they came from, half MUNGE and half
#: the teacher's trees' at most 0.87 (docs/measurements.md, "The guard against rows that do not look real").
DOUBTFUL_AUC = 0.95


@dataclass(frozen=True)
class DataOption:
    """Which rows a candidate trains on besides the real ones: ``n_synthetic`` from ``generator``."""

    generator: str
    n_synthetic: int


@dataclass(eq=False)  # candidates are compared by identity
class Candidate:
    """One student tried on the validation rows."""

    family: str
    params: dict[str, Any]
    data: DataOption
    synthetic_ratio: float
    validation: dict[str, float]
    bytes: int
    latency: dict[str, float]
    fit_s: float
    student: Any = field(repr=False)
    losses: np.ndarray = field(repr=False)  # per validation row (see Search.judge)
    chosen: bool = False

    @property
    def name(self) -> str:
        """``tree depth 6 on classes``, ``gbdt 50 trees depth 4``, ``mlp 64,64``, ``linear``."""
        words = [_LABELS.get(k, f"{k.replace('_', '-')} {{}}").format(_plain(v)) for k, v in self.params.items()
                 if not (k == "grow_on" and v == "probabilities")]
        return " ".join([self.family, *words])

    @property
    def generator(self) -> str:
        return self.data.generator if self.data.n_synthetic else NO_GENERATOR

    @property
    def rows(self) -> str:
        """What it trained on besides the real rows: ``real rows only``, ``munge ×20``."""
        return f"{self.generator} ×{self.synthetic_ratio:.3g}" if self.data.n_synthetic else "real rows only"

    @property
    def fidelity(self) -> float:
        return float(self.validation["fidelity"])

    def twin_of(self, other: "Candidate") -> bool:
        return self.family == other.family and self.params == other.params

    def to_dict(self, on_frontier: bool) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "params": {k: _plain(v) for k, v in self.params.items()},
                "generator": self.generator, "rows": self.rows, "synthetic_rows": int(self.data.n_synthetic),
                "synthetic_ratio": round(self.synthetic_ratio, 4),
                "validation": {k: float(v) for k, v in self.validation.items()}, "bytes": int(self.bytes),
                "single_row_ms": round(self.latency["single_row_ms"], 4),
                "batch_ms": round(self.latency["batch_ms"], 3), "batch_rows": int(self.latency["batch_rows"]),
                "fit_s": round(self.fit_s, 3), "chosen": self.chosen, "on_frontier": on_frontier}


#: how a candidate's name shows the options of its size
_LABELS = {"max_depth": "depth {}", "trees": "{} trees", "hidden": "{}", "grow_on": "on {}",
           "ccp_alpha": "pruned at {:.3g}"}


def _clearly_better(a: Candidate, b: Candidate, classify: bool) -> bool:
    """Whether ``a``'s validation loss is below ``b``'s by more than :data:`CLEARLY` standard errors of the
    paired per-row difference: McNemar's test with a continuity correction for disagreement
    (``classify``), a paired z-test for squared errors."""
    diff = b.losses - a.losses
    if classify:
        fixed, broken = int(np.sum(diff > 0)), int(np.sum(diff < 0))  # rows only one of them gets right
        return fixed > broken and (fixed - broken - 1) / np.sqrt(fixed + broken) > CLEARLY  # with continuity
    spread = float(np.std(diff)) / np.sqrt(len(diff))
    return float(np.mean(diff)) > 0 and float(np.mean(diff)) > CLEARLY * spread


def _plain(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value


@dataclass
class SearchResult:
    """The candidates, the one chosen and why, and what the user should know."""

    candidates: list[Candidate]
    chosen: Candidate
    rule: str
    fit_rows: int
    validation_rows: int
    notes: list[str] = field(default_factory=list)
    sizes_searched: bool = False
    #: the chosen student trained again on every training row: its validation fidelity, and whether it
    #: shipped (see ``tabcompress.run.modes``); None where it was not trained again
    refit: dict[str, Any] | None = None

    def frontier(self) -> list[Candidate]:
        """The candidates no other beats on both fidelity and bytes, smallest first."""
        ordered = sorted(self.candidates, key=lambda c: (c.bytes, -c.fidelity))
        out: list[Candidate] = []
        for c in ordered:
            if not out or c.fidelity > out[-1].fidelity:
                out.append(c)
        return out

    def to_dict(self) -> dict[str, Any]:
        front = self.frontier()
        return {"rule": self.rule, "fit_rows": self.fit_rows, "validation_rows": self.validation_rows,
                "sizes_searched": self.sizes_searched, "refit": self.refit,
                "chosen": self.chosen.name, "chosen_generator": self.chosen.generator,
                "frontier": [f"{c.name} ({c.rows})" for c in front], "notes": list(self.notes),
                "candidates": [c.to_dict(on_frontier=any(c is f for f in front)) for c in self.candidates]}


# -- what is searched ------------------------------------------------------------------------------

def families(settings: Settings) -> list[str]:
    """The student families a run tries."""
    return list(AUTO_FAMILIES) if settings.student_name == AUTO_STUDENT else [settings.student_name]


def searches_sizes(settings: Settings) -> bool:
    return settings.student_name == AUTO_STUDENT or settings.target.sizing


def candidate_options(family: str, settings: Settings) -> dict[str, Any]:
    """Options a candidate of a search of sizes is trained with besides its size: a tree is CART's
    (``lookahead`` 1) unless ``--lookahead`` was given. Such a search grows a dozen trees or more, and
    lookahead multiplies a tree's fit by about ten on 100,000 rows; the tree chosen is grown again on
    every training row with lookahead, as the settings say."""
    if family == "tree" and searches_sizes(settings) and settings.student.lookahead is None:
        return {"lookahead": 1}
    return {}


def sizes(family: str, settings: Settings) -> list[dict[str, Any]]:
    """The sizes (as options) a family is tried at: the size the settings give (its reference), or, when
    sizes are searched, its ladder of sizes, smallest first (the reference is tried anyway)."""
    cls = student_class(family)
    reference = cls.size_of(settings.replace(student=family))
    if not searches_sizes(settings):
        return [reference]
    return [dict(size) for size in cls.sizes] or [reference]


def data_options(generator: str, n_synthetic: int) -> list[DataOption]:
    """None, a quarter and all of the synthetic rows (fewer when there are few)."""
    if generator == NO_GENERATOR or n_synthetic <= 0:
        return [DataOption(NO_GENERATOR, 0)]
    counts = sorted({int(round(share * n_synthetic)) for share in DATA_SHARES})
    return [DataOption(generator if n else NO_GENERATOR, n) for n in counts]


def validation_split(n_rows: int, settings: Settings,
                     labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices of the fit rows and the validation rows (stratified by the teacher's class where it can be);
    None when there are too few rows to keep some aside."""
    if settings.data.validation_size == 0:
        return None
    n_validation = int(np.ceil(settings.data.validation_size * n_rows))
    if n_validation < MIN_VALIDATION_ROWS or n_rows - n_validation < MIN_VALIDATION_ROWS:
        return None
    fit, validation, _ = split_rows(n_rows, n_validation, settings.seed, labels)
    return fit, validation


# -- the search ------------------------------------------------------------------------------------

Fit = Callable[[str, dict[str, Any], DataOption], Any]


class Search:
    """Fits and judges candidates (see the module's docstring).

    ``fit(family, params, data)`` returns a student fitted on the fit rows plus ``data``'s synthetic rows;
    ``X_val``, ``T_val`` are the validation rows and the teacher's soft targets for them; ``n_real`` the
    fit rows, ``n_train`` the training rows (fit and validation) that synthetic ratios are counted on.
    ``deadline`` (a ``time.perf_counter()`` value) stops the size sweep when it is near. ``realism()``: how
    well a classifier tells the synthetic rows from the fit rows (see :data:`DOUBTFUL_AUC`); called only
    when a student on synthetic rows is no more faithful than its twin on the real rows alone, and kept
    in ``detection_auc``. ``default_rows()``: the data options of the rows ``--generator auto`` would use
    (generated when called), where the settings name another generator; with it the realism is measured
    for every run that has synthetic rows, and rows that look unlike the real ones are weighed against the
    default's (see :meth:`run`).
    """

    def __init__(self, settings: Settings, *, fit: Fit, X_val: pd.DataFrame, T_val: np.ndarray, n_real: int,
                 classes: np.ndarray | None, deadline: float | None = None, note: Callable[[str], None] | None = None,
                 n_train: int | None = None, realism: Callable[[], float | None] | None = None,
                 default_rows: Callable[[], list[DataOption]] | None = None):
        self.settings = settings
        self.realism = realism
        self.default_rows = default_rows
        self.detection_auc: float | None = None
        self.target = settings.target
        self.fit = fit
        self.X_val, self.T_val = X_val, T_val
        self.n_real = n_real
        self.n_train = n_train or n_real  # the training rows a ratio counts (the shipped student trains on all)
        self.classes = classes
        self.deadline = deadline
        self.note = note or (lambda message: None)
        self.task = "regression" if classes is None else "classification"
        self.reference = classes[np.argmax(T_val, axis=1)] if classes is not None else T_val
        self.candidates: list[Candidate] = []
        self.notes: list[str] = []
        self.own: Candidate | None = None  # the student as the settings train it (all the synthetic rows)
        self.asked = NO_GENERATOR  # the settings' generator (set by run)

    def score(self, student: Any) -> float:
        """A fitted student's fidelity to the teacher on the validation rows."""
        return float(fidelity(self.task, self.reference, student.predict(self.X_val))["fidelity"])

    # -- one candidate --------------------------------------------------------------------------
    def judge(self, family: str, params: dict[str, Any], data: DataOption, student: Any = None,
              fit_s: float | None = None) -> Candidate:
        """Fit (unless ``student`` is given, already fitted) and judge one candidate."""
        if student is None:
            start = time.perf_counter()
            student = self.fit(family, params, data)
            fit_s = time.perf_counter() - start
        predicted = student.predict(self.X_val)
        scored = fidelity(self.task, self.reference, predicted)
        # per-row loss, for paired comparisons: disagreement, or squared error to the teacher's value
        losses = (np.asarray(predicted) != self.reference).astype(np.float64) if self.classes is not None else \
            (np.asarray(predicted, dtype=np.float64) - self.reference) ** 2
        probe = self.X_val.iloc[:LATENCY_ROWS]
        candidate = Candidate(family=family, params=dict(params), data=data,
                              synthetic_ratio=data.n_synthetic / max(1, self.n_train), validation=scored,
                              bytes=serialized_bytes(student),
                              latency=latency(student.predict, probe, batch_repeats=3, single_repeats=9),
                              fit_s=float(fit_s or 0.0), student=student, losses=losses)
        self.candidates.append(candidate)
        return candidate

    # -- the sweep ------------------------------------------------------------------------------
    def run(self, options: Sequence[DataOption], first: Candidate | None = None) -> SearchResult:
        """Every family: the data option at its reference size, then its sizes; then the rule's choice."""
        self.asked = options[-1].generator  # the settings' generator
        for family in families(self.settings):
            ladder = sizes(family, self.settings)
            reference = student_class(family).size_of(self.settings.replace(student=family))
            tried = [first] if first is not None and first.family == family else []
            for data in options:
                if not any(c.data == data and c.params == reference for c in tried) and not self._late(tried):
                    tried.append(self.judge(family, reference, data))
            if self.own is None:  # the first family trained as the settings say
                self.own = next((c for c in tried if c.params == reference and c.data == options[-1]), None)
            best_data = self.settled([c for c in tried if c.params == reference], default=options[-1]).data
            variant: dict[str, Any] = {}
            variants = self._variants(family)
            if variants:  # other ways of training it, at the reference size with the best rows
                for c in tried:  # those so far were trained the default way
                    c.params.update(variants[0])
                for other in variants[1:]:
                    if not self._late(tried):
                        tried.append(self.judge(family, {**reference, **other}, best_data))
                top = self.settled([c for c in tried if c.data == best_data], default=variants[0])
                variant = {k: top.params[k] for k in variants[0]}
            swept: list[Candidate] = []  # the ladder's sizes so far, smallest first
            for params in ({**size, **variant} for size in ladder):
                if self._stop(swept) or self._late(tried):
                    break
                done = [c for c in tried if c.params == params and c.data == best_data]
                swept.append(done[0] if done else self.judge(family, params, best_data))
                if not done:
                    tried.append(swept[-1])
            if swept and searches_sizes(self.settings):  # the family's sizes past its ladder: gbdt filling
                # a bound, the most faithful tree pruned
                fitted = [(c.params, c.student, c.bytes, c.fidelity) for c in tried if c.data == best_data]
                for size in student_class(family).more_sizes(fitted, self.target.max_size):
                    if self._late(tried):
                        break
                    tried.append(self.judge(family, {**size, **variant}, best_data))
        chosen, rule = self.choose()
        twin = next((c for c in self.candidates if c.twin_of(chosen) and not c.data.n_synthetic), None)
        if chosen.data.n_synthetic and twin is None:
            twin = self.judge(chosen.family, chosen.params, DataOption(NO_GENERATOR, 0))
            chosen, rule = self.choose()
        weighed = None
        if self.default_rows is not None and twin is not None and not self._late(self.candidates) \
                and self._doubtful():
            weighed = self._against_default_rows(chosen, twin)
        if weighed is not None:
            chosen, rule = weighed
        if chosen.data.n_synthetic and twin is not None and twin.fidelity >= chosen.fidelity:
            # the validation rows say the synthetic rows did not help this student: the real rows alone
            # ship where they did better there, or tied and the synthetic rows do not look real
            if self._inside(twin):
                doubtful = weighed is None and self._doubtful()
                if twin.fidelity > chosen.fidelity or doubtful:
                    chosen, rule = self._without_the_rows_that_hurt(chosen, twin, rule, doubtful)
            elif twin.fidelity > chosen.fidelity:
                self._say(f"the student chosen ({chosen.name}, {chosen.rows}) agrees less with the teacher on "
                          f"the validation rows than the same student on the real rows alone ({chosen.fidelity:.4f} "
                          f"against {twin.fidelity:.4f}), which breaks a bound: {rule}")
        chosen.chosen = True
        return SearchResult(candidates=self.candidates, chosen=chosen, rule=rule, fit_rows=self.n_real,
                            validation_rows=len(self.X_val), notes=self.notes,
                            sizes_searched=searches_sizes(self.settings))

    def _without_the_rows_that_hurt(self, chosen: Candidate, twin: Candidate, rule: str,
                                    doubtful: bool) -> tuple[Candidate, str]:
        """``chosen`` trained on synthetic rows and did no better on the validation rows than ``twin``, the
        same student on the real rows alone: the twin, unless fewer synthetic rows made the same student
        more faithful than the twin did (only the same student on other rows can beat the twin)."""
        fewer = [c for c in self.candidates if c.twin_of(chosen) and self._inside(c) and c.fidelity > twin.fidelity]
        if fewer:
            instead = max(fewer, key=lambda c: c.fidelity)
            said = f"{instead.rows}, which made it more faithful than the real rows alone ({instead.fidelity:.4f})"
            why = f"fewer synthetic rows, since those chosen did not help ({rule})"
        else:
            instead, said = twin, "the real rows alone"
            why = f"the real rows alone, since the synthetic rows did not help ({rule})"
        unlike = (f"the synthetic rows look unlike the real ones (a classifier tells them apart at ROC AUC "
                  f"{self.detection_auc:.2f}) and " if doubtful else "")
        self._say(f"{unlike}the student chosen ({chosen.name}, {chosen.rows}) is no more faithful to the teacher on "
                  f"the validation rows than the same student on the real rows alone ({chosen.fidelity:.4f} "
                  f"against {twin.fidelity:.4f}): it trains on {said}")
        return instead, why

    def _against_default_rows(self, chosen: Candidate, twin: Candidate) -> tuple[Candidate, str] | None:
        """The settings' synthetic rows look unlike the real ones: the chosen student is trained on the
        rows ``--generator auto`` would use, and those ship unless another way of training the same
        student (the settings' rows, fewer of them, the real rows alone) is *clearly* more faithful, as in
        a run with the default generator (:meth:`settled`). None (the guard below applies) when those rows
        break a bound the settings give."""
        own = [c for c in self.candidates if c.twin_of(chosen)]
        others = [self.judge(chosen.family, chosen.params, data) for data in self.default_rows()]
        if not others or not self._inside(others[-1]):
            return None
        inside = [c for c in own + others if self._inside(c)]
        instead, auto = self.settled(inside, default=others[-1].data), others[-1]
        asked = [f"{c.fidelity:.4f} with {c.rows}" for c in own if c.data.n_synthetic]
        self._say(f"the synthetic rows from {self.asked} look unlike the real ones (a classifier tells them apart "
                  f"at ROC AUC {self.detection_auc:.2f}): the student ({chosen.name}) was also trained on the rows "
                  f"--generator auto uses ({auto.rows}: validation fidelity {auto.fidelity:.4f}, against "
                  + ", ".join([*asked, f"{twin.fidelity:.4f} with the real rows alone"])
                  + "); it trains on " + ("those" if instead is auto else instead.rows if instead.data.n_synthetic
                                          else "the real rows alone"))
        if instead is auto:
            return instead, (f"the rows --generator auto uses, since those from {self.asked} look unlike the real "
                             f"ones and no other rows made it clearly more faithful")
        return instead, (f"{instead.rows}, clearly more faithful than the rows --generator auto uses, which were "
                         f"tried since those from {self.asked} look unlike the real ones")

    def _variants(self, family: str) -> list[dict[str, Any]]:
        """The ways of training ``family`` to try: its variants, for classification, when their options are auto."""
        variants = [dict(v) for v in student_class(family).variants]
        if self.classes is None or not all(self.settings.get(k) == "auto" for v in variants for k in v):
            return []
        return variants

    def _stop(self, swept: list[Candidate]) -> bool:
        """Whether a size larger than those swept (smallest first) cannot serve the rule better."""
        target = self.target
        if not swept:
            return False
        last = swept[-1]
        if target.fidelity is not None and last.fidelity >= target.fidelity:
            return True
        if target.max_size is not None and last.bytes > target.max_size:
            return True
        if target.max_latency is not None and last.latency["single_row_ms"] > 1000 * target.max_latency:
            return True
        if not target.sizing:  # the knee: two sizes in a row that gain less than half of it on the best before
            fidelities = [c.fidelity for c in swept]
            return len(swept) >= 3 and max(fidelities[-2:]) < max(fidelities[:-2]) + KNEE / 2
        return False

    def _late(self, tried: list[Candidate]) -> bool:
        """Whether the next fit would likely run past the deadline (judged by the slowest fit so far)."""
        if self.deadline is None or not tried:
            return False
        late = time.perf_counter() + 2 * max(c.fit_s for c in tried) > self.deadline
        if late and not any("time budget" in n for n in self.notes):
            self._say("time budget: the search of student sizes stopped early")
        return late

    def _say(self, message: str) -> None:
        if message not in self.notes:  # the rule may be applied twice (see run)
            self.notes.append(message)
            self.note(message)

    def settled(self, tried: list[Candidate], default: Any = None) -> Candidate:
        """Among candidates of one size, the one that trains as the settings say (``default``: its data
        option or its variant; else the first tried), unless another is *clearly* better: its loss on the
        validation rows is lower by more than :data:`CLEARLY` standard errors of the paired difference.
        Of those clearly better, the best. A choice among near-equals would follow the validation rows'
        noise rather than the student's quality."""
        def is_default(c: Candidate) -> bool:
            if isinstance(default, DataOption):
                return c.data == default
            if isinstance(default, dict):
                return all(c.params.get(k) == v for k, v in default.items())
            return c is tried[0]

        base = next((c for c in tried if is_default(c)), tried[0])
        better = [c for c in tried if c is not base and _clearly_better(c, base, self.classes is not None)]
        return min(better, key=lambda c: float(np.mean(c.losses))) if better else base

    # -- the rule -------------------------------------------------------------------------------
    def _doubtful(self) -> bool:
        """Whether the synthetic rows look unlike the real ones (measured once, when first asked)."""
        if self.detection_auc is None and self.realism is not None:
            self.detection_auc = self.realism()
        return self.detection_auc is not None and self.detection_auc >= DOUBTFUL_AUC

    def _inside(self, c: Candidate) -> bool:
        """Whether ``c`` keeps the bounds (``--max-size``, ``--max-latency``) the settings give."""
        t = self.target
        return ((t.max_size is None or c.bytes <= t.max_size)
                and (t.max_latency is None or c.latency["single_row_ms"] <= 1000 * t.max_latency))

    def choose(self) -> tuple[Candidate, str]:
        """The candidate the settings' rule picks, and the rule in words."""
        target, pool = self.target, list(self.candidates)
        smallest = lambda c: (c.bytes, c.latency["single_row_ms"])  # noqa: E731
        faithful = lambda c: (-c.fidelity, c.data.n_synthetic, c.bytes)  # noqa: E731
        bounds = []
        if target.max_size is not None:
            bounds.append(f"at most {target.max_size:,} bytes")
        if target.max_latency is not None:
            bounds.append(f"one row in at most {target.max_latency:g} s")
        pool = [c for c in pool if self._inside(c)]
        within = " and ".join(bounds)
        if bounds and not pool:
            chosen = min(self.candidates, key=smallest)
            self._say(f"no student tried is {within}: the smallest one ships ({chosen.name}, {chosen.bytes:,} bytes)")
            return chosen, f"none {within}: the smallest"
        if target.fidelity is not None:
            reaching = [c for c in pool if c.fidelity >= target.fidelity]
            if reaching:
                return min(reaching, key=smallest), (f"the smallest reaching fidelity {target.fidelity:g}"
                                                     + (f", {within}" if within else ""))
            best = min(pool, key=faithful)
            self._say(f"no student tried reaches fidelity {target.fidelity:g} on the validation rows: the most "
                      f"faithful one ships ({best.name}, {best.fidelity:.4f})")
            return best, "none reaches the target: the most faithful" + (f" {within}" if within else "")
        if bounds:
            return min(pool, key=faithful), f"the most faithful {within}"
        if self.settings.student_name == AUTO_STUDENT:
            top = max(c.fidelity for c in pool)
            near = [c for c in pool if c.fidelity >= top - KNEE]
            return min(near, key=smallest), f"the smallest within {KNEE:g} of the most faithful"
        own = self.own if self.own in pool else pool[0]
        settled = self.settled([own] + [c for c in pool if c is not own])
        if settled is not own:
            return settled, "clearly more faithful than the settings' own"
        return settled, "the settings' own: no other was clearly more faithful"
