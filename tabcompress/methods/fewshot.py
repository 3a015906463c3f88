"""Few-shot distillation: grow teacher-labelled rows around a handful of prototypes.

After Binici et al. (2024): when the real rows cannot be shared, a few condensed prototypes per class
(:func:`tabcompress.methods.condense.condense`) are enough to start from; the teacher itself says which
perturbed rows still belong to a prototype's class and how close they stay to it.

Procedure (all teacher calls batched per round):

1. The teacher labels the prototypes; a prototype's class is the teacher's class for it.
2. Each round, every prototype gets a batch of candidates. A candidate starts at the prototype or at a
   row already accepted for it (so the cloud walks outwards inside the class region) and changes a
   random subset of columns: a numeric value moves by a few of the teacher's own split intervals when
   ``cuts`` are given, else by a normal step scaled by the spread between prototypes; a categorical
   value is swapped for another category. Values are brought inside the schema.
3. A candidate is *accepted* when the teacher gives it the prototype's class, with probability at
   least ``confidence`` (or at least the prototype's own, if that is lower). Each prototype's step
   size grows while most of its candidates are accepted and shrinks when few are.
4. Rows are weighed by forest proximity to their prototype — the share of trees in which both land in
   the same leaf — mapped to ``floor + (1 - floor) * proximity`` so far rows still count a little.
5. Up to ``n / n_prototypes`` rows are kept per prototype, exact duplicates (and copies of prototypes)
   dropped: mostly accepted rows, plus a ``boundary_share`` of rejected candidates, which teach the
   student where the class ends. Targets are always the teacher's soft targets for the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.config import Number, Whole, check
from tabcompress.errors import InputError
from tabcompress.schema import Schema
from tabcompress.teachers import Teacher
from tabcompress.teachers.labeling import label_rows

DEFAULT_CONFIDENCE = 0.6
DEFAULT_BOUNDARY_SHARE = 0.25
DEFAULT_FLOOR = 0.2
# Share of a row's columns a candidate changes (at least one). Measured in bench/fewshot_trial.py.
DEFAULT_CHANGE_SHARE = 0.3
DEFAULT_ROUNDS = 5
# Candidates drawn per round, per row wanted: one round of this size usually fills the accepted quota
# of an easy prototype; the later rounds serve the hard ones and spread the cloud.
_ROUND_FACTOR = 1.0
# Step-size control: grow the step while at least _GROW_ABOVE of a prototype's candidates are accepted,
# shrink it below _SHRINK_BELOW.
_GROW_ABOVE, _SHRINK_BELOW, _STEP_FACTOR = 0.6, 0.3, 1.6
_MIN_STRENGTH, _MAX_STRENGTH = 0.25, 8.0
# With cuts, a step of strength 1 moves about this share of the column's thresholds.
_CUT_SHARE = 0.05
# Rows per comparison of leaves: two (rows × trees) int matrices, kept to tens of megabytes.
_LEAF_CHUNK = 20_000


@dataclass
class FewShotRows:
    """Synthetic rows grown around prototypes.

    ``X``: rows in the schema's columns; ``T``: the teacher's soft targets for them; ``weight``: per-row
    weight in (0, 1]; ``prototype``: the index (in the prototypes given) each row grew from;
    ``accepted``: whether the teacher kept the row in its prototype's class (False: a boundary row);
    ``info``: facts for the report.
    """

    X: pd.DataFrame
    T: np.ndarray
    weight: np.ndarray
    prototype: np.ndarray
    accepted: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


# -- proximity ----------------------------------------------------------------------------------
def _proximity(leaves: np.ndarray | None, proto_leaves: np.ndarray | None, owner: np.ndarray) -> np.ndarray:
    """Share of trees in which each row and its prototype share a leaf (1 when leaves are unknown)."""
    if leaves is None or proto_leaves is None:
        return np.ones(len(owner))
    out = np.empty(len(owner))
    for start in range(0, len(owner), _LEAF_CHUNK):
        stop = start + _LEAF_CHUNK
        out[start:stop] = (leaves[start:stop] == proto_leaves[owner[start:stop]]).mean(axis=1)
    return out


# -- perturbation -------------------------------------------------------------------------------
def _numeric_scales(P: pd.DataFrame, schema: Schema) -> dict[str, float]:
    """Step scale per numeric column without cuts: the spread between prototypes, else 10% of the range."""
    scales = {}
    for name in schema.numeric:
        spec = schema[name]
        values = P[name].to_numpy(dtype=np.float64, na_value=np.nan)
        width = (spec.maximum - spec.minimum) if spec.minimum is not None else 0.0
        spread = float(np.nanstd(values)) if np.isfinite(values).sum() > 1 else 0.0
        scale = spread if spread > 0 else 0.1 * width
        scales[name] = min(scale, width) if width > 0 else (scale or 1.0)
    return scales


def _clean_cuts(cuts: dict[str, np.ndarray] | None, schema: Schema) -> dict[str, np.ndarray]:
    out = {}
    for name, values in (cuts or {}).items():
        if name not in schema.names or schema[name].is_categorical:
            continue
        values = np.unique(np.asarray(values, dtype=np.float64))
        values = values[np.isfinite(values)]
        if values.size:
            out[name] = values
    return out


def _perturb(start: pd.DataFrame, strength: np.ndarray, schema: Schema, cuts: dict[str, np.ndarray],
             scales: dict[str, float], pool: dict[str, np.ndarray], change_share: float,
             rng: np.random.Generator) -> pd.DataFrame:
    """Copies of ``start`` with a random subset of columns moved by about ``strength`` steps per row."""
    n, d = len(start), len(schema.names)
    change = rng.random((n, d)) < change_share
    change[np.arange(n), rng.integers(0, d, size=n)] = True  # every candidate changes something
    out = {}
    for j, spec in enumerate(schema.columns):
        name, mask = spec.name, change[:, j]
        values = start[name].to_numpy()
        if spec.is_categorical:
            # Half the swaps take a value the prototypes hold (closer to the data's mix), half any category.
            from_pool = pool[name][rng.integers(0, len(pool[name]), size=n)]
            anywhere = np.asarray(spec.categories, dtype=object)[rng.integers(0, len(spec.categories), size=n)] \
                if spec.categories else from_pool
            drawn = np.where(rng.random(n) < 0.5, from_pool, anywhere)
            out[name] = np.where(mask, drawn, values.astype(object))
            continue
        x = values.astype(np.float64)
        if name in cuts:
            c = cuts[name]
            # Interval j holds c[j-1] < x <= c[j] (trees send x <= threshold left); j runs 0..len(c).
            pos = np.searchsorted(c, x, side="left")
            # The union of every tree's thresholds is dense (hundreds per column in a big forest), so a
            # step counts intervals in proportion to their number: a move in the thresholds' own quantiles.
            size = np.maximum(1, np.round(np.abs(rng.normal(0.0, 1.0, size=n)) * strength * _CUT_SHARE
                                          * len(c))).astype(np.int64)
            new = np.clip(pos + size * rng.choice([-1, 1], size=n), 0, len(c))
            lo = np.where(new > 0, c[np.maximum(new - 1, 0)], spec.minimum if spec.minimum is not None else c[0] - 1)
            hi = np.where(new < len(c), c[np.minimum(new, len(c) - 1)],
                          spec.maximum if spec.maximum is not None else c[-1] + 1)
            hi = np.maximum(hi, lo)
            moved = lo + rng.random(n) * (hi - lo)
            moved = np.where(new == len(c), np.maximum(moved, np.nextafter(c[-1], np.inf)), moved)
        else:
            step = rng.normal(0.0, 1.0, size=n) * scales[name] * 0.5 * strength
            if spec.kind == "integer":  # a step under one would round away to nothing
                step = np.sign(step) * np.maximum(np.abs(step), 1.0)
            moved = x + step
        out[name] = np.where(mask & ~np.isnan(x), moved, x)
    return pd.DataFrame(out, columns=schema.names)


# -- the procedure ------------------------------------------------------------------------------
def synthesize_around_prototypes(
    teacher: Teacher, prototypes: pd.DataFrame, schema: Schema, n: int, *,
    cuts: dict[str, np.ndarray] | None = None, confidence: float = DEFAULT_CONFIDENCE,
    boundary_share: float = DEFAULT_BOUNDARY_SHARE, floor: float = DEFAULT_FLOOR,
    change_share: float = DEFAULT_CHANGE_SHARE, rounds: int = DEFAULT_ROUNDS, random_state: int | None = 0,
) -> FewShotRows:
    """Up to ``n`` teacher-labelled rows grown around ``prototypes`` (see the module docstring).

    ``prototypes``: rows holding the schema's columns (others, such as a target, are ignored).
    ``cuts``: optional sorted split thresholds of the teacher's trees per raw numeric column.
    Fewer than ``n`` rows come back only when the perturbations cannot make that many distinct rows.
    The prototypes themselves are not among the rows: add them (weight 1) when fitting a student.
    """
    share = Number(0.0, 1.0)
    for name, value, constraint in (("n", n, Whole(0)), ("confidence", confidence, share),
                                    ("boundary_share", boundary_share, share),
                                    ("floor", floor, Number(0.0, 1.0, open_low=True)),
                                    ("change_share", change_share, share), ("rounds", rounds, Whole(0))):
        check(name, value, constraint)
    missing = [c for c in schema.names if c not in prototypes.columns]
    if missing:
        raise InputError(f"prototypes: missing column(s) the teacher expects: {', '.join(missing[:20])}")
    if len(prototypes) == 0:
        raise InputError("prototypes: no rows")
    rng = np.random.default_rng(random_state)
    P = schema.conform(prototypes[schema.names])
    n_protos = len(P)
    classify = teacher.is_classifier
    proto_T = label_rows(teacher, P)
    proto_leaves = teacher.leaves(P)
    if classify:
        proto_class = np.argmax(proto_T, axis=1)
        # A prototype the teacher is unsure about would accept nothing at a fixed bar: hold its
        # candidates to its own confidence instead.
        bar = np.minimum(confidence, proto_T[np.arange(n_protos), proto_class])
    cuts = _clean_cuts(cuts, schema)
    scales = _numeric_scales(P, schema)
    pool = {name: P[name].to_numpy(dtype=object) for name in schema.categorical}
    quota = -(-n // n_protos) if n else 0
    want_in = int(round(quota * (1.0 - boundary_share))) if classify else quota
    want_out = quota - want_in

    strength = np.ones(n_protos)
    seen = set(pd.util.hash_pandas_object(P, index=False).to_numpy().tolist())
    kept_rows: list[pd.DataFrame] = []
    kept: dict[str, list[np.ndarray]] = {"T": [], "owner": [], "inside": [], "prox": []}
    n_inside = np.zeros(n_protos, dtype=np.int64)
    drawn = 0
    per_round = max(1, int(np.ceil(quota * _ROUND_FACTOR)))
    for r in range(max(1, rounds) if n else 0):
        # Prototypes still short of accepted rows get candidates; the first round serves all.
        active = np.flatnonzero(n_inside < want_in) if r else np.arange(n_protos)
        if active.size == 0:
            break
        owner = np.repeat(active, per_round)
        starts = P.iloc[owner].reset_index(drop=True)
        if r and kept_rows:
            # Half the candidates restart from a row already accepted for the same prototype.
            inside_rows = pd.concat(kept_rows, ignore_index=True)
            inside_owner = np.concatenate(kept["owner"])[np.concatenate(kept["inside"])]
            inside_rows = inside_rows[np.concatenate(kept["inside"])].reset_index(drop=True)
            starts = _restart(starts, owner, inside_rows, inside_owner, rng)
        C = schema.conform(_perturb(starts, strength[owner], schema, cuts, scales, pool, change_share, rng))
        drawn += len(C)
        hashes = pd.util.hash_pandas_object(C, index=False).to_numpy()
        fresh = _first_unseen(hashes, seen)
        C, owner, hashes = C[fresh].reset_index(drop=True), owner[fresh], hashes[fresh]
        if len(C) == 0:
            strength[active] = np.minimum(strength[active] * _STEP_FACTOR, _MAX_STRENGTH)
            continue
        T = label_rows(teacher, C)
        prox = _proximity(teacher.leaves(C) if proto_leaves is not None else None, proto_leaves, owner)
        if classify:
            inside = (np.argmax(T, axis=1) == proto_class[owner]) & (T[np.arange(len(C)), proto_class[owner]]
                                                                        >= bar[owner])
        else:
            inside = np.ones(len(C), dtype=bool)
        rate = np.bincount(owner, weights=inside, minlength=n_protos) / np.maximum(
            np.bincount(owner, minlength=n_protos), 1)
        grow = np.isin(np.arange(n_protos), active) & (rate >= _GROW_ABOVE)
        shrink = np.isin(np.arange(n_protos), active) & (rate < _SHRINK_BELOW)
        strength = np.where(grow, np.minimum(strength * _STEP_FACTOR, _MAX_STRENGTH), strength)
        strength = np.where(shrink, np.maximum(strength / _STEP_FACTOR, _MIN_STRENGTH), strength)
        seen.update(hashes.tolist())
        kept_rows.append(C)
        kept["T"].append(T)
        kept["owner"].append(owner)
        kept["inside"].append(inside)
        kept["prox"].append(prox)
        n_inside += np.bincount(owner[inside], minlength=n_protos)

    if not kept_rows:
        empty = schema.conform(pd.DataFrame({c: pd.Series(dtype=float) for c in schema.names}))
        width = len(teacher.classes_) if classify else None
        return FewShotRows(empty, np.empty((0, width) if width else (0,)), np.empty(0), np.empty(0, dtype=np.int64),
                           np.empty(0, dtype=bool), {"candidates": drawn, "rows": 0})
    X_all = pd.concat(kept_rows, ignore_index=True)
    T_all = np.concatenate(kept["T"])
    owner_all = np.concatenate(kept["owner"])
    inside_all = np.concatenate(kept["inside"])
    prox_all = np.concatenate(kept["prox"])
    pick = _select(owner_all, inside_all, n_protos, want_in, want_out, n, rng)
    weight = floor + (1.0 - floor) * prox_all[pick]
    info = _info(teacher, P, proto_T, owner_all, inside_all, prox_all, pick, drawn, strength,
                 proto_leaves is not None, classify, cuts)
    return FewShotRows(X=X_all.iloc[pick].reset_index(drop=True), T=T_all[pick], weight=weight,
                       prototype=owner_all[pick], accepted=inside_all[pick], info=info)


def _restart(starts: pd.DataFrame, owner: np.ndarray, rows: pd.DataFrame, rows_owner: np.ndarray,
             rng: np.random.Generator) -> pd.DataFrame:
    """Replace about half of ``starts`` by a random accepted row of the same prototype, where it has one."""
    order = np.argsort(rows_owner, kind="stable")
    sorted_owner = rows_owner[order]
    first = np.searchsorted(sorted_owner, owner, side="left")
    count = np.searchsorted(sorted_owner, owner, side="right") - first
    use = (count > 0) & (rng.random(len(owner)) < 0.5)
    if not use.any():
        return starts
    pick = order[np.minimum(first + (rng.random(len(owner)) * np.maximum(count, 1)).astype(np.int64),
                            len(order) - 1)]
    out = starts.copy()
    out.loc[use] = rows.iloc[pick[use]].to_numpy()
    return out


def _first_unseen(hashes: np.ndarray, seen: set) -> np.ndarray:
    """Mask of rows whose hash is neither in ``seen`` nor an earlier row's."""
    _, first = np.unique(hashes, return_index=True)
    mask = np.zeros(len(hashes), dtype=bool)
    mask[first] = True
    if seen:
        mask &= ~np.isin(hashes, np.fromiter(seen, dtype=np.uint64, count=len(seen)))
    return mask


