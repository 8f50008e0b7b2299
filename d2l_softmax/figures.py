"""The package's own figures of what the model learned: a confusion matrix, the
weights as images, and the probabilities it gives each class.

The book's plotting helpers (``plot``, ``Animator``, ``show_images``) are in
:mod:`d2l_softmax.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .io.display import as_image, finish, subplots


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted class.

    Both must be integer labels in 0..num_classes-1, one prediction per label.
    """
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    for what, v in (("true labels", y_true), ("predicted labels", y_pred)):
        if v.dtype.kind not in "iu" and v.size:
            raise ValueError(f"{what} must be integers, got dtype {v.dtype}")
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            bad = v[(v < 0) | (v >= num_classes)][0]
            raise ValueError(f"{what}: {bad} is out of range 0..{num_classes - 1}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} true labels but {y_pred.size} predictions")
    flat = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)
    return (
        np.bincount(flat, minlength=num_classes * num_classes)
        .reshape(num_classes, num_classes)
        .astype(np.int32)
    )


def plot_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], *, save_path=None, figsize=(6, 5.5)
):
    """A heat map of a confusion matrix (row: true class, column: predicted)."""
    fig, axes = subplots(1, 1, figsize)
    ax = axes[0, 0]
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    threshold = matrix.max() / 2
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > threshold else "black",
        )
    fig.colorbar(im, ax=ax, shrink=0.8)
    finish(fig, save_path)
    return ax


def _template(ax, w: np.ndarray, bound: float) -> None:
    """One column of W (784,) as a 28x28 image: red raises the class score, blue lowers it."""
    ax.imshow(w.reshape(28, 28), cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.set_xticks([]), ax.set_yticks([])


def show_weights(W, labels: Sequence[str], *, scale: float = 1.5, save_path=None):
    """Each column of W (784, 10) as a 28x28 image: what each class 'looks for'."""
    W = np.asarray(W)
    cols = 5
    rows = -(-W.shape[1] // cols)
    fig, axes = subplots(rows, cols, (cols * scale, rows * scale))
    bound = np.abs(W).max()
    for j, (ax, title) in enumerate(zip(axes.ravel(), labels)):
        _template(ax, W[:, j], bound)
        ax.set_title(title)
    for ax in axes.ravel()[W.shape[1] :]:
        ax.axis("off")
    finish(fig, save_path)
    return axes


def show_weight_strip(
    snapshots: Mapping[int, np.ndarray],
    labels: Sequence[str],
    *,
    scale: float = 0.9,
    save_path=None,
):
    """The templates as training goes: one row per epoch, one column per class.

    ``snapshots`` maps an epoch to a copy of W (784, q) taken after it. Each row has
    its own colour scale, symmetric around 0; its largest |w| is written beside it,
    so the rows show both the shapes forming and the weights growing.
    Returns the axes (rows, q).
    """
    epochs = list(snapshots)
    q = np.asarray(snapshots[epochs[0]]).shape[1]
    fig, axes = subplots(len(epochs), q, (q * scale, len(epochs) * scale + 0.3))
    for row, epoch in zip(axes, epochs):
        W = np.asarray(snapshots[epoch])
        bound = float(np.abs(W).max())
        for j, ax in enumerate(row):
            _template(ax, W[:, j], bound)
        row[0].set_ylabel(f"epoch {epoch}\n|w| ≤ {bound:.2f}", fontsize=8)
    for ax, label in zip(axes[0], labels):
        ax.set_title(label, fontsize=8)
    finish(fig, save_path)
    return axes


def show_probabilities(
    imgs, probs, labels: Sequence[str], y=None, *, ncols: int = 2, save_path=None
):
    """Each image beside a bar chart of the probabilities the model gives each class.

    imgs (n, 28, 28) or (n, 28, 28, 1); probs (n, q), rows summing to 1; labels: the q
    class names; y (n,): the true classes, or None. The predicted class (the longest
    bar) is blue when right and red when wrong; the true class' name is in bold.
    Returns the bar-chart axes (n,).
    """
    probs = np.asarray(probs, dtype=float)
    n, q = probs.shape
    rows = -(-n // ncols)
    fig, axes = subplots(rows, 2 * ncols, (ncols * 4.4, rows * 1.9), width_ratios=[1, 1.6] * ncols)
    pairs = axes.reshape(rows * ncols, 2)
    for i, (img_ax, bar_ax) in enumerate(pairs):
        if i >= n:
            img_ax.axis("off"), bar_ax.axis("off")
            continue
        pred = int(np.argmax(probs[i]))
        right = y is None or pred == int(y[i])
        colors = ["0.75"] * q
        colors[pred] = "tab:blue" if right else "tab:red"
        img_ax.imshow(as_image(imgs[i]), cmap="gray")
        img_ax.axis("off")
        if y is not None:
            img_ax.set_title(f"true: {labels[int(y[i])]}", fontsize=9)
        bar_ax.barh(range(q), probs[i], color=colors)
        bar_ax.set_xlim(0, 1), bar_ax.invert_yaxis()
        bar_ax.set_yticks(range(q), labels, fontsize=8)
        bar_ax.tick_params(axis="x", labelsize=8)
        if y is not None:
            bar_ax.get_yticklabels()[int(y[i])].set_fontweight("bold")
        bar_ax.set_title(f"{labels[pred]} {probs[i, pred]:.0%}", fontsize=9, color=colors[pred])
    finish(fig, save_path)
    return pairs[:n, 1]
