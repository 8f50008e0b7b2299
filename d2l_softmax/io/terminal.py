"""Training in a terminal: the progress bar, and the :class:`~d2l_softmax.plots.Animator`
outside Jupyter, and the limits of its axes.

In a terminal the animator prints each point above the progress bar and saves its figure
to a PNG file of its own, now and then and when the program ends.
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def ylabel_for(legend: Sequence[str]) -> str | None:
    """What the curves measure, from their names: ['train loss', 'test acc'] -> 'loss / acc'."""
    words = list(dict.fromkeys(name.split()[-1] for name in legend if name.split()))
    return " / ".join(words) or None


def widened(lim: Sequence[float] | None, values: Sequence[float], scale: str = "linear"):
    """``lim`` widened just enough that no value falls outside it. On a log scale the
    room is measured in decades, and values <= 0 (which it cannot show) are left out."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if scale == "log":
        if lim is None or lim[0] <= 0 or lim[1] <= 0:
            return lim  # matplotlib's own limits
        values = [v for v in values if v > 0]
        decades = widened([math.log10(v) for v in lim], [math.log10(v) for v in values])
        return tuple(10.0**v for v in decades)
    if lim is None or not values:
        return lim
    lo, hi = min(lim[0], min(values)), max(lim[1], max(values))
    if lo == hi:  # a single point: give it room
        return (lo - 0.5, hi + 0.5)
    pad = 0.03 * (hi - lo) if (lo, hi) != tuple(lim) else 0.0
    return (lo - pad if lo < lim[0] else lo, hi + pad if hi > lim[1] else hi)


def write_line(line: str) -> None:
    """Print ``line`` above any progress bar on the screen: the bar is cleared, the
    line written, and the bar drawn again below it (a plain print would land on the
    bar's line and leave a stale copy of the bar behind)."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)


def epoch_bar(epochs: range, *, hidden: bool = False):
    """``epochs``, iterated under a progress bar on standard output when it is a terminal
    (none when ``hidden``, as in Jupyter, where the plot shows the progress)."""
    from tqdm import tqdm

    return tqdm(
        epochs,
        total=epochs.stop - epochs.start,  # len(epochs) overflows past 2**63 epochs
        desc="training",
        unit="epoch",
        leave=False,
        file=sys.stdout,
        disable=True if hidden else None,
    )  # None: no bar when not a terminal


def new_plot_file() -> Path:
    """A new, empty PNG file in the temporary folder, named by the time: an animator's
    own, which no other animator (in this program or another) is given."""
    folder = Path(tempfile.gettempdir()) / "d2l_softmax-plots"
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=time.strftime("animator-%Y%m%d-%H%M%S-"), suffix=".png", dir=folder
    )
    os.close(fd)
    return Path(name)


def close_at_exit(animator) -> None:
    """Have ``animator`` closed (its last points saved) when the program ends, if it is
    still alive then."""
    atexit.register(_close_if_alive, weakref.ref(animator))


def _close_if_alive(animator: weakref.ref) -> None:
    alive = animator()
    if alive is not None:
        try:
            alive.close()
        except Exception as err:  # an exit is no place for a traceback
            print(f"could not save the plot: {err}", file=sys.stderr)
