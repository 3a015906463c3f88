"""Every setting of a run, in sections, with its default, its check and its help in one place.

A :class:`Settings` holds a run's settings in sections that follow the data's path: ``data``,
``generator``, ``selection``, ``budget``, ``student``, ``output``, plus ``seed``, ``device`` and ``safe``,
which concern the whole run. Each setting has an *option name*, the keyword of
:meth:`Settings.from_options` and, with dashes, the command line's flag (``max_depth`` ↔
``--max-depth``); ``student`` and ``generator`` name the section's ``name`` field.

The library and the command line share this one model: the same defaults, the same checks, the same
wording. A bad value raises :class:`~tabcompress.errors.SettingError` naming the setting (``max_depth
must be a whole number from 1 to 2147483647, got 0``); the command line shows the flag instead.
Students, generators and the other components check their own parameters with the same constraint
types (:func:`check`).

Settings also come from a TOML file (:func:`read_settings_file`, ``tabcompress distill --config
run.toml``): keys are option names, at the top level or in a table named after their section.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from tabcompress.errors import InputError, SettingError
from tabcompress.registry import STUDENTS, generator_parts

# -- constraints ---------------------------------------------------------------------------------


class Constraint:
    """What values a setting takes: :meth:`accepts` a value, :meth:`describe` says what is allowed."""

    none: bool = False  # whether None is also allowed (a setting left to be derived, or "no limit")

    def accepts(self, value: Any) -> bool:
        return (value is None and self.none) or (value is not None and self._accepts(value))

    def _accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


#: The most a whole-number setting or parameter takes unless it says otherwise: the largest count the
#: libraries underneath take (a C int). Beyond it scikit-learn, numpy and torch fail in their own ways
#: (an overflow, an allocation of terabytes, a loop without end), so the value is refused here instead.
MAX_WHOLE = 2**31 - 1
#: the fewest rows --max-rows may ask for (a sample must leave rows to train, validate and score on)
MIN_SAMPLE_ROWS = 100


@dataclass(frozen=True)
class Whole(Constraint):
    """A whole number (not a bool) from ``low`` to ``high`` (:data:`MAX_WHOLE` unless given)."""

    low: int = 0
    high: int = MAX_WHOLE
    none: bool = False

    def _accepts(self, value: Any) -> bool:
        return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                and self.low <= value <= self.high)

    def describe(self) -> str:
        return f"a whole number from {self.low} to {self.high}"


@dataclass(frozen=True)
class Number(Constraint):
    """A finite number, with optional bounds; ``open_low`` / ``open_high`` exclude the bound itself."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    none: bool = False

    def _accepts(self, value: Any) -> bool:
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def describe(self) -> str:
        low = None if self.low is None else (">" if self.open_low else ">=", _num(self.low))
        high = None if self.high is None else ("<" if self.open_high else "<=", _num(self.high))
        if low and high:
            if not self.open_low and not self.open_high:
                return f"a number from {low[1]} to {high[1]}"
            if self.open_low and self.open_high:
                return f"a number between {low[1]} and {high[1]} (exclusive)"
            return f"a number {low[0]} {low[1]} and {high[0]} {high[1]}"
        bound = low or high
        return f"a number {bound[0]} {bound[1]}" if bound else "a finite number"


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of ``choices`` (a tuple, or a function returning one: registries are read when checked)."""

    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    none: bool = False

    def values(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values()

    def describe(self) -> str:
        return "one of " + ", ".join(self.values())


@dataclass(frozen=True)
class Flag(Constraint):
    """True or False."""

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """A non-empty string."""

    none: bool = False

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""

    def describe(self) -> str:
        return "a non-empty text"


@dataclass(frozen=True)
class Names(Constraint):
    """A tuple of non-empty strings (column names)."""

    @staticmethod
    def parse(value: Any) -> Any:
        """Comma-separated text or a list as a tuple of names (None: none); other values as they are."""
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(value) if isinstance(value, list) else value

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, tuple) and all(isinstance(v, str) and v for v in value)

    def describe(self) -> str:
        return "column names"


@dataclass(frozen=True)
class Widths(Constraint):
    """A non-empty tuple of whole numbers >= 1 (layer widths)."""

    def _accepts(self, value: Any) -> bool:
        return (isinstance(value, (tuple, list)) and len(value) > 0
                and all(Whole(1).accepts(v) for v in value))

    def describe(self) -> str:
        return "layer widths >= 1 such as 64,64"


@dataclass(frozen=True)
class Size(Constraint):
    """A size in bytes, a whole number >= 1; text such as ``500KB``, ``1.5MB`` or ``2MiB`` is read as one
    (k, M and G are powers of 1000; Ki, Mi and Gi of 1024)."""

    none: bool = False

    UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
             "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30, "gib": 2**30}

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Bytes from text such as ``500KB``; other values (and text that is not a size) as they are."""
        if not isinstance(value, str):
            return value
        text = value.strip().lower().replace(" ", "")
        digits = len(text) - len(text.lstrip("0123456789.e+"))
        head, unit = text[:digits], text[digits:]
        try:
            amount = float(head) * cls.UNITS[unit]
        except (ValueError, KeyError):
            return value
        return int(round(amount)) if math.isfinite(amount) else value

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1

    def describe(self) -> str:
        return "a size in bytes such as 200000, 200KB or 2MB"