def _select(owner: np.ndarray, inside: np.ndarray, n_protos: int, want_in: int, want_out: int, n: int,
            rng: np.random.Generator) -> np.ndarray:
    """Indices of the rows to keep: up to ``want_in`` accepted and ``want_out`` boundary rows per
    prototype, then the shortfall from whatever is left, ``n`` at most, in a random order."""
    shuffled = rng.permutation(len(owner))
    # Rank of each row among its prototype's rows of the same kind, in shuffled order.
    key = owner[shuffled] * 2 + inside[shuffled]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    rank_sorted = np.arange(len(order)) - np.searchsorted(sorted_key, sorted_key, side="left")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = rank_sorted
    limit = np.where(inside[shuffled], want_in, want_out)
    first = shuffled[rank < limit]
    rest = shuffled[rank >= limit]
    # Fill a shortfall with accepted rows first, then boundary rows.
    rest = rest[np.argsort(~inside[rest], kind="stable")]
    chosen = np.concatenate([first, rest[:max(0, n - len(first))]])[:n]
    return np.sort(chosen)


def _info(teacher: Teacher, P: pd.DataFrame, proto_T: np.ndarray, owner: np.ndarray, inside: np.ndarray,
          prox: np.ndarray, pick: np.ndarray, drawn: int, strength: np.ndarray, have_leaves: bool,
          classify: bool, cuts: dict[str, np.ndarray]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "prototypes": len(P),
        "candidates": int(drawn),
        "labelled": int(len(owner)),
        "rows": int(len(pick)),
        "boundary_rows": int((~inside[pick]).sum()),
        "mean_proximity": float(prox[pick].mean()) if len(pick) else None,
        "mean_proximity_accepted": float(prox[pick][inside[pick]].mean()) if inside[pick].any() else None,
        "columns_with_cuts": len(cuts),
        "final_strength": {"min": float(strength.min()), "median": float(np.median(strength)),
                           "max": float(strength.max())},
    }
    if not have_leaves:
        info["note"] = "the teacher cannot report its leaves: every row weighs 1"
    if classify:
        proto_class = teacher.classes_[np.argmax(proto_T, axis=1)]
        owner_class = proto_class[owner]
        info["accepted_share"] = {
            str(c): float(inside[owner_class == c].mean()) if (owner_class == c).any() else None
            for c in teacher.classes_
        }
        info["prototypes_per_class"] = {str(c): int((proto_class == c).sum()) for c in teacher.classes_}
    return info
