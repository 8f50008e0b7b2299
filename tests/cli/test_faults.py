"""The command line under faults: special files as outputs, a full disk, SIGTERM and
Ctrl-C, permission denied, folders and files in each other's place, TensorFlow runtime
errors. Each gives one ``d2l-softmax: error:`` line (or exit 130/143), no traceback,
and keeps the work that was done."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import d2l_softmax as d2l
from d2l_softmax import data
from d2l_softmax.cli.main import describe, main
from d2l_softmax.io import checkpoint

from conftest import make_special, small_cli


def one_error(stderr: str) -> str:
    """The one error line of a failed command (asserting there is exactly one)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("d2l-softmax: error: ")]
    assert len(lines) == 1, stderr
    return lines[0][len("d2l-softmax: error: ") :]


@pytest.fixture
def model(tmp_path):
    return checkpoint.save_params(tmp_path / "model.npz", d2l.SoftmaxRegression(seed=0))


# ---------------------------------------------------------------- 1. outputs


@pytest.mark.parametrize(
    "kind, called", [("char device", "character device"), ("named pipe", "named pipe")]
)
def test_no_command_replaces_a_device_or_a_pipe(small_dir, model, tmp_path, kind, called, capsys):
    node = make_special(tmp_path / "out.png", kind)
    before = os.stat(node)
    for argv in (
        ["evaluate", model, "--data-dir", small_dir, "--out", node],
        ["predict", model, "--data-dir", small_dir, "--out", node],
    ):
        assert main(list(map(str, argv))) == 1
        assert one_error(capsys.readouterr().err) == (
            f"cannot write {node}: it is a {called}, not a regular file; only a regular file "
            "is ever replaced"
        )
    run = tmp_path / "run"
    run.mkdir()
    make_special(run / "history.json", kind)
    assert main(["train", "--epochs", "1", "--data-dir", str(small_dir), "--out", str(run)]) == 1
    out = capsys.readouterr()
    assert f"cannot write {run / 'history.json'}" in one_error(out.err)
    assert "epoch 1" not in out.out  # refused before training, not after
    after = os.stat(node)
    assert (stat.S_IFMT(after.st_mode), after.st_rdev) == (
        stat.S_IFMT(before.st_mode),
        before.st_rdev,
    )


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


_ALTERNATE_STACK = """
import ctypes, signal, sys
from d2l_softmax.engine.interrupt import StopOnInterrupt, terminate_as_interrupt
class Stack(ctypes.Structure):
    _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]
def alternate():  # whether this thread has an alternate signal stack (SS_DISABLE is 2)
    stack = Stack()
    assert ctypes.CDLL(None).sigaltstack(None, ctypes.byref(stack)) == 0
    return not stack.flags & 2
before = alternate()
with (StopOnInterrupt() if sys.argv[1] == "training" else terminate_as_interrupt()):
    print(before, alternate())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sigaltstack's layout here")
@pytest.mark.parametrize("where, alternate", [("training", "False"), ("the command", "True")])
def test_signals_are_handled_on_a_stack_of_their_own(where, alternate):
    """A SIGTERM or Ctrl-C handled on the stack of the XLA program running on the main
    thread corrupted the heap in 8 of 28 runs of `d2l-softmax train --epochs 40` stopped
    after epoch 1 (exit 134, 'corrupted size vs. prev_size'), in none of 36 with an
    alternate signal stack, where Python's handlers then run. The command line sets one
    up; the library's train_ch3 leaves the user's process as it is (docs/engine.md)."""
    out = subprocess.run(
        [sys.executable, "-c", _ALTERNATE_STACK, where.split()[-1]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.split() == ["False", alternate], out.stderr


def test_sigterm_stops_training_after_the_epoch_and_saves(small_dir, tmp_path):
    """``timeout``, ``docker stop`` and batch schedulers send SIGTERM: like the first
    Ctrl-C, it ends the epoch, saves everything and exits 143."""
    out = tmp_path / "run"
    run = small_cli(
        "train", "--epochs", "100000", "--batch-size", "32", "--data-dir", small_dir, "--out", out
    )
    for line in run.stdout:
        if line.startswith("epoch 2:"):
            run.send_signal(signal.SIGTERM)
            break
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 143, stderr
    assert "Traceback" not in stderr and "Stopped early after epoch" in stdout
    history = json.loads((out / "history.json").read_text())
    done = len(history["train_loss"])
    assert 2 <= done < 100000
    _, settings = checkpoint.load_params(out / "model.npz")
    assert settings["epochs_done"] == done
    assert (out / "training.png").exists() and (out / "predictions.png").exists()


def test_a_signal_while_a_finished_run_saves(small_dir, tmp_path, monkeypatch, capsys):
    """SIGTERM while the files of a finished run are saved: the saves finish, exit 143,
    and the message says every epoch was done (it said "Stopped early after epoch 1")."""
    save_params = checkpoint.save_params

    def interrupted_save(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        return save_params(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_params", interrupted_save)
    out = tmp_path / "run"
    argv = ["train", "--epochs", "1", "--data-dir", str(small_dir), "--out", str(out)]
    assert main(argv) == 143
    stdout = capsys.readouterr().out
    assert (
        f"Interrupted while saving, after the last epoch (1 of 1): everything is saved in {out}/"
        in stdout
    )
    assert "Stopped early" not in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.npz", "history.json", "training.png", "predictions.png"]
    )


@pytest.mark.parametrize(
    "signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_while_tensorflow_imports_exits_quietly(tmp_path, signum, code, word):
    """SIGINT must reach the child as it reaches a shell's foreground job: pytest may
    itself run with SIGINT ignored (started from a background job)."""
    run = subprocess.Popen(
        [sys.executable, "-m", "d2l_softmax", "train", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # TensorFlow's library is loaded: the import runs
        with open(f"/proc/{run.pid}/maps") as maps:
            if "libtensorflow" in maps.read():
                break
        time.sleep(0.005)
    run.send_signal(signum)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == code, stderr
    assert "Traceback" not in stderr and f"d2l-softmax: {word}" in stderr
    assert "d2l-softmax: error" not in stderr and stdout == ""  # stopped before the data


# ---------------------------------------------------------------- 4. OS and runtime errors


def _without_root_powers():
    """A command prefix under which permissions apply: nothing for a normal user; for
    root, setpriv dropping the capabilities that bypass them."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("as root, checking permissions needs setpriv (util-linux)")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


