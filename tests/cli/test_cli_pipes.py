"""The command when its output goes away or fills up: closed pipes, a closed or full stdout."""

import errno
import io
import json
import signal
import subprocess
import sys

from d2l_softmax.cli import runs
from d2l_softmax.cli.main import main
from d2l_softmax.io import checkpoint

from conftest import small_cli


def test_a_closed_pipe_stops_training_after_the_epoch_and_saves(small_dir, tmp_path):
    """``d2l-softmax train | head -2``: the reader goes away; the run stops after the
    epoch as after a first Ctrl-C, saves everything, says where on stderr, exits 141."""
    out = tmp_path / "run"
    run = small_cli(
        "train", "--epochs", "100000", "--batch-size", "32", "--data-dir", small_dir, "--out", out
    )
    for line in run.stdout:
        if line.startswith("epoch 1:"):
            run.stdout.close()  # as head does after its lines
            break
    stderr = run.stderr.read()
    assert run.wait(timeout=120) == 141, stderr
    assert stderr.startswith("Stopped early after epoch ") and f"saved in {out}/" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    _, settings = checkpoint.load_params(out / "model.npz")
    assert 1 <= settings["epochs_done"] < 100000
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.TRAIN_OUTPUTS)


def test_a_closed_pipe_for_both_outputs_is_141_and_the_run_is_saved(small_dir, tmp_path):
    """``d2l-softmax train 2>&1 | head -2``: the last lines have nowhere to go either."""
    out = tmp_path / "run"
    run = small_cli(
        "train",
        "--epochs",
        "100000",
        "--batch-size",
        "32",
        "--data-dir",
        small_dir,
        "--out",
        out,
        stderr=subprocess.STDOUT,
    )
    for line in run.stdout:
        if line.startswith("epoch 1:"):
            run.stdout.close()
            break
    assert run.wait(timeout=120) == 141
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.TRAIN_OUTPUTS)


def test_an_error_line_that_cannot_be_written_is_no_traceback(monkeypatch, tmp_path):
    """stderr gone too (``2>&1 | head`` after the reader left): the error line goes
    nowhere, and the exit code still says what happened."""

    class Gone(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stderr", Gone())
    assert (
        main(["train", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "run")])
        == 1
    )


def test_a_pipe_closed_before_training_stops_it_after_the_first_epoch(small_dir, tmp_path):
    out = tmp_path / "run"
    run = small_cli(
        "train", "--epochs", "50", "--batch-size", "32", "--data-dir", small_dir, "--out", out
    )
    run.stdout.close()  # the reader is gone before the first line
    stderr = run.stderr.read()
    assert run.wait(timeout=120) == 141, stderr
    assert json.loads((out / "history.json").read_text())["settings"]["epochs_done"] == 1


def test_a_closed_stdout_trains_quietly(small_dir, tmp_path):
    out = tmp_path / "run"
    run = small_cli(
        "train",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--data-dir",
        small_dir,
        "--out",
        out,
        prefix=("sh", "-c", 'exec "$0" "$@" >&-'),
    )
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0 and stderr == "", stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.TRAIN_OUTPUTS)


def test_a_full_stdout_is_one_error_and_the_run_is_saved(small_dir, tmp_path):
    out = tmp_path / "run"
    with open("/dev/full", "w") as full:
        run = small_cli(
            "train",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--data-dir",
            small_dir,
            "--out",
            out,
            stdout=full,
        )
        _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1, stderr
    assert stderr.splitlines()[-1] == (
        "d2l-softmax: error: could not write to standard output: No space left on device"
    )
    # the first line already failed: training stopped after its first epoch
    assert f"Stopped early after epoch 1: what was done is saved in {out}/" in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.TRAIN_OUTPUTS)


def test_epochs_beyond_any_counter_train_until_stopped(small_dir, tmp_path):
    run = small_cli(
        "train",
        "--epochs",
        str(2**64),
        "--batch-size",
        "32",
        "--data-dir",
        small_dir,
        "--out",
        tmp_path / "run",
    )
    for line in run.stdout:
        if line.startswith("epoch 1:"):
            run.send_signal(signal.SIGTERM)
            break
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 143 and "Traceback" not in stderr, stderr
