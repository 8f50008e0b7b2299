"""What each command does: ``train``, ``evaluate`` and ``predict``.

:mod:`d2l_softmax.cli` parses the command line and turns errors into one line and
an exit code; the commands here import TensorFlow only when they run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from .runs import TRAIN_OUTPUTS, new_run_folder, save_run, saving_failed

PROG = "d2l-softmax"


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def one_thread_per_op(tf) -> None:
    """Run each op on one thread, when TensorFlow has not started yet (in a process of
    its own; in a program that already uses TensorFlow its settings stay).

    The chapter's ops are small (a 256 x 784 batch, a 784 x 10 matrix): splitting each
    across threads costs more than it saves. On the 2-core machine of the README's
    speed section, the whole command took 0.45 s less; the model is the same, byte
    for byte. Both settings are TensorFlow's public ``tf.config.threading``.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow is already running
        pass


def read_while_importing(data_dir) -> threading.Thread:
    """Read the four data files in a thread, while TensorFlow is imported (the files
    are inflated by zlib, which leaves Python's lock to the import). The arrays are
    kept by :func:`~d2l_softmax.fashion_mnist.read_fashion_mnist` for the loader;
    a problem is left for the loader to find again and report.

    The thread only reads: what it needs (NumPy among it) is imported here first. An
    import in a thread beside TensorFlow's import can deadlock (seen on Python 3.10
    with TensorFlow 2.16: both threads waiting, for good)."""
    from ..io.fashion_mnist import find_fashion_mnist, read_fashion_mnist

    def read():
        try:
            folder = find_fashion_mnist(data_dir, download=False)
            for split in ("train", "test"):
                read_fashion_mnist(folder, split)
        except Exception:  # reported by load_data_fashion_mnist, in the main thread
            pass

    thread = threading.Thread(target=read, name="read Fashion-MNIST", daemon=True)
    thread.start()
    return thread


def say(line: str) -> None:
    """Print one of a run's last lines (where the results are): on stdout, or on stderr
    when stdout can no longer be written (the reader went away): it is worth knowing."""
    dead = getattr(sys.stdout, "failure", None) is not None
    print(line, file=sys.stderr if dead else sys.stdout)


def cmd_train(args, *, clock: Callable[[str], None] | None = None) -> int:
    """``clock(phase)``, if given, is called as each phase ends: "import", "data",
    "training", then each file's name as it is saved (for the benchmark's breakdown)."""
    clock = clock or (lambda phase: None)
    reading = read_while_importing(args.data_dir)
    import tensorflow as tf

    one_thread_per_op(tf)

    from ..data import load_data_fashion_mnist
    from ..engine import interrupt
    from ..io import checkpoint
    from ..io.files import prepare_folder, resolve_target, write_json
    from ..model import SoftmaxRegression, cross_entropy
    from ..optim import Updater, cosine_schedule
    from ..plots import Animator
    from ..train import predict_ch3, train_ch3

    clock("import")

    if args.seed is not None:
        tf.random.set_seed(args.seed)
    reading.join()
    train_iter, test_iter = load_data_fashion_mnist(
        args.batch_size, data_dir=args.data_dir, seed=args.seed
    )
    clock("data")
    out = args.out if args.out is not None else new_run_folder()
    made = not out.exists() or args.out is None  # ours to remove if the run saves nothing
    try:
        prepare_folder(out)  # before training: a file in the way, a full or read-only disk
        for name in TRAIN_OUTPUTS:
            resolve_target(out / name)  # a device, a pipe or a folder there is refused
        net = SoftmaxRegression(seed=args.seed)
        print(
            f"Training softmax regression: {args.epochs} epochs, lr {args.lr}, "
            f"batch size {args.batch_size}, seed {args.seed}"
        )
        # drawn only when saved, after the model and the history: they are worth more
        animator = Animator(
            xlabel="epoch",
            xlim=[1, float(args.epochs)],
            ylim=[0.3, 0.9],
            legend=["train loss", "train acc", "test acc"],
            save_every=None,
        )
        schedule = (
            cosine_schedule(args.lr, args.epochs, final_lr=min(1e-4, args.lr))
            if args.schedule == "cosine"
            else None
        )
        history = train_ch3(
            net,
            train_iter,
            test_iter,
            cross_entropy,
            args.epochs,
            Updater(net.params, args.lr),
            animator=animator,
            check=False,
            lr_schedule=schedule,
        )
    except BaseException:
        for folder in (out, out.parent) if args.out is None else (out,):
            if made and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # an empty folder tells nothing (runs/ too, if now empty)
        raise
    clock("training")
    settings = {
        "lr": args.lr,
        "schedule": args.schedule,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "epochs_done": len(history.train_loss),
        "epochs": args.epochs,
    }

    def saves(folder: Path):
        return [
            ("model.npz", lambda: checkpoint.save_params(folder / "model.npz", net, **settings)),
            (
                "history.json",
                lambda: write_json(
                    folder / "history.json", {**history.as_dict(), "settings": settings}
                ),
            ),
            ("training.png", lambda: animator.save(folder / "training.png")),
            (
                "predictions.png",
                lambda: predict_ch3(net, test_iter, n=12, save_path=folder / "predictions.png"),
            ),
        ]

    with interrupt.StopOnInterrupt():  # a signal now lets the saves finish; a second stops
        failed, rescue = save_run(out, saves, clock)
    if failed:
        error(saving_failed(out, failed, rescue))
        return 1
    if history.interrupted:
        done = len(history.train_loss)
        say(f"Stopped early after epoch {done}: what was done is saved in {out}/")
        return interrupt.exit_code()
    if interrupt.received():  # while saving: the saves were let finish
        done = len(history.train_loss)
        say(
            f"Interrupted while saving, after the last epoch ({done} of {done}): everything "
            f"is saved in {out}/"
        )
        return interrupt.exit_code()
    say(f"Test accuracy {history.test_acc[-1]:.4f}. Saved in {out}/: {', '.join(TRAIN_OUTPUTS)}")
    say(f"Next: {PROG} evaluate {out / 'model.npz'}")
    return 0