def test_permission_denied_is_one_line_naming_the_path(small_dir, model, tmp_path):
    prefix = _without_root_powers()
    readable = shutil.copy(model, tmp_path / "readable.npz")
    hidden = shutil.copytree(small_dir, tmp_path / "hidden")
    test_images = next(hidden.glob("t10k-images*"))
    locked = tmp_path / "locked"
    locked.mkdir()
    kept = tmp_path / "kept"  # a run's folder whose model the user write-protected
    kept.mkdir()
    protected = [shutil.copy(model, kept / "model.npz"), tmp_path / "figure.png"]
    protected[1].write_bytes(b"mine")
    os.chmod(model, 0)
    os.chmod(test_images, 0)
    os.chmod(locked, 0o555)
    for path in protected:
        os.chmod(path, 0o444)
    before = [path.read_bytes() for path in protected]
    cases = {
        f"{model}: Permission denied": ["evaluate", model, "--data-dir", small_dir],
        f"{test_images}: Permission denied": ["predict", readable, "--data-dir", hidden],
        f"cannot make the folder {locked / 'run'}: Permission denied": [
            "train",
            "--data-dir",
            small_dir,
            "--out",
            locked / "run",
        ],
        f"cannot write in {locked}: Permission denied": [
            "train",
            "--data-dir",
            small_dir,
            "--out",
            locked,
        ],
        # renaming a new file over a write-protected one would get past its permissions
        f"cannot write {protected[0]}: Permission denied: the file is write-protected, "
        "and is kept": ["train", "--data-dir", small_dir, "--out", kept, "--epochs", "1"],
        f"cannot write {protected[1]}: Permission denied: the file is write-protected, "
        "and is kept": ["evaluate", readable, "--data-dir", small_dir, "--out", protected[1]],
    }
    try:
        runs = {expected: small_cli(*args, prefix=prefix) for expected, args in cases.items()}
        for expected, run in runs.items():  # started together: six TensorFlow imports
            _, stderr = run.communicate(timeout=120)
            assert run.returncode == 1 and one_error(stderr) == expected
        assert [path.read_bytes() for path in protected] == before
    finally:
        os.chmod(locked, 0o755)


