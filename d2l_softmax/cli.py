"""The command line: ``d2l-softmax train | evaluate | predict`` (also ``python -m d2l_softmax``).

Exit codes: 0 success, 1 failure (one line on stderr, no traceback), 2 bad usage,
130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM. A run stopped during training
saves what it has done first.
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from . import quiet

PROG = "d2l-softmax"
MAX_PREDICT = 1000  # test images in one grid: 125 rows of 8 is already a tall picture
TRAIN_OUTPUTS = ("model.npz", "history.json", "training.png", "predictions.png")  # by value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _image_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PREDICT:
        raise argparse.ArgumentTypeError(f"at most {MAX_PREDICT} images fit in one grid, "
                                         f"got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    try:  # the update runs in float32: the value must survive the conversion
        as_float32 = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        as_float32 = float("inf")
    if as_float32 == 0 or as_float32 == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is {as_float32} in float32, the precision "
                                         "training runs in: use a value in 1e-38..3e38")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(
        "Softmax regression from scratch on Fashion-MNIST (Dive into Deep Learning, ch. 3)."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's own log lines (as D2L_SOFTMAX_VERBOSE=1)")

    train = sub.add_parser("train", parents=[common],
                           help="train the chapter's model and save the results",
                           description="Train softmax regression on Fashion-MNIST with minibatch "
                           "SGD, print per-epoch numbers and save the model, the history (JSON), "
                           "the training curve and a grid of predictions.")
    train.add_argument("--epochs", type=_positive_int, default=10, help="passes over the data (10)")
    train.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (0.1)")
    train.add_argument("--batch-size", type=_positive_int, default=256, help="minibatch size (256)")
    train.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                       help="learning rate per epoch: constant (the chapter) or cosine-decayed")
    train.add_argument("--seed", type=int, default=None,
                       help="seed for initialisation and shuffling: the run becomes reproducible")
    train.add_argument("--data-dir", type=Path, help="folder with the four Fashion-MNIST IDX files")
    train.add_argument("--out", type=Path, help="output folder (runs/<timestamp>/)")

    evaluate = sub.add_parser("evaluate", parents=[common],
                              help="test accuracy, per class, and the confusion matrix",
                              description="Evaluate a saved model on the 10,000 test images.")
    evaluate.add_argument("model", type=Path, help="a model.npz written by 'train'")
    evaluate.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST test files")
    evaluate.add_argument("--out", type=Path,
                          help="confusion-matrix PNG (confusion_matrix.png beside the model)")

    predict = sub.add_parser("predict", parents=[common],
                             help="classify test images or your own image files",
                             description="Show test images with true and predicted labels, or "
                             "classify image files (PNG, JPEG, GIF, BMP, WebP, TIFF, PPM; made "
                             "grey and 28x28).")
    predict.add_argument("model", type=Path, help="a model.npz written by 'train'")
    predict.add_argument("images", nargs="*", type=Path, help="image files to classify")
    predict.add_argument("--n", type=_image_count, default=12,
                         help=f"test images to show (12, at most {MAX_PREDICT})")
    predict.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST test files")
    predict.add_argument("--out", type=Path, help="PNG for the grid (predictions.png beside the model)")
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _training_animator(path: Path, num_epochs: int):
    """The curves of :func:`train_ch3`, drawn only when :meth:`save` is allowed: the
    model and the history are worth more and are saved first."""
    from .plot import Animator

    class DeferredAnimator(Animator):
        allow_save = False

        def save(self, path=None):
            return super().save(path) if self.allow_save else None

    return DeferredAnimator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                            legend=["train loss", "train acc", "test acc"], save_path=path)


def _save_all(saves: Sequence[tuple[str, Callable]]) -> dict[str, Exception]:
    """Run every save, most valuable first; one that fails does not stop the others."""
    failed = {}
    for name, save in saves:
        try:
            save()
        except (OSError, ValueError) as err:
            failed[name] = err
    return failed


def _one_thread_per_op(tf) -> None:
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


def _read_while_importing(data_dir) -> threading.Thread:
    """Read the four data files in a thread, while TensorFlow is imported (the files
    are inflated by zlib, which leaves Python's lock to the import). The arrays are
    kept by :func:`~d2l_softmax.fashion_mnist.read_fashion_mnist` for the loader;
    a problem is left for the loader to find again and report."""
    def read():
        try:
            from .fashion_mnist import find_fashion_mnist, read_fashion_mnist
            folder = find_fashion_mnist(data_dir, download=False)
            for split in ("train", "test"):
                read_fashion_mnist(folder, split)
        except Exception:  # reported by load_data_fashion_mnist, in the main thread
            pass

    thread = threading.Thread(target=read, name="read Fashion-MNIST", daemon=True)
    thread.start()
    return thread


def cmd_train(args) -> int:
    reading = _read_while_importing(args.data_dir)
    import tensorflow as tf

    _one_thread_per_op(tf)

    from . import checkpoint, interrupt
    from .data import load_data_fashion_mnist
    from .files import prepare_folder, resolve_target, write_json
    from .model import SoftmaxRegression, cross_entropy
    from .optim import Updater, cosine_schedule
    from .train import predict_ch3, train_ch3

    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if args.seed is not None:
        tf.random.set_seed(args.seed)
    reading.join()
    train_iter, test_iter = load_data_fashion_mnist(args.batch_size, data_dir=args.data_dir,
                                                    seed=args.seed)
    prepare_folder(out)  # before training: a file in the way, a full or read-only disk
    for name in TRAIN_OUTPUTS:
        resolve_target(out / name)  # a device, a pipe or a folder there is refused
    net = SoftmaxRegression(seed=args.seed)
    print(f"Training softmax regression: {args.epochs} epochs, lr {args.lr}, "
          f"batch size {args.batch_size}, seed {args.seed}")
    animator = _training_animator(out / "training.png", args.epochs)
    schedule = cosine_schedule(args.lr, args.epochs, final_lr=min(1e-4, args.lr)) \
        if args.schedule == "cosine" else None
    history = train_ch3(net, train_iter, test_iter, cross_entropy, args.epochs,
                        Updater(net.params, args.lr), animator=animator, check=False,
                        lr_schedule=schedule)
    settings = {"lr": args.lr, "schedule": args.schedule, "batch_size": args.batch_size,
                "seed": args.seed, "epochs_done": len(history.train_loss), "epochs": args.epochs}
    animator.allow_save = True
    saves = [("model.npz", lambda: checkpoint.save_params(out / "model.npz", net, **settings)),
             ("history.json", lambda: write_json(out / "history.json",
                                                 {**history.as_dict(), "settings": settings})),
             ("training.png", animator.save),
             ("predictions.png", lambda: predict_ch3(net, test_iter, n=12,
                                                     save_path=out / "predictions.png"))]
    with interrupt.StopOnInterrupt():  # a signal now lets the saves finish; a second stops
        failed = _save_all(saves)
    if failed:
        saved = [name for name in TRAIN_OUTPUTS if name not in failed]
        reasons = {name: getattr(err, "reason", None) or str(err) for name, err in failed.items()}
        if len(set(reasons.values())) == 1:
            what = f"{', '.join(failed)} in {out}/: {next(iter(reasons.values()))}"
        else:
            what = f"in {out}/: " + "; ".join(f"{n} ({r})" for n, r in reasons.items())
        _error(f"could not save {what}" + (f"; saved {', '.join(saved)}" if saved else ""))
        return 1
    if history.interrupted or interrupt.received():
        print(f"Stopped early after epoch {len(history.train_loss)}: what was done is saved in {out}/")
        return interrupt.exit_code()
    print(f"Test accuracy {history.test_acc[-1]:.4f}. Saved in {out}/: {', '.join(TRAIN_OUTPUTS)}")
    print(f"Next: {PROG} evaluate {out / 'model.npz'}")
    return 0


def _test_split(data_dir):
    """The test images and labels: only the two test files are needed."""
    from .fashion_mnist import find_fashion_mnist, read_fashion_mnist
    return read_fashion_mnist(find_fashion_mnist(data_dir, splits=("test",)), "test")


def cmd_evaluate(args) -> int:
    import numpy as np
    import tensorflow as tf

    from . import checkpoint
    from .data import scale_pixels
    from .fashion_mnist import TEXT_LABELS
    from .files import resolve_target
    from .metrics import confusion_matrix
    from .plot import plot_confusion_matrix

    out = args.out or args.model.with_name("confusion_matrix.png")
    resolve_target(out)
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

    from . import checkpoint
    from .data import scale_pixels
    from .fashion_mnist import get_fashion_mnist_labels
    from .files import resolve_target
    from .model import softmax
    from .train import predict_ch3

    out = args.out or args.model.with_name("predictions.png")
    if not args.images:
        resolve_target(out)
    net, _ = checkpoint.load_params(args.model, num_inputs=784, num_outputs=10)
    if args.images:  # every file is read (and checked) before anything is printed
        batch = np.stack([checkpoint.read_image(path) for path in args.images])
        probs = softmax(net.logits(batch[..., None])).numpy()
        for path, p in zip(args.images, probs):
            k = int(np.argmax(p))
            print(f"{path}: {get_fashion_mnist_labels([k])[0]} ({float(p[k]):.1%})")
        return 0
    images, labels = _test_split(args.data_dir)
    X = scale_pixels(images[:args.n, ..., None])
    axes = predict_ch3(net, [(X, labels[:args.n])], n=args.n, save_path=out)
    for ax in axes:
        true, pred = ax.get_title().split("\n")
        print(f"{true:>12} -> {pred}{'' if true == pred else '   (wrong)'}")
    print(f"Saved {out}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}

_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}|\[\[[^\]]*\]\]|\[Op:[^\]]*\]( name: \S*)?")


def describe(err: BaseException) -> Optional[str]:
    """The one-line message for an error the command reports without a traceback,
    or None for one that is a bug (it keeps its traceback)."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(err, tf.errors.OpError):
        lines = [line.strip() for line in _TF_NOISE.sub("", err.message or "").splitlines()]
        text = next((line for line in lines if line), type(err).__name__)
        return f"TensorFlow {type(err).__name__}: {text}"
    if isinstance(err, OSError):
        if type(err).__str__ is not OSError.__str__ or err.strerror is None:
            return str(err) or type(err).__name__  # a message of this package, or a bare one
        return f"{err.filename}: {err.strerror}" if err.filename is not None else err.strerror
    if isinstance(err, MemoryError):
        return "out of memory" + (f" ({err})" if str(err) else "")
    engine = sys.modules.get("d2l_softmax.engine")
    known = (ValueError, FloatingPointError) + ((engine.CompileError,) if engine else ())
    if isinstance(err, known):
        return str(err).strip() or type(err).__name__
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        quiet.show_logs()
    from . import interrupt
    interrupt.forget()
    try:
        with interrupt.terminate_as_interrupt():
            return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        code = interrupt.exit_code()
        print(f"{PROG}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as err:
        message = describe(err)
        if message is None:
            raise
        _error(message)
        return 1


def run() -> None:
    """The program (``d2l-softmax``, ``python -m d2l_softmax``): :func:`main`, then exit.

    At exit Python would sweep TensorFlow's million objects in a last garbage
    collection (0.8 s on the README's machine) only to free memory the operating system
    frees anyway: they are frozen instead (``gc.freeze``). Files are closed, streams
    flushed and exit handlers run as usual.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