def check(name: str, value: Any, constraint: Constraint) -> None:
    """Raise :class:`SettingError` naming ``name`` unless ``constraint`` accepts ``value``.

    The one check every component uses, so a bad value reads the same wherever it is caught:
    ``<name> must be <what is allowed>, got <value>``.
    """
    if not constraint.accepts(value):
        raise SettingError(name, f"must be {constraint.describe()}, got {value!r}")


def parameter(default: Any, constraint: Constraint) -> Any:
    """A parameter of a student or generator (a dataclass field): its default and its constraint, declared
    together, so that :func:`check_parameters` checks every parameter in one place."""
    return field(default=default, metadata={"constraint": constraint})


def check_parameters(owner: Any) -> None:
    """:func:`check` each parameter of the dataclass ``owner`` against its declared constraint."""
    for f in fields(owner):
        if "constraint" in f.metadata:
            check(f.name, getattr(owner, f.name), f.metadata["constraint"])


# -- settings ------------------------------------------------------------------------------------

#: ``--student auto``: the family is chosen on the validation rows, not a registered student
AUTO_STUDENT = "auto"

#: rows read at once where a CSV is read in chunks (``predict``, ``evaluate``): a few tens of megabytes
#: for a few dozen columns, and enough rows that pandas and the student work in bulk
DEFAULT_CHUNK_ROWS = 100_000

#: a Dask scheduler's address as ``--dask`` takes it: an optional protocol, a host (an IPv6 one in
#: brackets) and a port (the client would otherwise fail only after its connection timeout)
DASK_ADDRESS = re.compile(r"^(?:[a-z]+://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}$")

# Help panels of `tabcompress distill --help`, in the order they are shown.
PANEL_MAIN = "Options most runs need"
PANEL_DATA = "Data"
PANEL_GENERATOR = "Synthetic rows"
PANEL_TRAINING = "Generator training"
PANEL_STUDENT = "Student"
PANEL_RESEARCH = "Research options"
PANELS = (PANEL_MAIN, PANEL_DATA, PANEL_GENERATOR, PANEL_TRAINING, PANEL_STUDENT, PANEL_RESEARCH)


def setting(default: Any, constraint: Constraint, help: str, *, panel: str = PANEL_MAIN,
            option: str | None = None, shown: str | None = None) -> Any:
    """A settings field: its default, its constraint, its help text, its panel in ``--help``, where it
    is not the field's name its option name, and ``shown``: how help describes a default that the run
    derives (``None`` in the field)."""
    return field(default=default, metadata={"constraint": constraint, "help": help, "panel": panel,
                                            "option": option, "shown": shown})


