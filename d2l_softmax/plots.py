"""The book's plotting helpers: ``plot``, the live training ``Animator`` and image grids.

In a Jupyter kernel the :class:`Animator` redraws one figure in place through an
IPython display handle. Anywhere else it prints one line per point and saves the
figure to a PNG (:mod:`d2l_softmax.io.terminal`). How figures are shown inline (PNG
at 2x, the same bytes for the same figure) is in :mod:`d2l_softmax.io.display`; the
package's own figures of what the model learned are in :mod:`d2l_softmax.figures`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .io.display import as_image, finish, in_notebook, save_figure, set_up_display, subplots
from .io.terminal import close_at_exit, new_plot_file, widened, write_line, ylabel_for

__all__ = ["Animator", "plot", "set_axes", "set_figsize", "show_images"]


def set_figsize(figsize=(3.5, 2.5)) -> None:
    """Set the size (width, height) in inches of the figures pyplot makes from now on."""
    import matplotlib.pyplot as plt

    set_up_display()
    plt.rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Set the labels, limits, scales and legend of matplotlib axes."""
    axes.set_xlabel(xlabel), axes.set_ylabel(ylabel)
    axes.set_xscale(xscale), axes.set_yscale(yscale)
    axes.set_xlim(xlim), axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _has_one_axis(X) -> bool:
    """True for one curve's values: a 1-D array or tensor, or a flat list of numbers."""
    return (hasattr(X, "ndim") and X.ndim == 1) or (
        isinstance(X, list) and len(X) > 0 and not hasattr(X[0], "__len__")
    )


def plot(
    X,
    Y=None,
    xlabel=None,
    ylabel=None,
    legend=None,
    xlim=None,
    ylim=None,
    xscale="linear",
    yscale="linear",
    fmts=("-", "m--", "g-.", "r:"),
    figsize=(3.5, 2.5),
    axes=None,
) -> None:
    """Plot one curve or several, as the book's ``d2l.plot``, on ``axes`` (default:
    pyplot's current axes, cleared first).

    ``plot(Y)`` draws Y against its index; ``plot(X, Y)`` draws Y against X. X and Y
    are each one curve (a 1-D array, tensor or list) or a list of curves; one X is
    shared by every Y. ``fmts`` are the curves' matplotlib formats, in turn.
    """
    import matplotlib.pyplot as plt

    set_figsize(figsize)
    axes = axes if axes is not None else plt.gca()
    if _has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts):
        if len(x):
            axes.plot(x, y, fmt)
        else:
            axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend or [])


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

    def __init__(
        self,
        xlabel=None,
        ylabel=None,
        legend=None,
        xlim=None,
        ylim=None,
        xscale="linear",
        yscale="linear",
        fmts=("-o", "m--s", "g-.^", "r:D"),
        nrows=1,
        ncols=1,
        figsize=(3.5, 2.5),
        *,
        save_path=None,
        verbose: bool = True,
        live: bool | None = None,
        save_every: float | None = 2.0,
    ):
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
        self._saved_at: float | None = None  # time.monotonic() of the last save (or first point)
        self._unsaved = False

    def config_axes(self) -> None:
        xs = [x for row in (self.X or []) for x in row]
        ys = [y for row in (self.Y or []) for y in row]
        ax = self.axes[0]
        set_axes(
            ax,
            self.xlabel,
            self.ylabel or ylabel_for(self.legend),
            widened(self.xlim, xs, self.xscale),
            widened(self.ylim, ys, self.yscale),
            self.xscale,
            self.yscale,
            None,
        )
        if self.legend:  # outside the axes: it never covers a curve
            ax.legend(
                self.legend,
                loc="upper left",
                bbox_to_anchor=(1.02, 1),
                borderaxespad=0,
                frameon=False,
            )

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
                close_at_exit(self)
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
        write_line(f"{label}: " + ", ".join(parts))

    def save(self, path=None) -> Path | None:
        """Write the figure as PNG (atomically) and return its path."""
        if path is None:
            if self.save_path is None:
                self.save_path = new_plot_file()
            path = self.save_path
        self.draw()
        own = Path(path) == self.save_path
        if own:  # tried once: a failed save is the caller's to report, not retried at exit
            self._unsaved = False
        path = save_figure(self.fig, path, dpi=150)
        if own:
            self._saved_at = time.monotonic()
        if self.verbose and not self._announced and not self.live:
            write_line(f"Saving the plot to {path}")
            self._announced = True
        return path

    def close(self) -> None:
        """Save what is not saved yet and forget the display handle; the final figure
        stays on the page or on disk."""
        if self._unsaved and not self.live:
            self.save()
        self._handle = None


def show_images(
    imgs,
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
    *,
    save_path=None,
):
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
    for ax in axes[len(imgs) :]:
        ax.axis("off")
    finish(fig, save_path)
    return axes
