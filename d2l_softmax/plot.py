"""Plots: the live training animator, image grids, and what the model believes.

In a Jupyter kernel the :class:`Animator` redraws one figure in place through an
IPython display handle. Anywhere else it prints one line per point and saves the
figure to a PNG. How figures are shown inline (PNG at 2x, the same bytes for the
same figure) is in :mod:`d2l_softmax.display`.
"""
from __future__ import annotations

import atexit
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from .display import (as_image, finish, in_notebook, save_figure, set_up_display, subplots,
                      use_png_display, use_svg_display)

__all__ = ["Animator", "in_notebook", "plot_confusion_matrix", "save_figure", "set_axes",
           "show_images", "show_probabilities", "show_weight_strip", "show_weights",
           "use_png_display", "use_svg_display"]


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Set the labels, limits, scales and legend of matplotlib axes."""
    axes.set_xlabel(xlabel), axes.set_ylabel(ylabel)
    axes.set_xscale(xscale), axes.set_yscale(yscale)
    axes.set_xlim(xlim), axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _ylabel_for(legend: Sequence[str]) -> Optional[str]:
    """What the curves measure, from their names: ['train loss', 'test acc'] -> 'loss / acc'."""
    words = list(dict.fromkeys(name.split()[-1] for name in legend if name.split()))
    return " / ".join(words) or None


def _widened(lim: Optional[Sequence[float]], values: Sequence[float]):
    """``lim`` widened just enough that no value falls outside it."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if lim is None or not values:
        return lim
    lo, hi = min(lim[0], min(values)), max(lim[1], max(values))
    if lo == hi:  # a single point: give it room
        return (lo - 0.5, hi + 0.5)
    pad = 0.03 * (hi - lo) if (lo, hi) != tuple(lim) else 0.0
    return (lo - pad if lo < lim[0] else lo, hi + pad if hi > lim[1] else hi)


def _write(line: str) -> None:
    """Print ``line`` above any progress bar on the screen: the bar is cleared, the
    line written, and the bar drawn again below it (a plain print would land on the
    bar's line and leave a stale copy of the bar behind)."""
    from tqdm import tqdm
    tqdm.write(line, file=sys.stdout)


class Animator:
    """Plot data as it arrives: ``animator.add(x, [y1, y2, ...])``.

    The book's Animator, with these changes: the figure is not registered with
    pyplot (no pile of open figures); the axis limits widen so no point is hidden;
    points have markers (one epoch is already visible); the legend sits outside the
    axes, right of them, where it covers no curve; with no ``ylabel`` the y axis names
    what the legend's curves measure. Outside Jupyter it prints each point and saves
    the figure to ``save_path`` (default: a new file in the temporary folder, printed
    once) every ``save_every`` seconds from the first point, and at :meth:`close` (or
    when the program exits, for a script that never calls it): a run shorter than
    that is drawn once, at the end. ``save_every=None`` leaves saving to the caller,
    who calls :meth:`save` when it suits (the command line saves the model first).
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-o", "m--s", "g-.^", "r:D"),
                 nrows=1, ncols=1, figsize=(3.5, 2.5), *, save_path=None,
                 verbose: bool = True, live: Optional[bool] = None,
                 save_every: Optional[float] = 2.0):
        self.legend = list(legend or [])
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.xscale, self.yscale = xscale, yscale
        self.live = in_notebook() if live is None else live
        if self.live:
            set_up_display()
        self.fig = Figure(figsize=figsize)
        self.axes = np.atleast_1d(self.fig.subplots(nrows, ncols)).ravel()
        self.X, self.Y, self.fmts = None, None, fmts
        self.save_path = Path(save_path) if save_path is not None else None
        self.verbose, self.save_every = verbose, save_every
        self._handle = None
        self._announced = False
        self._saved_at: Optional[float] = None  # time.monotonic() of the last save (or first point)
        self._unsaved = False

    def config_axes(self) -> None:
        xs = [x for row in (self.X or []) for x in row]
        ys = [y for row in (self.Y or []) for y in row]
        ax = self.axes[0]
        set_axes(ax, self.xlabel, self.ylabel or _ylabel_for(self.legend),
                 _widened(self.xlim, xs), _widened(self.ylim, ys), self.xscale, self.yscale,
                 None)
        if self.legend:  # outside the axes: it never covers a curve
            ax.legend(self.legend, loc="upper left", bbox_to_anchor=(1.02, 1),
                      borderaxespad=0, frameon=False)

    def add(self, x, y) -> None:
        """Add one point per line: ``y`` a number or a sequence, ``x`` shared or one each."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(float(b))
        if self.live:
            self.draw()
            self._show()
        else:  # drawn when saved
            if self.verbose:
                self._print_point(x, y)
            if self.save_every is None:  # the caller saves
                return
            self._unsaved = True
            now = time.monotonic()
            if self._saved_at is None:
                self._saved_at = now  # the clock starts at the first point
                atexit.register(_close_at_exit, weakref.ref(self))
            if now - self._saved_at >= self.save_every:
                self.save()

    def draw(self) -> None:
        self.axes[0].cla()
        for x, y, fmt in zip(self.X or [], self.Y or [], self.fmts):
            self.axes[0].plot(x, y, fmt, markersize=4, clip_on=False)  # limits hold every point
        self.config_axes()

    def _show(self) -> None:
        from IPython import display
        if self._handle is None:
            self._handle = display.display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)

    def _print_point(self, x, y) -> None:
        names = self.legend or [f"y{i}" for i in range(len(y))]
        parts = [f"{name} {float(v):.4f}" for name, v in zip(names, y) if v is not None]
        label = f"{self.xlabel or 'x'} {x[0]:g}"
        _write(f"{label}: " + ", ".join(parts))

    def save(self, path=None) -> Optional[Path]:
        """Write the figure as PNG (atomically) and return its path."""
        if path is None:
            if self.save_path is None:
                folder = Path(tempfile.gettempdir()) / "d2l_softmax-plots"
                self.save_path = folder / time.strftime("animator-%Y%m%d-%H%M%S.png")
            path = self.save_path
        self.draw()
        own = Path(path) == self.save_path
        if own:  # tried once: a failed save is the caller's to report, not retried at exit
            self._unsaved = False
        path = save_figure(self.fig, path, dpi=150)
        if own:
            self._saved_at = time.monotonic()
        if self.verbose and not self._announced and not self.live:
            _write(f"Saving the plot to {path}")
            self._announced = True
        return path

    def close(self) -> None:
        """Save what is not saved yet and forget the display handle; the final figure
        stays on the page or on disk."""
        if self._unsaved and not self.live:
            self.save()
        self._handle = None