@dataclass
class DataSettings:
    """Which rows and columns the run reads, and which it holds out."""

    target: str | None = setting(
        None, Text(none=True), "True-label column, used only to score accuracy.",
        shown="'target' when present")
    categorical: tuple[str, ...] = setting(
        (), Names(), "Comma-separated columns to treat as categories (text, bool and category columns "
        "always are).", panel=PANEL_DATA)
    test_size: float = setting(
        0.2, Number(0.0, 1.0, open_low=True, open_high=True), "Share of real rows held out from "
        "everything, for scoring.", panel=PANEL_DATA)
    validation_size: float = setting(
        0.2, Number(0.0, 1.0, open_high=True), "Share of the training rows kept aside to choose the synthetic "
        "rows and the student's size on (the student is then trained on all of them, unless that fit agrees "
        "less with the teacher on the rows kept aside than the one chosen); 0: no choice, the "
        "student is trained as set on all the synthetic rows.", panel=PANEL_DATA)
    max_rows: int | None = setting(
        None, Whole(MIN_SAMPLE_ROWS, MAX_WHOLE, none=True), "Read at most this many rows of DATA, held-out "
        "rows included: a random sample chosen by a hash of each row, the same on every run with the same "
        "seed, so memory stays bounded however long the file is. A gbdt student's last fit still trains on "
        "every training row of the file, through XGBoost's external memory.", panel=PANEL_DATA,
        shown="every row")
    few_shot: bool = setting(
        False, Flag(), "DATA holds only a few prototype rows per class (see `tabcompress condense`): "
        "grow synthetic rows around them.", panel=PANEL_DATA)


@dataclass
class GeneratorSettings:
    """Where the synthetic rows come from, and how many there are."""

    name: str = setting(
        "auto", Text(), "Synthetic-row generator: auto (MUNGE; for a tree student of a forest, "
        "LightGBM or CatBoost, half of the rows from the teacher's trees; for an MLP, CTGAN where many "
        "columns are categorical), ctgan, tvae, copula, munge, forest (the teacher's trees), a mix such "
        "as munge+ctgan, or none (real rows only). Rows a classifier tells from real ones are weighed "
        "against auto's on the validation rows.", panel=PANEL_GENERATOR, option="generator")
    synthetic_ratio: float = setting(
        20.0, Number(0.0, open_low=True), "Synthetic rows per training row, when --synthetic-rows is not "
        "given.", panel=PANEL_GENERATOR)
    synthetic_rows: int | None = setting(
        None, Whole(0, none=True), "Number of synthetic rows.", panel=PANEL_GENERATOR,
        shown="--synthetic-ratio × training rows")
    synthetic_max_rows: int = setting(
        400_000, Whole(0), "At most this many synthetic rows from the ratio; 0 = no cap.",
        panel=PANEL_GENERATOR)
    epochs: int | None = setting(
        None, Whole(1, none=True), "Generator training epochs (ctgan, tvae): the most it trains.",
        panel=PANEL_TRAINING, shown="100; CTGAN more on a small table, enough for 1,800 optimiser steps")
    early_stop: bool = setting(
        True, Flag(), "Stop generator training when its losses flatten.", panel=PANEL_TRAINING)
    batch_size: int = setting(
        500, Whole(10), "Generator batch size (a multiple of 10: CTGAN trains on packs of 10 rows).",
        panel=PANEL_TRAINING)
    generator_rows: int = setting(
        20_000, Whole(0), "Fit the generator on a random subsample of at most this many training rows; "
        "0 = all rows.", panel=PANEL_GENERATOR)
    forest_trees: int = setting(
        0, Whole(0), "Rows from the teacher's trees (data-free, or --generator forest): trees each row "
        "descends; more trees, rows closer to where the training data lay. 0 = as many as cut each row "
        "about 480 times (some 32 of a forest's deep trees, 80-100 of a boosted model's shallow ones).",
        panel=PANEL_GENERATOR)
    cache: bool = setting(
        True, Flag(), "Read and write the generator cache (--no-cache: neither).", panel=PANEL_TRAINING)
    cache_dir: str | None = setting(
        None, Text(none=True), "Where fitted generators are cached.", panel=PANEL_TRAINING,
        shown="the user's cache directory")

    def n_synthetic(self, n_real: int) -> int:
        """Synthetic rows for ``n_real`` training rows: ``synthetic_rows``, else the ratio, capped."""
        if self.synthetic_rows is not None:
            return int(self.synthetic_rows)
        n = int(round(self.synthetic_ratio * n_real))
        return min(n, self.synthetic_max_rows) if self.synthetic_max_rows else n

    @property
    def fit_rows(self) -> int | None:
        """The most rows a generator is fitted on (None: all)."""
        return self.generator_rows or None


