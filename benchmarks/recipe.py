"""The chapter's recipe, as every way of the benchmark trains it, and the data it reads."""

from __future__ import annotations

import d2l_softmax as d2l

LR, BATCH, EPOCHS = 0.1, 256, 10  # EPOCHS is read at run time: the quick mode sets 2
HIDDEN = 256  # the MLP's hidden units


def arrays(folder) -> list:
    """[(train images, labels), (test images, labels)] as uint8 NumPy arrays."""
    return [d2l.read_fashion_mnist(folder, split) for split in ("train", "test")]
