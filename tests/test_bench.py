"""The benchmark runs (quick mode) and its table says what it should; no timing is tested."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import bench  # noqa: E402

import processes  # noqa: E402
import recipe  # noqa: E402
import report  # noqa: E402
import ways  # noqa: E402


def _row(whole, first, steady, acc=0.8):
    return {
        "whole": whole,
        "cell": whole,
        "first": first,
        "steady": steady,
        "metrics": [0.5, acc, acc],
    }


def test_quick_mode_trains_every_way(small_dir, monkeypatch, capsys):
    monkeypatch.setattr(recipe, "EPOCHS", recipe.EPOCHS)  # quick mode sets 2; put it back after
    assert bench.main(["--quick", "--data-dir", str(small_dir)]) == 0
    out = capsys.readouterr().out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| softmax:") or line.startswith("| MLP:")
    ]
    assert len(rows) == len(ways.all_ways())
    for (family, name), line in zip(ways.all_ways(), rows):
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert cells[0] == f"{family}: {name}"
        assert float(cells[1]) > 0 and 0 <= float(cells[5]) <= 1  # seconds, test accuracy
    assert "2 epochs" in out


def test_bounds_ratios_and_a_bound_that_is_beaten():
    rows = {
        ("softmax", "book's eager loop, the chapter's code"): _row(10.0, 1.0, 1.0),
        ("softmax", "train_ch3, the chapter's code"): _row(1.0, 0.28, 0.08),
        ("softmax", "train_ch3 XLA, the chapter's code"): _row(1.5, 1.0, 0.05),
        ("softmax", "bound: fused XLA"): _row(1.2, 0.7, 0.05),
        ("softmax", "bound: fused NumPy"): _row(0.8, 0.08, 0.08),
    }
    assert report.bounds(rows) == {"softmax": {"whole": 0.8, "cell": 0.8, "steady": 0.05}}
    assert report.beaten(rows) == []
    table = report.table(rows)
    assert "| 10.00 | 1.25 | 12.50 | 1.60 |" in table  # book/this and this/bound, both
    assert "pays back after 25 epochs" in report.payback(
        rows["softmax", "train_ch3, the chapter's code"],
        rows["softmax", "train_ch3 XLA, the chapter's code"],
    )
    rows["softmax", "train_ch3, the chapter's code"]["steady"] = 0.049  # the bound's median...
    assert report.beaten(rows) == ["softmax: train_ch3, the chapter's code: steady"]
    rows["softmax", "bound: fused XLA"]["best"] = {"whole": 1.1, "steady": 0.045}
    assert report.beaten(rows) == []  # ... but not what the bound did in its best round
    rows["softmax", "train_ch3, the chapter's code"]["steady"] = 0.04
    assert report.beaten(rows) == ["softmax: train_ch3, the chapter's code: steady"]


def test_run_process_measures_wall_time_and_peak_memory():
    wall, peak = processes.run_process(
        [sys.executable, "-c", "import time; x = bytearray(300 * 2**20); time.sleep(0.3)"]
    )
    assert wall >= 0.3
    assert 300 <= peak < 1000  # the child's own peak, in MiB, not this process's
    with pytest.raises(RuntimeError, match="exit code 3"):
        processes.run_process([sys.executable, "-c", "raise SystemExit(3)"])


def test_the_breakdown_times_the_command_itself(small_dir, monkeypatch):
    """The breakdown runs ``cmd_train`` with a clock, not a copy of its steps."""
    import gc
    import time

    from d2l_softmax.cli import commands

    phases = []
    real = commands.cmd_train

    def spy(args, *, clock):
        phases.append("called")
        return real(args, clock=lambda phase: (phases.append(phase), clock(phase)))

    monkeypatch.setattr(commands, "cmd_train", spy)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # not in the test process
    start = time.perf_counter()
    parts = processes.breakdown(str(small_dir))
    wall = time.perf_counter() - start
    assert phases == [
        "called",
        "import",
        "data",
        "training",
        "model.npz",
        "history.json",
        "training.png",
        "predictions.png",
    ]
    assert list(parts) == ["import", "data", "compile", "train", "plots", "save"]
    assert parts["train"] > 0 and parts["plots"] > 0 and parts["save"] > 0
    assert min(parts["import"], parts["data"]) >= 0 and sum(parts.values()) <= wall


_ONE_WAY = """
import subprocess
import sys
sys.path.insert(0, {benchmarks!r})
from d2l_softmax.io import fashion_mnist  # no TensorFlow yet: it must not have started
fashion_mnist.SPLITS.update({splits!r})
import bench, recipe
recipe.EPOCHS = 1
bench.run_way("softmax", "train_ch3, package model", {folder!r}, cells=1, one_thread_per_op={one})
import tensorflow as tf
print(tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


@pytest.mark.parametrize("one, threads", [(True, "1 1"), (False, "0 0")])
def test_a_way_runs_with_one_thread_per_op_when_asked(small_dir, one, threads):
    from d2l_softmax.io import fashion_mnist

    script = _ONE_WAY.format(
        benchmarks=str(Path(bench.__file__).parent),
        one=one,
        splits=dict(fashion_mnist.SPLITS),
        folder=str(small_dir),
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == threads


def test_the_against_table_gives_new_over_against_and_flags_slowdowns():
    rows = {
        ("softmax", "train_ch3, package model"): _row(1.0, 0.3, 0.11),
        ("softmax", "train_ch3, package model" + report.AGAINST): _row(1.0, 0.4, 0.1),
        ("softmax", "Keras fit"): _row(2.0, 0.3, 0.2),
    }
    table = report.against_table(rows)
    assert "| softmax: train_ch3, package model | 1.00 | 1.00 | 0.75 | 1.10 |" in table
    assert "Keras fit" not in table and "All within 1.1x" in table
    rows["softmax", "train_ch3, package model"]["steady"] = 0.12
    assert "SLOWER THAN 1.1x" in report.against_table(rows)
    assert "steady epoch 1.20" in report.against_table(rows)
    assert [bench.runs_the_package(n) for _, n in rows] == [True, True, False]


def test_against_imports_the_other_checkout_and_fails_loudly_if_not(tmp_path):
    """A child run with against_env finds the package in the folder first; a way run
    --against a folder whose package it did not import refuses to run."""
    (tmp_path / "d2l_softmax").mkdir()
    (tmp_path / "d2l_softmax" / "__init__.py").write_text("")
    where = processes.package_folder(processes.against_env(str(tmp_path)), cwd=str(tmp_path))
    assert where == str((tmp_path / "d2l_softmax").resolve())
    assert (
        processes.package_module("d2l_softmax.io.no_such", "d2l_softmax.io.files").__name__
        == "d2l_softmax.io.files"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run(
        [
            sys.executable,
            bench.__file__,
            "--way",
            "softmax",
            "train_ch3, package model",
            "--against",
            str(empty),
        ],
        capture_output=True,
        text=True,
        env=processes.against_env(str(empty)),
        timeout=300,
    )
    assert out.returncode != 0 and f"which is not in {empty}" in out.stderr