@dataclass
class SelectionSettings:
    """Teacher-aware selection of synthetic rows (:mod:`tabcompress.methods.selection`)."""

    rounds: int = setting(
        0, Whole(0), "Teacher-aware selection: rounds of drawing candidates and keeping those where teacher "
        "and student disagree most; 0 = off.", panel=PANEL_RESEARCH, option="selection_rounds")
    share: float = setting(
        0.5, Number(0.0, 1.0), "Share of the synthetic rows chosen by selection.", panel=PANEL_RESEARCH,
        option="selection_share")
    pool: int = setting(
        4, Whole(1), "Candidates drawn (and labelled) per selected row.", panel=PANEL_RESEARCH,
        option="selection_pool")
    spread: float = setting(
        0.0, Number(0.0), "Selection: weight of a term favouring rows whose teacher class (or value range) "
        "is still rare.", panel=PANEL_RESEARCH, option="selection_spread")


@dataclass
class BudgetSettings:
    """What the run may spend."""

    time_budget: float | None = setting(
        None, Number(0.0, open_low=True, none=True), "Seconds the whole run may take: generator epochs, "
        "synthetic rows and selection rounds are planned to fit.", shown="no limit")
    label_chunk_rows: int = setting(
        50_000, Whole(1), "Rows sent to the teacher at once while labelling (memory stays flat however "
        "many rows there are).", panel=PANEL_RESEARCH)