def _close_at_exit(animator: "weakref.ref[Animator]") -> None:
    """Save the last points of an animator still alive when the program ends."""
    alive = animator()
    if alive is not None:
        try:
            alive.close()
        except Exception as err:  # an exit is no place for a traceback
            print(f"could not save the plot: {err}", file=sys.stderr)


def show_images(imgs, num_rows: int, num_cols: int, titles: Optional[Sequence[str]] = None,
                scale: float = 1.5, *, save_path=None):
    """Plot a grid of images (N, H, W) with optional titles; return the axes (flat).

    In Jupyter the figure shows in the cell; with ``save_path`` it is saved as well,
    and outside Jupyter it is then closed so it does not linger.
    """
    fig, axes = subplots(num_rows, num_cols, (num_cols * scale, num_rows * scale))
    axes = axes.ravel()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        img = as_image(img)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
    for ax in axes[len(imgs):]:
        ax.axis("off")
    finish(fig, save_path)
    return axes


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], *, save_path=None,
                          figsize=(6, 5.5)):
    """A heat map of a confusion matrix (row: true class, column: predicted)."""
    fig, axes = subplots(1, 1, figsize)
    ax = axes[0, 0]
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    threshold = matrix.max() / 2
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > threshold else "black")
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
    for ax in axes.ravel()[W.shape[1]:]:
        ax.axis("off")
    finish(fig, save_path)
    return axes


def show_weight_strip(snapshots: Mapping[int, np.ndarray], labels: Sequence[str], *,
                      scale: float = 0.9, save_path=None):
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


def show_probabilities(imgs, probs, labels: Sequence[str], y=None, *, ncols: int = 2,
                       save_path=None):
    """Each image beside a bar chart of the probabilities the model gives each class.

    imgs (n, 28, 28) or (n, 28, 28, 1); probs (n, q), rows summing to 1; labels: the q
    class names; y (n,): the true classes, or None. The predicted class (the longest
    bar) is blue when right and red when wrong; the true class' name is in bold.
    Returns the bar-chart axes (n,).
    """
    probs = np.asarray(probs, dtype=float)
    n, q = probs.shape
    rows = -(-n // ncols)
    fig, axes = subplots(rows, 2 * ncols, (ncols * 4.4, rows * 1.9),
                          width_ratios=[1, 1.6] * ncols)
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
        bar_ax.set_title(f"{labels[pred]} {probs[i, pred]:.0%}", fontsize=9,
                         color=colors[pred])
    finish(fig, save_path)
    return pairs[:n, 1]
