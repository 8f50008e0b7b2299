"""The book's 1.0 edition on Keras 3: a ``Module`` (model), a ``DataModule``, a ``Trainer``.

:mod:`.framework` holds the framework the 1.0 edition builds first, :mod:`.classification`
the classification chapter's classes on it.
"""

from .classification import Classifier, FashionMNIST, SoftmaxRegression
from .framework import (
    SGD,
    DataModule,
    HyperParameters,
    Module,
    ProgressBoard,
    Trainer,
    add_to_class,
)

__all__ = [
    "SGD",
    "Classifier",
    "DataModule",
    "FashionMNIST",
    "HyperParameters",
    "Module",
    "ProgressBoard",
    "SoftmaxRegression",
    "Trainer",
    "add_to_class",
]
