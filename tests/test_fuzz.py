"""Fuzzing: generated CSV files (odd headers, mixed types, empty cells, huge and tiny numbers, long
strings, stray bytes) through the library and the CLI. The only allowed outcomes are a result or an
InputError in the library, and exit 0, 2 or 3 with no traceback from the CLI.

The examples are derandomised, so a CI failure reproduces locally; the CLI part is bounded (each
example starts a process).
"""

from __future__ import annotations

import csv
import io
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from conftest import run_cli  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st

from tabcompress import InputError, Settings, Teacher, distill  # noqa: E402

MAGIC_FEATURES = ["FLength", "FWidth", "FSize", "FConc", "FConc1", "FAsym", "FM3Long", "FM3Trans", "FAlpha", "FDist"]

odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
cells = st.one_of(
    st.none(),  # an empty cell
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 1e-300, 0.0, -0.0]),
    odd_text,
    st.text(min_size=200, max_size=400),  # long strings
    st.sampled_from(["nan", "NaN", "inf", "-inf", "", "1,5", "1;2", '"quoted"', "é", "true", "False"]),
)
numeric_cells = st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.none())


@st.composite
def csv_files(draw) -> bytes:
    """A CSV that is sometimes close to what the teacher expects and sometimes far from it."""
    # Biased towards files that get past the first checks, so the later stages are fuzzed too.
    names = list(draw(st.permutations(MAGIC_FEATURES)))
    if draw(st.integers(0, 3)) == 0:
        names = names[: draw(st.integers(min_value=0, max_value=len(names)))]
    if draw(st.booleans()):
        names.append("target")
    names += draw(st.lists(odd_text, max_size=3))  # extra, odd, maybe duplicate or empty headers
    n_rows = draw(st.one_of(st.integers(min_value=0, max_value=11), st.integers(min_value=12, max_value=60)))
    mostly_numeric = draw(st.integers(0, 3)) > 0
    rows = []
    for _ in range(n_rows):
        row = []
        for name in names:
            if name == "target":
                row.append(draw(st.one_of(st.sampled_from([0, 1]), cells)))
            elif mostly_numeric and name in MAGIC_FEATURES and draw(st.integers(0, 200)) > 0:
                row.append(draw(numeric_cells))
            else:
                row.append(draw(cells))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if names or draw(st.booleans()):
        writer.writerow(names)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    prefix = draw(st.sampled_from([b""] * 6 + [b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"]))
    return prefix + data


@pytest.fixture(scope="module")
def small_teacher(magic):
    from sklearn.ensemble import RandomForestClassifier

    X, y = magic[MAGIC_FEATURES], magic["target"]
    return Teacher.from_model(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y))


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(content=csv_files())
def test_library_gives_a_result_or_an_input_error(small_teacher, tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        result = distill(small_teacher, path, Settings.from_options(generator="none", max_depth=3))
    except InputError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip()
        return
    fid = result.report["metrics"]["student"]["fidelity"]
    assert 0.0 <= fid <= 1.0 and not math.isnan(fid)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(content=csv_files())
def test_cli_exits_0_2_or_3_without_a_traceback(teachers, tmp_path_factory, content):
    work = tmp_path_factory.mktemp("fuzz")
    path = work / "fuzz.csv"
    path.write_bytes(content)
    out = work / "out"
    done = run_cli("distill", teachers["rf_magic"], path, "--out", out, "--generator", "munge",
                   "--synthetic-ratio", "1", "--json")
    assert done.returncode in (0, 2, 3), done.stderr
    assert "Traceback" not in done.stderr
    if done.returncode == 2:
        assert done.stderr.strip().splitlines()[-1].startswith("tabcompress: error: ")
        assert not out.exists() or not any(out.iterdir())
