"""The command line, run as a user runs it: a separate process, exit codes, messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from d2l_softmax.cli import main as cli
from d2l_softmax.cli import runs
from d2l_softmax.cli.main import main
from d2l_softmax.io import checkpoint


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "d2l_softmax", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )  # a hang fails the test, not the whole run


def test_help_for_each_command():
    for cmd in ([], ["train"], ["evaluate"], ["predict"]):
        out = run(*cmd, "--help")
        assert out.returncode == 0 and "usage: d2l-softmax" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "the value must be a positive integer, got 0"),
        (["train", "--lr", "-1"], "must be a positive finite number, got -1.0"),
        (["train", "--lr", "nan"], "must be a positive finite number, got nan"),
        (["train", "--batch-size", "x"], "expected a positive integer, got 'x'"),
        (["fly"], "invalid choice"),
        (["train", "--seed", str(2**63)], "must be None or an integer in 0..9223372036854775807"),
        (["train", "--seed", "-1"], "must be None or an integer in 0.."),
        (["predict", "m.npz", "shirt.png", "--n", "5"], "--n and --out are for the grid"),
        (["predict", "m.npz", "shirt.png", "--out", "p.png"], "--n and --out are for the grid"),
        (["predict", "m.npz", "--n", "5", "shirt.png"], "--n and --out are for the grid"),
        (["predict", "m.npz", "--n", "5", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--epochs", "2", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_bad_usage_exits_2(args, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(args)
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_image_files_may_follow_an_option():
    args = cli._parse(["predict", "m.npz", "a.png", "--data-dir", "d", "b.png", "c.png"])
    assert args.images == [Path("a.png"), Path("b.png"), Path("c.png")]
    assert args.data_dir == Path("d")


def test_missing_data_dir_exits_1_with_one_line(tmp_path):
    out = run("train", "--data-dir", tmp_path)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("d2l-softmax: error:")]
    assert len(errors) == 1 and errors[0].startswith("d2l-softmax: error: data_dir=")
    assert "Traceback" not in out.stderr
    assert "apt-get install dataset-fashion-mnist" in out.stderr


def test_train_evaluate_predict(small_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--epochs",
                "2",
                "--batch-size",
                "32",
                "--seed",
                "5",
                "--data-dir",
                str(small_dir),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "epoch 2: train loss" in printed and f"Saved in {out}/" in printed
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 2 and history["settings"]["seed"] == 5
    for name in ("training.png", "predictions.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    model, settings = checkpoint.load_params(out / "model.npz")
    assert settings["lr"] == 0.1 and settings["epochs_done"] == 2

    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(small_dir)]) == 0
    printed = capsys.readouterr().out
    images, labels = __import__("d2l_softmax").read_fashion_mnist(small_dir, "test")
    preds = np.argmax(model.logits(images[..., None] / 255.0), axis=1)
    assert f"test accuracy {np.mean(preds == labels):.4f} on 100 images" in printed
    assert "ankle boot" in printed and (out / "confusion_matrix.png").exists()

    assert main(["predict", str(out / "model.npz"), "--n", "4", "--data-dir", str(small_dir)]) == 0
    assert capsys.readouterr().out.count(" -> ") == 4 and (out / "predictions.png").exists()
    img = tmp_path / "shirt.png"
    img.write_bytes(tf.io.encode_png(np.uint8(images[0][..., None])).numpy())
    assert main(["predict", str(out / "model.npz"), str(img)]) == 0
    assert f"{img}: " in capsys.readouterr().out


def test_bad_model_files_exit_1(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    for path, message in (
        (tmp_path / "none.npz", "no such model file"),
        (tmp_path / "bad.npz", "not a readable d2l_softmax model file"),
    ):
        assert main(["predict", str(path)]) == 1
        assert message in capsys.readouterr().err


def test_seeded_runs_are_bitwise_reproducible(small_dir, tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "train",
                    "--epochs",
                    "3",
                    "--batch-size",
                    "16",
                    "--seed",
                    "7",
                    "--data-dir",
                    str(small_dir),
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    a, _ = checkpoint.load_params(tmp_path / "a" / "model.npz")
    b, _ = checkpoint.load_params(tmp_path / "b" / "model.npz")
    np.testing.assert_array_equal(a.W.numpy(), b.W.numpy())
    np.testing.assert_array_equal(a.b.numpy(), b.b.numpy())
    c_dir = tmp_path / "c"
    assert (
        main(
            [
                "train",
                "--epochs",
                "3",
                "--batch-size",
                "16",
                "--seed",
                "8",
                "--data-dir",
                str(small_dir),
                "--out",
                str(c_dir),
            ]
        )
        == 0
    )
    c, _ = checkpoint.load_params(c_dir / "model.npz")
    assert not np.array_equal(a.W.numpy(), c.W.numpy())


def test_divergence_exits_1_naming_epoch_and_batch(small_dir, tmp_path, capsys, monkeypatch):
    assert (
        main(
            [
                "train",
                "--lr",
                "1e38",
                "--data-dir",
                str(small_dir),
                "--batch-size",
                "32",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 1
    )
    assert "training diverged" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # the folder it made, empty: not left behind
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--lr", "1e38", "--data-dir", str(small_dir), "--batch-size", "32"]) == 1
    assert not (tmp_path / "runs").exists()  # nor runs/<time>/, nor runs/


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261125-070000")
    folders = [runs.new_run_folder(tmp_path / "runs") for _ in range(3)]
    assert [f.name for f in folders] == [
        "20261125-070000",
        "20261125-070000-2",
        "20261125-070000-3",
    ]
    assert all(f.is_dir() for f in folders)


def test_ctrl_c_while_the_arguments_are_read_is_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["train"]) == 130
    assert capsys.readouterr().err == "d2l-softmax: interrupted\n"


def test_the_program_exits_with_the_code_of_main(tmp_path):
    """``d2l-softmax`` and ``python -m d2l_softmax`` run :func:`cli.run`: main's exit
    code, after freezing the objects instead of a last sweep."""
    import configparser

    entry = configparser.ConfigParser()
    entry.read(os.path.join(os.path.dirname(__file__), "..", "..", "setup.cfg"))
    assert "d2l_softmax.cli.main:run" in entry["options.entry_points"]["console_scripts"]
    assert run("train", "--data-dir", tmp_path).returncode == 1
    assert run("train", "--epochs", "0").returncode == 2
    assert run("--help").returncode == 0
