"""The command line on a full disk: refused before training, or nothing done is lost."""

import json
import os
import signal
from pathlib import Path

import pytest

import d2l_softmax as d2l
from d2l_softmax.cli.main import main
from d2l_softmax.io import checkpoint

from conftest import small_cli
from helpers import one_error

# ---------------------------------------------------------------- 2. finished work


def test_a_disk_already_full_is_refused_before_training(small_dir, small_disk):
    disk = small_disk("1m")
    _fill(disk, 12 << 10)
    out = disk / "run"
    run = small_cli(
        "train", "--epochs", "2", "--batch-size", "32", "--data-dir", small_dir, "--out", out
    )
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 1 and "epoch 1" not in stdout
    assert (
        one_error(stderr)
        == f"cannot write in {out}: no space left: 12 KiB free, at least 1 MiB needed"
    )


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluate_and_predict_say_first_that_their_output_cannot_be_saved(
    small_dir, small_disk, command, capsys
):
    disk = small_disk("1m")
    checkpoint.save_params(disk / "model.npz", d2l.SoftmaxRegression(seed=0))
    _fill(disk, 12 << 10)
    assert main([command, str(disk / "model.npz"), "--data-dir", str(small_dir)]) == 1
    out = capsys.readouterr()
    assert (
        one_error(out.err)
        == f"cannot write in {disk}: no space left: 12 KiB free, at least 1 MiB needed"
    )
    assert out.out == ""  # nothing computed, nothing printed


def _fill(folder, leave: int) -> None:
    """Fill the disk under ``folder`` until ``leave`` bytes are free."""
    vfs = os.statvfs(folder)
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(vfs.f_bavail * vfs.f_frsize - leave, 0))


@pytest.mark.parametrize(
    "leave, failed, saved",
    [
        (48 << 10, "training.png, predictions.png", "model.npz, history.json"),
        (16 << 10, None, None),
    ],
)
def test_a_disk_that_fills_during_training_loses_nothing(
    small_dir, small_disk, leave, failed, saved
):
    """The disk fills up while training. The model (32 KB) is written first, then the
    history, then the plots; those that do not fit are named in one line. When not even
    the model fits, none of the files goes beside an older run's: all four go to a new
    temporary folder, named in the line. The process prints that line and nothing else,
    at exit included (no retried save, no clean-up traceback)."""
    disk = small_disk("4m")
    out = disk / "run"
    run = small_cli(
        "train",
        "--epochs",
        "100000",
        "--batch-size",
        "32",
        "--seed",
        "1",
        "--data-dir",
        small_dir,
        "--out",
        out,
    )
    for line in run.stdout:
        if line.startswith("epoch 2:"):
            _fill(disk, leave)
            run.send_signal(signal.SIGTERM)  # stop after the epoch, and save
            break
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 1, stderr
    message = one_error(stderr)
    assert stderr.splitlines() == [f"d2l-softmax: error: {message}"]
    if saved:
        assert (
            message == f"could not save {failed} in {out}/: No space left on device; saved {saved}"
        )
        where = out
        assert sorted(p.name for p in out.iterdir()) == sorted(saved.split(", "))
    else:
        head = (
            f"could not save model.npz, history.json, training.png, predictions.png in {out}/:"
            " No space left on device; saved them in "
        )
        assert message.startswith(head) and message.endswith("/ instead"), message
        assert list(out.iterdir()) == []  # no history beside an older model
        where = Path(message[len(head) : -len("/ instead")])
        assert sorted(p.name for p in where.iterdir()) == sorted(
            ["model.npz", "history.json", "training.png", "predictions.png"]
        )
    history = json.loads((where / "history.json").read_text())
    done = len(history["test_acc"])
    assert done >= 2 and history["settings"]["epochs_done"] == done
    _, settings = checkpoint.load_params(where / "model.npz")
    assert settings["epochs_done"] == done
