"""The command line: ``d2l-softmax train | evaluate | predict`` (also ``python -m d2l_softmax``).

Exit codes: 0 success, 1 failure (one line on stderr, no traceback), 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

PROG = "d2l-softmax"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(
        "Softmax regression from scratch on Fashion-MNIST (Dive into Deep Learning, ch. 3)."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    train = sub.add_parser("train", help="train the chapter's model and save the results",
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

    evaluate = sub.add_parser("evaluate", help="test accuracy, per class, and the confusion matrix",
                              description="Evaluate a saved model on the 10,000 test images.")
    evaluate.add_argument("model", type=Path, help="a model.npz written by 'train'")
    evaluate.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST files")
    evaluate.add_argument("--out", type=Path,
                          help="confusion-matrix PNG (confusion_matrix.png beside the model)")

    predict = sub.add_parser("predict", help="classify test images or your own image files",
                             description="Show test images with true and predicted labels, or "
                             "classify image files (28x28 grey, others are converted).")
    predict.add_argument("model", type=Path, help="a model.npz written by 'train'")
    predict.add_argument("images", nargs="*", type=Path, help="image files to classify")
    predict.add_argument("--n", type=_positive_int, default=12, help="test images to show (12)")
    predict.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST files")
    predict.add_argument("--out", type=Path, help="PNG for the grid (predictions.png beside the model)")
    return parser


def cmd_train(args) -> int:
    import tensorflow as tf

    from . import checkpoint
    from .data import load_data_fashion_mnist
    from .files import write_json
    from .model import SoftmaxRegression, cross_entropy
    from .optim import Updater, cosine_schedule
    from .train import predict_ch3, train_ch3

    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if args.seed is not None:
        tf.random.set_seed(args.seed)
    train_iter, test_iter = load_data_fashion_mnist(args.batch_size, data_dir=args.data_dir,
                                                    seed=args.seed)
    net = SoftmaxRegression(seed=args.seed)
    print(f"Training softmax regression: {args.epochs} epochs, lr {args.lr}, "
          f"batch size {args.batch_size}, seed {args.seed}")
    history = train_ch3(net, train_iter, test_iter, cross_entropy, args.epochs,
                        Updater(net.params, args.lr), plot_path=out / "training.png", check=False,
                        lr_schedule=cosine_schedule(args.lr, args.epochs)
                        if args.schedule == "cosine" else None)
    settings = {"lr": args.lr, "schedule": args.schedule, "batch_size": args.batch_size, "seed": args.seed,
                "epochs_done": len(history.train_loss), "epochs": args.epochs}
    model_path = checkpoint.save_params(out / "model.npz", net, **settings)
    write_json(out / "history.json", {**history.as_dict(), "settings": settings})
    predict_ch3(net, test_iter, n=12, save_path=out / "predictions.png")
    if history.interrupted:
        print(f"Stopped early after epoch {len(history.train_loss)}: what was done is saved in {out}/")
        return 130
    print(f"Test accuracy {history.test_acc[-1]:.4f}. Saved in {out}/: model.npz, history.json, "
          "training.png, predictions.png")
    print(f"Next: {PROG} evaluate {model_path}")
    return 0


def cmd_evaluate(args) -> int:
    import numpy as np
    import tensorflow as tf

    from . import checkpoint
    from .data import TEXT_LABELS, find_fashion_mnist, read_fashion_mnist
    from .metrics import confusion_matrix
    from .plot import plot_confusion_matrix

    net, _ = checkpoint.load_params(args.model, num_inputs=784, num_outputs=10)
    images, labels = read_fashion_mnist(find_fashion_mnist(args.data_dir), "test")
    X = tf.constant(images[..., None], tf.float32) / 255.0
    preds = tf.argmax(net.logits(X), axis=1).numpy()
    matrix = confusion_matrix(labels, preds)
    per_class = matrix.diagonal() / matrix.sum(axis=1)
    print(f"test accuracy {np.mean(preds == labels):.4f} on {len(labels)} images\n")
    width = max(map(len, TEXT_LABELS))
    print(f"{'class':>{width}}  accuracy")
    for name, acc in zip(TEXT_LABELS, per_class):
        print(f"{name:>{width}}  {acc:.4f}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    print(" " * (width + 1) + " ".join(f"{i:>5d}" for i in range(10)))
    for name, row in zip(TEXT_LABELS, matrix):
        print(f"{name:>{width}} " + " ".join(f"{v:>5d}" for v in row))
    out = args.out or args.model.with_name("confusion_matrix.png")
    plot_confusion_matrix(matrix, TEXT_LABELS, save_path=out)
    print(f"\nSaved {out}")
    return 0


def cmd_predict(args) -> int:
    import tensorflow as tf

    from . import checkpoint
    from .data import get_fashion_mnist_labels, load_data_fashion_mnist
    from .model import softmax
    from .train import predict_ch3

    net, _ = checkpoint.load_params(args.model, num_inputs=784, num_outputs=10)
    if args.images:
        for path in args.images:
            probs = softmax(net.logits(checkpoint.load_image(path)))[0]
            k = int(tf.argmax(probs))
            print(f"{path}: {get_fashion_mnist_labels([k])[0]} ({float(probs[k]):.1%})")
        return 0
    _, test_iter = load_data_fashion_mnist(args.n, data_dir=args.data_dir)
    out = args.out or args.model.with_name("predictions.png")
    axes = predict_ch3(net, test_iter, n=args.n, save_path=out)
    for ax in axes:
        true, pred = ax.get_title().split("\n")
        print(f"{true:>12} -> {pred}{'' if true == pred else '   (wrong)'}")
    print(f"Saved {out}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DataNotFoundError
    from .engine import TrainingDivergedError
    try:
        return COMMANDS[args.command](args)
    except (DataNotFoundError, FileNotFoundError, ValueError, TrainingDivergedError) as err:
        message = str(err).strip()
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
