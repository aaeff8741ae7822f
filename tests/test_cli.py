"""The `mvikit` command line."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mvikit import __version__
from mvikit.cli import main
from mvikit.datasets import load_cohort, make_hcc_cohort


def test_version_flag_prints_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mvikit {__version__}"


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "mvikit.cli", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert __version__ in out


def test_simulate_writes_a_cohort_that_loads_back_exactly(tmp_path):
    out = tmp_path / "cohort"
    assert main(["simulate", "--out", str(out), "--n-patients", "3", "--task", "mvi",
                 "--seed", "7"]) == 0
    loaded = load_cohort(out)
    expected = make_hcc_cohort(n_patients=3, task="mvi", random_state=7)
    assert list(loaded.X.index) == list(expected.X.index)
    np.testing.assert_array_equal(np.asarray(loaded.y), np.asarray(expected.y))
    for column in expected.volume_columns + expected.mask_columns:
        for pid in expected.X.index:
            got, want = loaded.X.at[pid, column], expected.X.at[pid, column]
            np.testing.assert_array_equal(got.array, want.array)
            assert got.spacing == pytest.approx(want.spacing)


def test_simulate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", str(out), "--n-patients", "2"])
    assert exit_info.value.code == 2
    assert "overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "simulate" in capsys.readouterr().out


def test_mdnet_tables_command_parses():
    from mvikit.cli import build_parser

    args = build_parser().parse_args(["mdnet-tables", "--out", "t", "--tables", "III",
                                      "--folds", "2", "--repeats", "1", "--preset", "demo"])
    assert (args.tables, args.folds, args.repeats, args.preset) == (["III"], 2, 1, "demo")


@pytest.mark.slow
def test_mdnet_tables_command_writes_the_tables(tmp_path):
    from mvikit.cli import main

    out = tmp_path / "tables"
    assert main(["mdnet-tables", "--n-patients", "60", "--tables", "IV", "--preset", "demo",
                 "--folds", "2", "--repeats", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out / "table_IV.csv", index_col=0)
    assert "Our method" in table.index and (out.parent / "tables.cache").is_dir()


def test_errors_from_other_libraries_print_one_line_and_exit_2(monkeypatch, capsys):
    """A plain ValueError (here raised by the simulator as another library would) is an
    error in the input: one line with its type, exit 2; ``--traceback`` re-raises it."""
    import mvikit.datasets

    def broken(*args, **kwargs):
        raise ValueError("Input X contains NaN.")

    monkeypatch.setattr(mvikit.datasets, "make_hcc_cohort", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", "never-written", "--n-patients", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("mvikit simulate: error: ValueError: Input X contains NaN. "
                       "(--traceback shows where)")
    assert not any("Traceback" in line for line in err)
    with pytest.raises(ValueError, match="contains NaN"):
        main(["--traceback", "simulate", "--out", "never-written", "--n-patients", "2"])
