"""One settings model for the library and the command line: the same defaults, the same checks and
wording, a settings file the flags override, and the resolved values in the report."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import DATA, run_cli

from tabcompress import Settings, distill
from tabcompress.config import OPTIONS, default, option_field, read_settings_file
from tabcompress.errors import InputError, SettingError


def _distill_params():
    import typer.main

    from tabcompress.cli import app

    return {p.name: p for p in typer.main.get_command(app).commands["distill"].params}


def test_every_setting_is_a_distill_option_with_the_library_default():
    params = _distill_params()
    for option in OPTIONS:
        assert option in params, f"setting {option} has no option in `distill`"
        param = params[option]
        # the command line's default, read as the library reads a value (text for names and widths)
        assert Settings.from_options(**{option: param.default}).get(option) == default(option), option
        assert param.opts[0] == "--" + option.replace("_", "-"), option
        assert param.help == option_field(option).metadata["help"], option


def test_bad_values_name_the_setting_in_the_library_and_the_flag_on_the_command_line(teachers, tmp_path):
    with pytest.raises(SettingError, match=r"^max_depth must be a whole number from 1 to 2147483647, got 0$"):
        Settings.from_options(max_depth=0).validate()
    with pytest.raises(SettingError, match="not a setting"):
        Settings.from_options(maxdepth=3)
    data = DATA / "magic_1200.csv"
    done = run_cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "o", "--max-depth", "0")
    assert done.returncode == 2
    assert done.stderr.strip() == "tabcompress: error: --max-depth must be a whole number from 1 to 2147483647, got 0"
    done = run_cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "o", "--seed", "-5")
    assert done.returncode == 2 and "--seed must be a whole number from 0 to 4294967295, got -5" in done.stderr
    assert not (tmp_path / "o").exists()


def test_zero_means_all_rows_on_both_sides(magic):
    settings = Settings.from_options(generator_rows=0, synthetic_max_rows=0)
    settings.validate()
    assert settings.generator.fit_rows is None
    assert settings.generator.n_synthetic(100_000) == 2_000_000


def test_safe_writes_a_skops_student_from_the_library_too(teachers, magic, tmp_path):
    assert Settings.from_options(safe=True).student_format == "skops"
    assert Settings.from_options(safe=True, student_format="joblib").student_format == "joblib"
    pytest.importorskip("skops")
    from tabcompress import Teacher

    teacher = Teacher.from_model(__import__("joblib").load(teachers["rf_magic"]))
    result = distill(teacher, magic, out_dir=tmp_path, safe=True, generator="none", tsc=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frontier.png", "report.json", "student.skops"]
    assert result.report["settings"]["output"]["student_format"] == "skops"


def test_sections_and_option_names_round_trip():
    settings = Settings.from_options(student="mlp", hidden="32,16", categorical="a, b", selection_rounds=2)
    assert settings.student.name == "mlp" and settings.student.hidden == (32, 16)
    assert settings.data.categorical == ("a", "b") and settings.selection.rounds == 2
    assert Settings.from_options(**settings.options()) == settings
    assert settings.replace(seed=9).seed == 9 and settings.seed == 0
    assert set(settings.to_dict()) == {"seed", "device", "dask", "safe", "data", "generator", "selection", "budget",
                                       "student", "target", "output"}


def test_settings_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('seed = 4\nmax-depth = 8\n[generator]\ngenerator = "munge"\nsynthetic_ratio = 5\n'
                    '[student]\nhidden = [32, 16]\n')
    options = read_settings_file(path)
    assert options == {"seed": 4, "max_depth": 8, "generator": "munge", "synthetic_ratio": 5, "hidden": (32, 16)}
    for text, needle in [("max-dpth = 8", "unknown setting 'max-dpth'"), ("[student]\nseed = 1", "top level"),
                         ("[data]\nepochs = 3", "belongs in [generator]"), ("epochs = 0", "epochs must be"),
                         ("epochs = ", "not valid TOML"), ("[nope]\nx = 1", "unknown table")]:
        path.write_text(text)
        with pytest.raises(InputError, match="settings file .*run.toml") as caught:
            read_settings_file(path)
        assert needle in str(caught.value), (text, str(caught.value))


def test_flags_override_the_settings_file(teachers, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('max-depth = 2\nseed = 3\ngenerator = "none"\n')
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--json", "--quiet",
                   "--config", config, "--max-depth", "3")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["settings"]["student"]["max_depth"] == 3  # the flag
    assert report["settings"]["seed"] == 3 and report["settings"]["generator"]["name"] == "none"  # the file
    assert report["student"]["depth"] <= 3


def test_report_records_resolved_settings_absolute_paths_and_umask(teachers, tmp_path):
    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--json",
                       "--quiet", "--synthetic-ratio", "1", "--no-tsc")
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    settings = report["settings"]
    assert settings["data"]["target"] == "target"  # 'target when present', resolved
    assert settings["generator"]["name"] == "munge+forest"  # auto's pick for a forest and a tree
    assert settings["generator"]["synthetic_rows"] == report["data"]["synthetic_rows"]
    assert settings["device"] == "cpu" and settings["output"]["student_format"] == "joblib"
    assert settings["student"]["refine_passes"] == 0 and settings["generator"]["cache_dir"]
    for path in (report["data"]["path"], report["teacher"]["path"], *report["outputs"].values()):
        assert os.path.isabs(path), path
    for name in ("student.joblib", "report.json"):  # the umask of the run, not mkstemp's 0600
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name
