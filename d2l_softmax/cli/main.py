"""The command line: ``d2l-softmax train | evaluate | predict`` (also ``python -m d2l_softmax``).

This module reads the arguments and reports; :mod:`d2l_softmax.commands` does the work.

Exit codes: 0 success, 1 failure (one line on stderr, no traceback), 2 bad usage,
130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM. A run stopped during training
saves what it has done first.
"""

from __future__ import annotations

import argparse
import errno
import gc
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..checks import check_lr, check_positive_int, check_seed
from ..io import quiet
from .commands import COMMANDS, PROG, error

MAX_PREDICT = 1000  # test images in one grid: 125 rows of 8 is already a tall picture


def _checked(parse: Callable, check: Callable, what: str) -> Callable:
    """An argparse type: ``parse`` the text, then ``check`` the value with the library's
    own check (:mod:`d2l_softmax.checks`); a problem in either is a usage error."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value, "the value")
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


_positive_int = _checked(int, check_positive_int, "a positive integer")
_positive_float = _checked(float, check_lr, "a positive number")
_seed = _checked(int, check_seed, "an integer")


def _image_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PREDICT:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_PREDICT} images fit in one grid, got {value}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Softmax regression from scratch on Fashion-MNIST (Dive into Deep Learning, ch. 3)."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose",
        action="store_true",
        help="also show TensorFlow's own log lines (as D2L_SOFTMAX_VERBOSE=1)",
    )

    train = sub.add_parser(
        "train",
        parents=[common],
        help="train the chapter's model and save the results",
        description="Train softmax regression on Fashion-MNIST with minibatch "
        "SGD, print per-epoch numbers and save the model, the history (JSON), "
        "the training curve and a grid of predictions.",
    )
    train.add_argument("--epochs", type=_positive_int, default=10, help="passes over the data (10)")
    train.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (0.1)")
    train.add_argument("--batch-size", type=_positive_int, default=256, help="minibatch size (256)")
    train.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="learning rate per epoch: constant (the chapter) or cosine-decayed",
    )
    train.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="seed for initialisation and shuffling: the run becomes reproducible",
    )
    train.add_argument("--data-dir", type=Path, help="folder with the four Fashion-MNIST IDX files")
    train.add_argument("--out", type=Path, help="output folder (runs/<timestamp>/)")

    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="test accuracy, per class, and the confusion matrix",
        description="Evaluate a saved model on the 10,000 test images.",
    )
    evaluate.add_argument("model", type=Path, help="a model.npz written by 'train'")
    evaluate.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST test files")
    evaluate.add_argument(
        "--out", type=Path, help="confusion-matrix PNG (confusion_matrix.png beside the model)"
    )

    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="classify test images or your own image files",
        description="Show test images with true and predicted labels, or "
        "classify image files (PNG, JPEG, GIF, BMP, WebP, TIFF, PPM; made "
        "grey and 28x28).",
    )
    predict.add_argument("model", type=Path, help="a model.npz written by 'train'")
    predict.add_argument("images", nargs="*", type=Path, help="image files to classify")
    predict.add_argument(
        "--n",
        type=_image_count,
        default=None,
        help=f"test images to show (12, at most {MAX_PREDICT})",
    )
    predict.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST test files")
    predict.add_argument(
        "--out", type=Path, help="PNG for the grid (predictions.png beside the model)"
    )
    return parser


_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}|\[\[[^\]]*\]\]|\[Op:[^\]]*\]( name: \S*)?")


def describe(err: BaseException) -> str | None:
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
    guards = sys.modules.get("d2l_softmax.engine.guards")
    known = (ValueError, FloatingPointError) + ((guards.CompileError,) if guards else ())
    if isinstance(err, known):
        return str(err).strip() or type(err).__name__
    return None


class GuardedOutput:
    """The command's stdout or stderr: a write that fails (the reader of a pipe went away,
    a full device) ends that output, not the work. When stdout fails (``stops``),
    training stops after its epoch, as after a first Ctrl-C, and saves what it has done;
    the last lines go to stderr (:func:`~d2l_softmax.commands.say`). When stderr fails
    too (``2>&1 | head``), they go nowhere. ``failure`` is the error, or None."""

    def __init__(self, stream, *, stops: bool = True):
        self.stream, self.failure, self.stops = stream, None, stops

    def write(self, text: str) -> int:
        if self.failure is None:
            try:
                return self.stream.write(text)
            except OSError as err:
                self._fail(err)
        return len(text)

    def flush(self) -> None:
        if self.failure is None:
            try:
                self.stream.flush()
            except OSError as err:
                self._fail(err)

    def _fail(self, err: OSError) -> None:
        from ..engine import interrupt

        self.failure = err
        if self.stops:
            interrupt.stop_soon()
        try:  # what is left in the buffer, and Python's flush at exit, go nowhere quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "predict" and not any(text.startswith("-") for text in extra):
        args.images += [Path(text) for text in extra]  # IMAGE files after an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "predict":
        if args.images and (args.n is not None or args.out is not None):
            parser.error(
                "--n and --out are for the grid of test images; "
                "with IMAGE files the predictions are printed"
            )
        args.n = 12 if args.n is None else args.n
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parse(argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    if args.verbose:
        quiet.show_logs()
    from ..engine import interrupt

    interrupt.forget()
    # stdout closed (``>&-``): Python has None there; the command runs, printing nowhere
    stdout = sys.stdout = GuardedOutput(
        sys.stdout if sys.stdout is not None else open(os.devnull, "w")
    )
    stderr = sys.stderr = GuardedOutput(
        sys.stderr if sys.stderr is not None else open(os.devnull, "w"), stops=False
    )
    try:
        with interrupt.terminate_as_interrupt():
            code = COMMANDS[args.command](args)
        stdout.flush()  # a closed pipe shows here at the latest, not in Python's exit
        if stdout.failure is not None:
            if stdout.failure.errno != errno.EPIPE:  # a pipe closed by its reader is no error
                error(f"could not write to standard output: {describe(stdout.failure)}")
            return 141 if stdout.failure.errno == errno.EPIPE else 1
        return code
    except KeyboardInterrupt:
        code = interrupt.exit_code()
        print(f"{PROG}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr)
        return code
    except Exception as err:
        message = describe(err)
        if message is None:
            raise
        error(message)
        return 1
    finally:
        sys.stdout, sys.stderr = stdout.stream, stderr.stream


def run() -> None:
    """The program (``d2l-softmax``, ``python -m d2l_softmax``): :func:`main`, then exit.

    At exit Python would sweep TensorFlow's hundreds of thousands of objects in a last
    garbage collection (0.8 s on the README's machine) only to free memory the system
    frees anyway: they are frozen instead (``gc.freeze``). Files are closed, streams
    flushed and exit handlers run as usual.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