@dataclass
class StudentSettings:
    """The student: its family and its size."""

    name: str | None = setting(
        None, OneOf(lambda: (*STUDENTS.names(), AUTO_STUDENT), none=True), "Student model: tree, gbdt (a few "
        "boosted trees), linear, mlp, or auto (family and size chosen on the validation rows).", option="student",
        shown="tree; auto with --target-fidelity, --max-size or --max-latency")
    max_depth: int | None = setting(
        None, Whole(1, none=True), "Tree and gbdt students: maximum depth.",
        shown="6 for a tree, 4 for each tree of gbdt")
    max_leaf_nodes: int | None = setting(
        None, Whole(2, none=True), "Tree student: maximum number of leaves.", panel=PANEL_STUDENT,
        shown="no limit")
    grow_on: str = setting(
        "auto", OneOf(("auto", "probabilities", "classes")), "Tree and gbdt students (classification): grow the "
        "trees on the teacher's probabilities or on its most probable classes; auto: both are tried on the "
        "validation rows.",
        panel=PANEL_STUDENT)
    ccp_alpha: float = setting(
        0.0, Number(0.0), "Tree student: cost-complexity pruning (scikit-learn's ccp_alpha): prune the "
        "grown tree where a split lowers the squared error by less than this per leaf; 0 = no pruning. "
        "A search of sizes tries pruned trees on the validation rows.", panel=PANEL_STUDENT)
    hidden: tuple[int, ...] = setting(
        (64, 64), Widths(), "MLP student: hidden layer widths, comma-separated.", panel=PANEL_STUDENT)
    trees: int = setting(
        100, Whole(1), "Boosted-trees student (gbdt): trees (per class for multiclass).", panel=PANEL_STUDENT)
    learning_rate: float = setting(
        0.3, Number(0.0, 1.0, open_low=True), "Boosted-trees student (gbdt): learning rate, the share of "
        "each tree's values that is kept.", panel=PANEL_STUDENT)
    refine: bool = setting(
        False, Flag(), "Tree student: refit the grown tree's splits to the teacher's classes (tree "
        "alternating optimisation, 3 passes from 6 starting trees for classification). Off by default: "
        "the method is under US patent 12,505,355; see the README's 'Licences and patents'.",
        panel=PANEL_STUDENT)
    refine_passes: int | None = setting(
        None, Whole(0, none=True), "Tree student: refinement passes; any number > 0 turns refinement on, 0 "
        "turns it off.", panel=PANEL_STUDENT, shown="3 with --refine for classification, else 0")
    refine_starts: int | None = setting(
        None, Whole(1, none=True), "Tree student with refinement: trees grown from different starts and "
        "refined; the one that disagrees least with the teacher on the training rows is kept.",
        panel=PANEL_STUDENT, shown="6 for classification, 1 for regression")
    lookahead: int | None = setting(
        None, Whole(1, none=True), "Tree student: splits tried at each node of the top three levels (the "
        "greedy one and the next best features' splits, each with greedy subtrees beneath); another split "
        "replaces CART's only when its subtree disagrees less with the teacher on the training rows by more "
        "than 2 %. 1 = CART's tree. Not used with --refine (its starts search instead), --max-leaf-nodes, "
        "or on under 1,000 rows. A search of sizes grows its candidates by CART unless this is given; the "
        "tree chosen looks ahead.",
        panel=PANEL_STUDENT, shown="5")
    adversarial: bool = setting(
        False, Flag(), "MLP student: add a KDGAN-style adversarial term (a discriminator on rows and "
        "Gumbel-softmax labels).", panel=PANEL_RESEARCH)
    adversarial_weight: float = setting(
        0.5, Number(0.0), "MLP --adversarial: weight of the adversarial term.", panel=PANEL_RESEARCH)
    temperature_start: float = setting(
        1.0, Number(0.0, open_low=True), "MLP --adversarial: Gumbel-softmax temperature at the start, "
        "annealed to --temperature-end.", panel=PANEL_RESEARCH)
    temperature_end: float = setting(
        0.1, Number(0.0, open_low=True), "MLP --adversarial: final temperature.", panel=PANEL_RESEARCH)


@dataclass
class OutputSettings:
    """What the run writes and what it holds the student to."""

    min_fidelity: float | None = setting(
        None, Number(0.0, 1.0, none=True), "Exit with code 3 when the student's fidelity is below this (R² "
        "to the teacher for regression).", shown="no gate")
    student_format: str | None = setting(
        None, OneOf(("joblib", "skops"), none=True), "Student file format.", panel=PANEL_STUDENT,
        shown="skops with --safe, else joblib")
    baseline: bool = setting(
        True, Flag(), "Also train the student on the real rows only, for comparison.", panel=PANEL_RESEARCH)
    tsc: bool = setting(
        True, Flag(), "Report the TSC score of the synthetic rows (a reference tree trained on them against "
        "one on the real rows).", panel=PANEL_RESEARCH)


@dataclass
class TargetSettings:
    """What the student must reach or fit in: the run searches student sizes (and, with ``--student
    auto``, families) on the validation rows and ships the one these choose (:mod:`tabcompress.methods.search`)."""

    fidelity: float | None = setting(
        None, Number(0.0, 1.0, open_low=True, none=True), "Ship the smallest student whose validation fidelity "
        "reaches this (R² to the teacher for regression); if none does, the most faithful one found.",
        option="target_fidelity", shown="none")
    max_size: int | None = setting(
        None, Size(none=True), "Ship the most faithful student of at most this size (pickled bytes; 200KB, 2MB).",
        shown="no limit")
    max_latency: float | None = setting(
        None, Number(0.0, open_low=True, none=True), "Ship the most faithful student that predicts one row in "
        "at most this many seconds.", shown="no limit")

    @property
    def sizing(self) -> bool:
        """Whether a target or a bound asks the run to search student sizes."""
        return self.fidelity is not None or self.max_size is not None or self.max_latency is not None