def _test_split(data_dir):
    """The test images and labels: only the two test files are needed."""
    from ..io.fashion_mnist import find_fashion_mnist, read_fashion_mnist

    return read_fashion_mnist(find_fashion_mnist(data_dir, splits=("test",)), "test")


def cmd_evaluate(args) -> int:
    import numpy as np
    import tensorflow as tf

    from ..engine.source import scale_pixels
    from ..figures import confusion_matrix, plot_confusion_matrix
    from ..io import checkpoint
    from ..io.fashion_mnist import TEXT_LABELS
    from ..io.files import prepare_folder, resolve_target

    out = args.out or args.model.with_name("confusion_matrix.png")
    resolve_target(out)
    prepare_folder(out.parent)  # before the work: a read-only or full folder is said first
    net, _ = checkpoint.load_params(args.model, num_inputs=784, num_outputs=10)
    images, labels = _test_split(args.data_dir)
    X = scale_pixels(images[..., None])
    preds = tf.argmax(net.logits(X), axis=1).numpy()
    matrix = confusion_matrix(labels, preds)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    print(f"test accuracy {np.mean(preds == labels):.4f} on {len(labels)} images\n")
    width = max(map(len, TEXT_LABELS))
    print(f"{'class':>{width}}  accuracy")
    for name, acc in zip(TEXT_LABELS, per_class):
        print(f"{name:>{width}}  {acc:.4f}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print(" " * (width + 1) + " ".join(f"{i:>5d}" for i in range(10)))
    for name, row in zip(TEXT_LABELS, matrix):
        print(f"{name:>{width}} " + " ".join(f"{v:>5d}" for v in row))
    plot_confusion_matrix(matrix, TEXT_LABELS, save_path=out)
    print(f"\nSaved {out}")
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from ..engine.source import scale_pixels
    from ..io import checkpoint, images
    from ..io.fashion_mnist import get_fashion_mnist_labels
    from ..io.files import prepare_folder, resolve_target
    from ..model import softmax
    from ..train import predict_ch3

    out = args.out or args.model.with_name("predictions.png")
    if not args.images:
        resolve_target(out)
        prepare_folder(out.parent)  # before the work: a read-only or full folder is said first
    net, _ = checkpoint.load_params(args.model, num_inputs=784, num_outputs=10)
    if args.images:  # every file is read (and checked) before anything is printed
        batch = np.stack([images.read_image(path) for path in args.images])
        probs = softmax(net.logits(batch[..., None])).numpy()
        for path, p in zip(args.images, probs):
            k = int(np.argmax(p))
            print(f"{path}: {get_fashion_mnist_labels([k])[0]} ({float(p[k]):.1%})")
        return 0
    images, labels = _test_split(args.data_dir)
    X = scale_pixels(images[: args.n, ..., None])
    axes = predict_ch3(net, [(X, labels[: args.n])], n=args.n, save_path=out)
    for ax in axes:
        true, pred = ax.get_title().split("\n")
        print(f"{true:>12} -> {pred}{'' if true == pred else '   (wrong)'}")
    print(f"Saved {out}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}
