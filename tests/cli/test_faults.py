"""The command line under faults: odd outputs, permissions, misplaced files, errors, limits."""

import json
import os
import shutil
import stat

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import d2l_softmax as d2l
from d2l_softmax import data
from d2l_softmax.cli.main import describe, main
from d2l_softmax.io import checkpoint

from conftest import small_cli
from helpers import make_special, one_error


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