def test_folders_and_files_in_each_others_place(small_dir, model, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for argv, expected in (
        (
            ["train", "--data-dir", small_dir, "--out", a_file],
            f"cannot write in {a_file}: it is a file, not a folder",
        ),
        (
            ["train", "--data-dir", small_dir, "--out", a_file / "run"],
            f"cannot write in {a_file / 'run'}: a part of its path is a file",
        ),
        (
            ["evaluate", tmp_path, "--data-dir", small_dir],
            f"{tmp_path}: is a folder, not a model file",
        ),
        (
            ["evaluate", model, "--data-dir", small_dir, "--out", tmp_path],
            f"cannot write {tmp_path}: it is a folder, not a regular file; only a regular "
            "file is ever replaced",
        ),
        (["predict", model, tmp_path], f"{tmp_path}: is a folder, not an image file"),
    ):
        assert main(list(map(str, argv))) == 1
        assert one_error(capsys.readouterr().err) == expected
    assert main(["predict", str(model), "--data-dir", str(a_file)]) == 1
    assert one_error(capsys.readouterr().err).startswith(
        f"data_dir={a_file} is a file, not a folder."
    )


@pytest.mark.parametrize("error", ["InternalError", "DataLossError", "OutOfRangeError"])
def test_tensorflow_runtime_errors_are_one_line_without_internals(
    model, error, monkeypatch, capsys
):
    def fail(data_dir):
        raise getattr(tf.errors, error)(
            None,
            None,
            (
                "{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
                "replica:0/task:0/device:CPU:0}} record 7 is damaged\n\t [[{{node IteratorGetNext}}]]"
                " [Op:IteratorGetNext] name: "
            ),
        )

    monkeypatch.setattr("d2l_softmax.cli.commands._test_split", fail)
    assert main(["evaluate", str(model)]) == 1
    assert one_error(capsys.readouterr().err) == f"TensorFlow {error}: record 7 is damaged"


def test_a_real_kernel_error_loses_its_internals():
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        tf.gather(tf.zeros(10), [12])
    assert "{{function_node" in str(err.value)
    assert describe(err.value) == (
        "TensorFlow InvalidArgumentError: indices[0] = 12 is not in [0, 10)"
    )


# ---------------------------------------------------------------- 3, 5, 6 at the command line


def test_limits_no_honest_use_reaches(model, capsys):
    with pytest.raises(SystemExit) as err:
        main(["predict", str(model), "--n", "1001"])
    assert err.value.code == 2 and "at most 1000 images" in capsys.readouterr().err
    for lr in ("1e-50", "1e39"):  # 0 and inf in float32
        with pytest.raises(SystemExit) as err:
            main(["train", "--lr", lr])
        assert err.value.code == 2 and "in float32" in capsys.readouterr().err


def test_a_model_with_nan_weights_is_refused(small_dir, tmp_path, capsys):
    net = d2l.SoftmaxRegression(seed=0)
    W = net.W.numpy()
    W[0, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(
        path,
        W=W,
        b=net.b.numpy(),
        meta=np.array(
            json.dumps({"format": checkpoint.FORMAT, "shape": [784, 10], "settings": {}})
        ),
    )
    assert main(["evaluate", str(path), "--data-dir", str(small_dir)]) == 1
    assert one_error(capsys.readouterr().err) == (
        f"{path}: W has 1 non-finite values (NaN or inf): such a model predicts nothing meaningful"
    )


def test_predict_needs_only_the_test_files_and_draws_a_grid(small_dir, model, tmp_path, capsys):
    only_test = tmp_path / "only-test"
    only_test.mkdir()
    for name in data.SPLITS["test"][:2]:
        shutil.copy(small_dir / name, only_test / name)
    out = tmp_path / "grid.png"
    assert (
        main(["predict", str(model), "--n", "100", "--data-dir", str(only_test), "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.count(" -> ") == 100
    width, height = Image.open(out).size
    assert height > width  # 13 rows of 8, not one row of 100
    assert main(["evaluate", str(model), "--data-dir", str(only_test)]) == 0
    assert "on 100 images" in capsys.readouterr().out


@pytest.mark.parametrize("n, grid", [(6, (1, 6)), (12, (2, 6)), (20, (3, 7)), (64, (8, 8))])
def test_predict_ch3_lays_images_out_in_rows_of_at_most_8(n, grid):
    X, y = tf.zeros((n, 28, 28, 1)), tf.zeros(n, tf.int32)
    axes = d2l.predict_ch3(d2l.SoftmaxRegression(seed=0), [(X, y)], n=n)
    assert len(axes) == n
    assert axes[0].get_subplotspec().get_gridspec().get_geometry() == grid


def test_a_batch_larger_than_the_data_set_is_one_batch(small_dir, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--epochs",
                "1",
                "--batch-size",
                "100000",
                "--data-dir",
                str(small_dir),
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert "epoch 1: train loss" in capsys.readouterr().out
