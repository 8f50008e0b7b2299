"""Plots: the live training animator, image grids, and files written safely.

In a Jupyter kernel (classic, JupyterLab, VS Code) the :class:`Animator` redraws
one figure in place through an IPython display handle. Anywhere else it prints
one line per point and saves the figure to a PNG.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from .files import write_atomically


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures can be displayed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def use_svg_display() -> None:
    """Use SVG for inline figures in Jupyter (sharp at any zoom)."""
    if in_notebook():
        from matplotlib_inline import backend_inline
        backend_inline.set_matplotlib_formats("svg")


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Set the labels, limits, scales and legend of matplotlib axes."""
    axes.set_xlabel(xlabel), axes.set_ylabel(ylabel)
    axes.set_xscale(xscale), axes.set_yscale(yscale)
    axes.set_xlim(xlim), axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def save_figure(fig: Figure, path, **kwargs) -> Path:
    """Save ``fig`` to ``path`` atomically (see :func:`~d2l_softmax.files.write_atomically`).

    The format follows the suffix (PNG, SVG...).
    """
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    return write_atomically(path, lambda f: fig.savefig(f, format=fmt, bbox_inches="tight",
                                                        **kwargs))


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


class Animator:
    """Plot data as it arrives: ``animator.add(x, [y1, y2, ...])``.

    The book's Animator, with three changes: the figure is not registered with
    pyplot (no pile of open figures), the axis limits widen so no point is hidden,
    and outside Jupyter it prints each point and saves the figure to ``save_path``
    (default: a new file in the temporary folder, printed once): at the first point,
    then at most every ``save_every`` seconds, and at :meth:`close`.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 nrows=1, ncols=1, figsize=(3.5, 2.5), *, save_path=None,
                 verbose: bool = True, live: Optional[bool] = None,
                 save_every: float = 2.0):
        self.legend = list(legend or [])
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.xscale, self.yscale = xscale, yscale
        self.live = in_notebook() if live is None else live
        if self.live:
            use_svg_display()
        self.fig = Figure(figsize=figsize)
        self.axes = np.atleast_1d(self.fig.subplots(nrows, ncols)).ravel()
        self.X, self.Y, self.fmts = None, None, fmts
        self.save_path = Path(save_path) if save_path is not None else None
        self.verbose, self.save_every = verbose, save_every
        self._handle = None
        self._announced = False
        self._saved_at: Optional[float] = None  # time.monotonic() of the last save
        self._unsaved = False

    def config_axes(self) -> None:
        xs = [x for row in (self.X or []) for x in row]
        ys = [y for row in (self.Y or []) for y in row]
        set_axes(self.axes[0], self.xlabel, self.ylabel, _widened(self.xlim, xs),
                 _widened(self.ylim, ys), self.xscale, self.yscale, self.legend)

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
            self._unsaved = True
            if self._saved_at is None or time.monotonic() - self._saved_at >= self.save_every:
                self.save()

    def draw(self) -> None:
        self.axes[0].cla()
        for x, y, fmt in zip(self.X or [], self.Y or [], self.fmts):
            self.axes[0].plot(x, y, fmt)
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
        from tqdm import tqdm  # writes above any progress bar on the screen
        tqdm.write(f"{label}: " + ", ".join(parts), file=sys.stdout)

    def save(self, path=None) -> Optional[Path]:
        """Write the figure as PNG (atomically) and return its path."""
        if path is None:
            if self.save_path is None:
                folder = Path(tempfile.gettempdir()) / "d2l_softmax-plots"
                self.save_path = folder / time.strftime("animator-%Y%m%d-%H%M%S.png")
            path = self.save_path
        self.draw()
        own = Path(path) == self.save_path
        path = save_figure(self.fig, path, dpi=150)
        if own:
            self._saved_at, self._unsaved = time.monotonic(), False
        if self.verbose and not self._announced and not self.live:
            print(f"Saving the plot to {path}")
            self._announced = True
        return path

    def close(self) -> None:
        """Save what is not saved yet and forget the display handle; the final figure
        stays on the page or on disk."""
        if self._unsaved and not self.live:
            self.save()
        self._handle = None


def show_images(imgs, num_rows: int, num_cols: int, titles: Optional[Sequence[str]] = None,
                scale: float = 1.5, *, save_path=None):
    """Plot a grid of images (N, H, W) with optional titles; return the axes (flat).

    In Jupyter the figure shows in the cell; with ``save_path`` it is saved as well,
    and outside Jupyter it is then closed so it does not linger.
    """
    import matplotlib.pyplot as plt
    use_svg_display()
    figsize = (num_cols * scale, num_rows * scale)
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.ravel()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
    for ax in axes[len(imgs):]:
        ax.axis("off")
    if save_path is not None:
        save_figure(fig, save_path, dpi=150)
        if not in_notebook():
            plt.close(fig)
    return axes


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], *, save_path=None,
                          figsize=(6, 5.5)):
    """A heat map of a confusion matrix (row: true class, column: predicted)."""
    import matplotlib.pyplot as plt
    use_svg_display()
    fig, ax = plt.subplots(figsize=figsize)
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    threshold = matrix.max() / 2
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > threshold else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    if save_path is not None:
        save_figure(fig, save_path, dpi=150)
        if not in_notebook():
            plt.close(fig)
    return ax


def show_weights(W, labels: Sequence[str], *, scale: float = 1.5, save_path=None):
    """Each column of W (784, 10) as a 28x28 image: what each class 'looks for'."""
    W = np.asarray(W)
    templates = [W[:, j].reshape(28, 28) for j in range(W.shape[1])]
    import matplotlib.pyplot as plt
    use_svg_display()
    cols = 5
    rows = -(-len(templates) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * scale, rows * scale), squeeze=False)
    bound = np.abs(W).max()
    for ax, img, title in zip(axes.ravel(), templates, labels):
        ax.imshow(img, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(title)
        ax.axis("off")
    if save_path is not None:
        save_figure(fig, save_path, dpi=150)
        if not in_notebook():
            plt.close(fig)
    return axes