SECTIONS = ("data", "generator", "selection", "budget", "student", "target", "output")


@dataclass
class Settings:
    """Every setting of a run (see the module's docstring). ``Settings()`` holds the defaults;
    :meth:`from_options` builds one from option names, :meth:`replace` changes some."""

    seed: int = setting(
        0, Whole(0, 2**32 - 1), "Seed for every random source: same inputs and seed, same student.")
    device: str = setting(
        "auto", OneOf(("auto", "cpu", "cuda")), "Where torch trains (generator, MLP).", panel=PANEL_TRAINING)
    dask: str | None = setting(
        None, Text(none=True), "Dask scheduler address (tcp://host:8786): the teacher labels rows on its workers "
        "and a gbdt student boosts there (xgboost.dask); the generator and other students are fitted here. "
        "Same seed, same student (gbdt: close, not identical). Needs tabcompress[dask].",
        panel=PANEL_TRAINING, shown="none: all on this machine")
    safe: bool = setting(
        False, Flag(), "Refuse pickle/joblib teachers (loading one runs its code); read .skops and the libraries' "
        "own model files only (XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm/.json, ONNX .onnx); save the "
        "student as .skops.")
    data: DataSettings = field(default_factory=DataSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    student: StudentSettings = field(default_factory=StudentSettings)
    target: TargetSettings = field(default_factory=TargetSettings)
    output: OutputSettings = field(default_factory=OutputSettings)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_options(cls, **options: Any) -> "Settings":
        """The defaults with ``options`` (option names, e.g. ``max_depth=4, student="mlp"``) applied."""
        return cls().replace(**options)

    def replace(self, **options: Any) -> "Settings":
        """A copy with ``options`` applied; an unknown option name is a :class:`SettingError`."""
        sections = {name: getattr(self, name) for name in SECTIONS}
        top: dict[str, Any] = {}
        changes: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for option, value in options.items():
            where = OPTIONS.get(option)
            if where is None:
                raise SettingError(option, f"is not a setting; known settings: {', '.join(sorted(OPTIONS))}")
            section, name = where
            value = _normalise(option, value)
            if section is None:
                top[name] = value
            else:
                changes[section][name] = value
        new = {name: replace(sections[name], **changes[name]) for name in SECTIONS}
        return replace(self, **top, **new)

    # -- reading -------------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """Every setting by option name."""
        return {option: value for option, value, _ in self._walk()}

    def get(self, option: str) -> Any:
        section, name = OPTIONS[option]
        return getattr(self if section is None else getattr(self, section), name)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready sections: the run-wide settings first, then one dict per section."""
        def plain(value: Any) -> Any:
            return list(value) if isinstance(value, tuple) else value

        out: dict[str, Any] = {f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name not in SECTIONS}
        for section in SECTIONS:
            out[section] = {f.name: plain(getattr(getattr(self, section), f.name))
                            for f in fields(getattr(self, section))}
        return out

    def _walk(self) -> Iterator[tuple[str, Any, Constraint]]:
        for section in (None, *SECTIONS):
            owner = self if section is None else getattr(self, section)
            for f in fields(owner):
                if "constraint" in f.metadata:
                    yield f.metadata["option"] or f.name, getattr(owner, f.name), f.metadata["constraint"]

    # -- checking ------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`SettingError` naming the first setting with a value it cannot take."""
        for option, value, constraint in self._walk():
            check(option, value, constraint)
        if self.generator.name != "auto":
            generator_parts(self.generator.name)  # names the unknown part
        if self.generator.batch_size % 10:
            raise SettingError("batch_size", f"must be a multiple of 10 (CTGAN trains on packs of 10 rows), "
                                             f"got {self.generator.batch_size}")
        if self.dask is not None and not DASK_ADDRESS.match(self.dask):
            raise SettingError("dask", f"must be a Dask scheduler's address with its port, such as "
                                       f"tcp://10.0.0.5:8786 or 10.0.0.5:8786, got {self.dask!r}")
        if self.student.adversarial and self.student_name != "mlp":
            raise SettingError("adversarial", "trains MLP students only; add {student} mlp", mentions=("student",))

    # -- derived -------------------------------------------------------------------------------
    @property
    def student_name(self) -> str:
        """The student asked for: as set, else ``tree``, or ``auto`` when a target or a bound asks the run to
        choose (a student named with a target is searched in its sizes only)."""
        return self.student.name or (AUTO_STUDENT if self.target.sizing else "tree")

    @property
    def student_format(self) -> str:
        """The student file's format: as set, else skops with ``safe`` (it loads without running code)."""
        return self.output.student_format or ("skops" if self.safe else "joblib")


def _option_map() -> dict[str, tuple[str | None, str]]:
    """Option name → (section or None for the run-wide settings, field name)."""
    out: dict[str, tuple[str | None, str]] = {}
    for f in fields(Settings):
        if f.name in SECTIONS:
            for g in fields(_SECTION_TYPES[f.name]):
                out[g.metadata["option"] or g.name] = (f.name, g.name)
        else:
            out[f.name] = (None, f.name)
    return out


_SECTION_TYPES = {"data": DataSettings, "generator": GeneratorSettings, "selection": SelectionSettings,
                  "budget": BudgetSettings, "student": StudentSettings, "target": TargetSettings,
                  "output": OutputSettings}
#: every option name, with where its value lives
OPTIONS = _option_map()


def option_field(option: str):
    """The dataclass field of ``option`` (its default, help, panel and constraint are in it)."""
    section, name = OPTIONS[option]
    owner = Settings if section is None else _SECTION_TYPES[section]
    return next(f for f in fields(owner) if f.name == name)


def default(option: str) -> Any:
    """The default value of ``option``."""
    return Settings().get(option)


def _normalise(option: str, value: Any) -> Any:
    """Friendly forms of a value: a list for a tuple, comma-separated text for names and widths."""
    constraint = option_field(option).metadata["constraint"]
    if isinstance(constraint, Names):
        return Names.parse(value)
    if isinstance(constraint, Size):
        return Size.parse(value)
    if isinstance(constraint, Widths):
        if isinstance(value, str):
            try:
                return tuple(int(part) for part in value.split(","))
            except ValueError:
                raise SettingError(option, f"must be {constraint.describe()}, got {value!r}") from None
        if isinstance(value, list):
            return tuple(value)
    return value


# -- a settings file -----------------------------------------------------------------------------

def read_settings_file(path: str | Path) -> dict[str, Any]:
    """The options set in the TOML file ``path``, by option name, each checked.

    A key is an option name (``max_depth`` or ``max-depth``), at the top level or in a table named after
    its section (``[student]``, ``max-depth = 8``). An unknown key, a key in the wrong table or a bad
    value is an :class:`InputError` naming the file and the key.
    """
    import tomllib

    from tabcompress.errors import require_file

    path = Path(path)
    where = f"settings file {path}"
    require_file(path, where, "a TOML file")
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    options: dict[str, Any] = {}

    def take(key: str, value: Any, table: str | None) -> None:
        option = key.replace("-", "_")
        if option not in OPTIONS:
            raise InputError(f"{where}: unknown setting {key!r}")
        section = OPTIONS[option][0]
        if table is not None and section != table:
            raise InputError(f"{where}: {key!r} belongs in [{section}]" if section else
                             f"{where}: {key!r} belongs at the top level, not in [{table}]")
        try:
            value = _normalise(option, value)
            check(option, value, option_field(option).metadata["constraint"])
        except SettingError as exc:
            raise InputError(f"{where}: {key} {exc.problem}") from None
        options[option] = value

    for key, value in document.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise InputError(f"{where}: unknown table [{key}]; tables are {', '.join(SECTIONS)}")
            for inner, item in value.items():
                take(inner, item, key)
        else:
            take(key, value, None)
    return options
