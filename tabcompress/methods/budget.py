"""Planning a run to fit a time budget (``--time-budget SECONDS``).

The costly quantities of a run are known before they are spent, up to a rate each: how many synthetic
rows are drawn and labelled, how many rows each student fit sees and how often (selection rounds),
and how long a trainable generator (CTGAN, TVAE) trains. The rates are measured on the spot — the
teacher on a slice of the real rows, the student by its real-rows fit — and the plan picks the largest
run that fits:

1. keep a tenth of what is left for scoring and writing, and estimation error;
2. give a trainable generator at least :data:`GENERATOR_SHARE` of the rest as its time limit;
3. fit the rows into the remainder: fewer selection rounds first (each retrains the student), then
   fewer synthetic rows, down to none (the real rows only).

Once the generator is fitted the rows are planned again (:attr:`Plan.replanned`) with rates timed again:
the machine's load may have changed while it trained, and its draw can now be timed (a small draw, whose
rows the teacher labels) where the first plan had to assume :data:`SAMPLE_SECONDS_PER_ROW`.

Every cut is written down in ``adjustments``, and the report shows the plan beside what was spent.
Memory is checked once, up front: :func:`check_rows_fit` refuses synthetic rows that cannot fit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

#: share of the plannable time a trainable generator gets at least
GENERATOR_SHARE = 0.4
#: share of the time left that is kept back for scoring, writing and estimation error
RESERVE = 0.1
#: real rows on which the teacher's labelling and a student's fit are timed
PROBE_ROWS = 2000
#: seconds per sampled row, assumed before the generator is fitted: CTGAN's decoder, the slowest generator
#: we have, samples about 100,000 rows a second on 2 idle cores (several times fewer on busy ones)
SAMPLE_SECONDS_PER_ROW = 1e-5


@dataclass
class Rates:
    """Measured (or assumed) seconds per row of each costly step."""

    label: float  # teacher labelling, per row
    student: float  # one student fit, per training row
    sample: float  # generator sampling, per row


@dataclass
class Plan:
    n_synthetic: int
    rounds: int
    generator_time_limit: float | None  # None: the generator is not trainable or no budget applies
    estimate_s: float  # the rows' estimated cost (sampling, labelling, student fits), generator excluded
    adjustments: list[str] = field(default_factory=list)
    replanned: dict[str, Any] | None = None  # the rows planned again once the generator was fitted

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["estimate_s"] = round(self.estimate_s, 2)
        if self.generator_time_limit is not None:
            out["generator_time_limit"] = round(self.generator_time_limit, 2)
        return out


def rows_cost(n_real: int, n_synthetic: int, rounds: int, share: float, pool: int, rates: Rates) -> float:
    """Estimated seconds to draw, label and train on ``n_synthetic`` rows with ``rounds`` of selection."""
    n_selected = int(round(n_synthetic * share)) if rounds and n_synthetic else 0
    n_plain = n_synthetic - n_selected
    drawn = n_plain + n_selected * pool
    fits = n_real + n_plain  # the first fit
    for r in range(1, (rounds if n_selected else 0) + 1):
        fits += n_real + n_plain + n_selected * r / rounds
    return drawn * (rates.label + rates.sample) + fits * rates.student


def plan(seconds_left: float, *, n_real: int, n_synthetic: int, rounds: int, share: float, pool: int,
         rates: Rates, trainable_generator: bool) -> Plan:
    """The largest run (as asked, or cut down) whose estimated cost fits in ``seconds_left``."""
    usable = max(0.0, seconds_left * (1.0 - RESERVE))
    for_rows = usable * (1.0 - GENERATOR_SHARE) if trainable_generator else usable
    adjustments: list[str] = []

    def cost(n: int, r: int) -> float:
        return rows_cost(n_real, n, r, share, pool, rates)

    n, r = n_synthetic, rounds
    while r > 0 and cost(n, r) > for_rows:
        r -= 1
    if r < rounds:
        adjustments.append(f"selection rounds {rounds} → {r}")
    if cost(n, r) > for_rows:
        # the largest n that fits: cost is increasing in n, so bisect
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if cost(mid, r) <= for_rows:
                lo = mid
            else:
                hi = mid - 1
        adjustments.append(f"synthetic rows {n:,} → {lo:,}")
        n = lo
    estimate = cost(n, r)
    limit = None
    if trainable_generator:
        limit = max(0.0, usable - estimate) if n else 0.0
    return Plan(n_synthetic=n, rounds=r, generator_time_limit=limit, estimate_s=estimate, adjustments=adjustments)


def measure_rates(X: Any, T: Any, *, label: Callable[[Any], Any], fit: Callable[[Any, Any], Any],
                  student_rate: float | None = None, sample: Callable[[int], Any] | None = None) -> Rates:
    """Seconds per row of labelling, timed by ``label`` on the first :data:`PROBE_ROWS` rows of ``X``;
    of a student fit, ``student_rate`` when known (the baseline's fit), else timed by ``fit(rows,
    targets)`` on the same rows; and of sampling, :data:`SAMPLE_SECONDS_PER_ROW`.

    With ``sample(n)`` (a fitted generator's draw) sampling is timed too, by a draw of :data:`PROBE_ROWS`
    rows; labelling is timed on the drawn rows, and the student fit on the real rows topped up with drawn
    ones to :data:`PROBE_ROWS`, as the run trains it (a few hundred real rows alone can time a cheaper fit
    than thousands do: a tree student looks ahead only from 1,000 rows)."""
    probe, T_probe = X.iloc[: min(len(X), PROBE_ROWS)], T[: min(len(X), PROBE_ROWS)]
    labelled, sample_rate = probe, SAMPLE_SECONDS_PER_ROW
    if sample is not None:
        start = time.perf_counter()
        labelled = sample(PROBE_ROWS)
        sample_rate = (time.perf_counter() - start) / len(labelled)
    start = time.perf_counter()
    T_labelled = label(labelled)
    label_rate = (time.perf_counter() - start) / len(labelled)
    if student_rate is None:
        if sample is not None and len(probe) < PROBE_ROWS:
            more = PROBE_ROWS - len(probe)
            probe = pd.concat([probe, labelled.iloc[:more]], ignore_index=True)
            T_probe = np.concatenate([T_probe, T_labelled[:more]])
        start = time.perf_counter()
        fit(probe, T_probe)
        student_rate = (time.perf_counter() - start) / len(probe)
    return Rates(label=label_rate, student=student_rate, sample=sample_rate)


# -- memory -------------------------------------------------------------------------------------

def available_memory() -> int | None:
    """Bytes of memory the system can give a process now (``MemAvailable`` of ``/proc/meminfo``); None
    where that is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_rows_fit(n_rows: int, n_columns: int, n_outputs: int, setting: str) -> None:
    """Refuse, before any work, synthetic rows whose cells alone (eight bytes each, with the teacher's
    outputs) would not fit in the memory available: the run would otherwise be killed by the system
    minutes later, perhaps taking another process with it. This is a floor, not an estimate of the
    run's peak: a count that passes may still need more."""
    from tabcompress.errors import SettingError

    available = available_memory()
    need = n_rows * (n_columns + n_outputs) * 8
    if available is not None and need > available:
        raise SettingError(setting, f"asks for {n_rows:,} synthetic rows of {n_columns} columns: their cells alone "
                                    f"need {need / 2**30:,.1f} GiB, and {available / 2**30:,.1f} GiB of memory "
                                    f"is available")
