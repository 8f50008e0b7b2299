"""Softmax regression from scratch in TensorFlow, as the chapter of Dive into Deep Learning
teaches it. ``import d2l_softmax as d2l`` gives the chapter's helpers under the book's names.

The names are loaded on first use, so ``import d2l_softmax`` (and ``d2l-softmax --help``)
does not import TensorFlow until something needs it.
"""

import importlib

from .io import quiet

quiet.before_tensorflow()

# name -> module that defines it, in the order data flows
_EXPORTS = {
    "book": [
        "Timer",
        "abs",
        "arange",
        "argmax",
        "astype",
        "concat",
        "cos",
        "cosh",
        "exp",
        "eye",
        "float32",
        "int32",
        "linreg",
        "linspace",
        "load_array",
        "matmul",
        "meshgrid",
        "normal",
        "numpy",
        "ones",
        "rand",
        "reduce_sum",
        "reshape",
        "sin",
        "sinh",
        "size",
        "squared_loss",
        "stack",
        "synthetic_data",
        "tanh",
        "tensor",
        "transpose",
        "zeros",
        "evaluate_loss",
    ],
    "io.idx": ["read_idx"],
    "io.fashion_mnist": [
        "DataNotFoundError",
        "TEXT_LABELS",
        "find_fashion_mnist",
        "get_fashion_mnist_labels",
        "read_fashion_mnist",
    ],
    "data": ["load_data_fashion_mnist"],
    "model": [
        "CrossEntropy",
        "SoftmaxRegression",
        "cross_entropy",
        "default_model",
        "net",
        "softmax",
        "softmax_naive",
        "softmax_regression_grad",
    ],
    "metrics": ["Accumulator", "accuracy"],
    "optim": ["AnalyticUpdater", "Updater", "cosine_schedule", "sgd"],
    "engine.loops": ["TrainingDivergedError"],
    "engine.guards": ["CompileError"],
    "train": [
        "History",
        "evaluate_accuracy",
        "make_train_step",
        "predict_ch3",
        "predict_labels",
        "train_ch3",
        "train_epoch_ch3",
    ],
    "plots": ["Animator", "plot", "set_axes", "set_figsize", "show_images"],
    "figures": [
        "confusion_matrix",
        "plot_confusion_matrix",
        "show_probabilities",
        "show_weight_strip",
        "show_weights",
    ],
    "oo_design": [
        "Classifier",
        "DataModule",
        "FashionMNIST",
        "HyperParameters",
        "Module",
        "ProgressBoard",
        "SGD",
        "Trainer",
        "add_to_class",
    ],
    "io.display": ["save_figure", "use_png_display", "use_svg_display"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = {
    "book",
    "data",
    "model",
    "metrics",
    "optim",
    "train",
    "plots",
    "figures",
    "oo_design",
    "engine",
    "io",
    "cli",
}
__all__ = sorted(_MODULE_OF) + ["plt"]
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in _SUBMODULES:  # d2l.plots, d2l.train, d2l.engine ...: imported on first use
        return importlib.import_module(f".{name}", __name__)
    if name == "plt":  # the book's d2l.plt
        return importlib.import_module("matplotlib.pyplot")
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'd2l_softmax' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # found directly next time
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
