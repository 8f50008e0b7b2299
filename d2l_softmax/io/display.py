"""How figures are shown and saved: inline PNG in Jupyter, files elsewhere.

Inline figures in Jupyter are PNG drawn at twice the size they are shown at
("retina"): they render in JupyterLab, classic Notebook, VS Code and on GitHub, also
in a notebook that is not trusted (which shows no SVG), and the same figure always
gives the same bytes, so re-running a notebook that changes nothing changes no byte.
"""

from __future__ import annotations

import base64
import io
import math
import struct
from pathlib import Path

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


def png_bytes(fig: Figure, dpi: float) -> bytes:
    """``fig`` as a small PNG that depends on the figure alone.

    Cropped to its contents; at most 256 colours (plots have few besides the shades
    of anti-aliased edges, so a palette image looks the same at a third of the
    size); no 'Software' text naming the matplotlib version, no date.
    """
    from PIL import Image

    drawn = io.BytesIO()
    fig.savefig(drawn, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    image = (
        Image.open(drawn)
        .convert("RGB")
        .quantize(256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    )
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def retina_png(fig: Figure):
    """IPython's PNG formatter for figures: drawn at 2x, shown at 1x (sharp on any screen).

    Returns the base64 text and the size to show it at, or None for a figure
    without axes (nothing to show: no blank box).
    """
    if not fig.axes:
        return None
    data = png_bytes(fig, 2 * fig.dpi)
    width, height = struct.unpack(">II", data[16:24])  # from the IHDR chunk
    return base64.b64encode(data).decode("ascii"), {"width": width // 2, "height": height // 2}


_display_ready = False


def use_png_display() -> None:
    """Show inline figures in Jupyter as PNG only: 2x resolution, small, deterministic."""
    global _display_ready
    if in_notebook():
        from IPython import get_ipython
        from matplotlib_inline import backend_inline

        backend_inline.set_matplotlib_formats("png")  # PNG only: no SVG beside it
        formatter = get_ipython().display_formatter.formatters["image/png"]
        formatter.for_type(Figure, retina_png)
        _display_ready = True


def use_svg_display() -> None:
    """The book's name for setting up inline figures; here it calls :func:`use_png_display`.

    Kept so book code runs unchanged. PNG, not SVG: JupyterLab does not show SVG
    outputs of a notebook it does not trust. For SVG anyway, call
    ``matplotlib_inline.backend_inline.set_matplotlib_formats("svg")``.
    """
    use_png_display()


def set_up_display() -> None:
    """:func:`use_png_display` the first time only, so a format chosen later is kept."""
    if not _display_ready:
        use_png_display()


def save_figure(fig: Figure, path, **kwargs) -> Path:
    """Save ``fig`` to ``path`` atomically (see :func:`~d2l_softmax.files.write_atomically`).

    The format follows the suffix (PNG, SVG...).
    """
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    return write_atomically(
        path, lambda f: fig.savefig(f, format=fmt, bbox_inches="tight", **kwargs)
    )


def subplots(rows: int, cols: int, figsize, **kwargs):
    """A pyplot grid of axes (rows, cols), laid out so titles and labels never overlap
    (constrained layout: a two-line title pushes the row below down, not over the
    row above)."""
    import matplotlib.pyplot as plt

    set_up_display()
    return plt.subplots(rows, cols, figsize=figsize, squeeze=False, layout="constrained", **kwargs)


class AxesList(list):
    """The axes of a figure already shown: a list that a notebook does not echo under
    the figure when a cell ends in the call (IPython asks ``_ipython_display_`` first)."""

    def _ipython_display_(self) -> None:
        pass


def finish(fig: Figure, save_path) -> None:
    """Save ``fig`` if asked; outside Jupyter then close it, so it does not linger."""
    if save_path is not None:
        save_figure(fig, save_path, dpi=150)
        if not in_notebook():
            import matplotlib.pyplot as plt

            plt.close(fig)


def as_image(img) -> np.ndarray:
    """One image as a 2-D array (H, W) for grey or (H, W, 3) for colour: (H, W, 1) loses
    its channel, and a square image's flat row (H * W,) is reshaped, as the book
    reshapes one."""
    img = np.asarray(img)
    if img.ndim == 1:
        side = math.isqrt(img.size)
        if side * side != img.size:
            raise ValueError(
                f"images must be (H, W), (H, W, 1), (H, W, 3) or square flat "
                f"rows (H * W,), got shape {img.shape}"
            )
        return img.reshape(side, side)
    return img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
