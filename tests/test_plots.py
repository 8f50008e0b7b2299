"""The Animator and show_images as the book draws them, and the PNGs Jupyter is shown."""

import base64
import io
import subprocess
import sys
import tempfile
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

import d2l_softmax as d2l
from d2l_softmax.io import display

PNG = b"\x89PNG\r\n\x1a\n"


def test_animator_in_a_script_prints_lines_and_writes_png(tmp_path):
    script = textwrap.dedent(f"""
        import d2l_softmax as d2l
        a = d2l.Animator(xlabel="epoch", xlim=[1, 3], ylim=[0.3, 0.9],
                         legend=["train loss", "test acc"], save_path={str(tmp_path / "a.png")!r})
        for epoch, (l, acc) in enumerate([(1.7, 0.6), (0.6, 0.8), (0.4, 0.85)], 1):
            a.add(epoch, (l, acc))
        import matplotlib.pyplot as plt
        print("open figures", len(plt.get_fignums()))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert "<Figure" not in out and "\x1b[" not in out
    lines = out.splitlines()
    assert "epoch 1: train loss 1.7000, test acc 0.6000" in lines
    assert f"Saving the plot to {tmp_path / 'a.png'}" in lines
    assert "open figures 0" in lines
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG  # saved at exit: no close() here
    # ... with every point: the same as an animator closed by hand draws
    b = d2l.Animator(
        xlabel="epoch",
        xlim=[1, 3],
        ylim=[0.3, 0.9],
        legend=["train loss", "test acc"],
        save_path=tmp_path / "b.png",
        verbose=False,
    )
    for epoch, (l, acc) in enumerate([(1.7, 0.6), (0.6, 0.8), (0.4, 0.85)], 1):
        b.add(epoch, (l, acc))
    b.close()
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_animators_without_a_path_never_share_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    paths = []
    for y in (0.5, 0.7):  # two runs in the same second
        a = d2l.Animator(legend=["acc"], verbose=False)
        a.add(1, y)
        paths.append(a.save())
    assert (
        paths[0] != paths[1]
        and paths[0].parent == paths[1].parent == tmp_path / "d2l_softmax-plots"
    )
    assert all(p.read_bytes()[:8] == PNG for p in paths)
    assert paths[0].read_bytes() != paths[1].read_bytes()


def test_animator_limits_widen_to_show_every_point(tmp_path):
    a = d2l.Animator(xlim=[1, 2], ylim=[0.3, 0.9], save_path=tmp_path / "a.png", verbose=False)
    a.add(1, [1.4, 0.2])
    a.add(2, [0.5, 0.8])
    a.close()  # outside Jupyter the figure is drawn when it is saved
    lo, hi = a.axes[0].get_ylim()
    assert lo < 0.2 and hi > 1.4
    a = d2l.Animator(xlim=[1, 2], ylim=[0.3, 0.9], save_path=tmp_path / "b.png", verbose=False)
    a.add(1, [0.5, 0.6])
    a.close()
    assert a.axes[0].get_ylim() == (0.3, 0.9)  # the book's limits where the data fits


def test_animator_limits_widen_in_decades_on_a_log_scale(tmp_path, recwarn):
    """The underfit/overfit chapter's Animator (log y, ylim [1e-3, 1e2]): a loss below
    1e-3 widens the limit by a fraction of a decade, to a positive number (a linear pad
    went below 0, which matplotlib refused with a warning and ignored)."""
    a = d2l.Animator(
        xlim=[1, 400],
        ylim=[1e-3, 1e2],
        yscale="log",
        legend=["train", "test"],
        save_path=tmp_path / "a.png",
        verbose=False,
    )
    a.add(1, (50.0, 60.0))
    a.add(20, (5e-4, 0.0))  # 0 cannot be shown on a log axis: left out
    a.close()
    lo, hi = a.axes[0].get_ylim()
    assert 1e-4 < lo < 5e-4 and hi == pytest.approx(1e2)
    assert [str(w.message) for w in recwarn if "lim" in str(w.message)] == []


def test_show_images_one_by_one_and_grid(tmp_path):
    imgs = np.random.default_rng(0).random((1, 28, 28))
    axes = d2l.show_images(imgs, 1, 1, titles=["one"], save_path=tmp_path / "one.png")
    assert len(axes) == 1 and axes[0].get_title() == "one"
    axes = d2l.show_images(np.zeros((5, 28, 28, 1)), 2, 3)
    assert len(axes) == 6 and not axes[5].axison
    plt.close("all")


def test_animator_saves_at_most_every_save_every_seconds_and_at_close(tmp_path):
    path = tmp_path / "a.png"
    a = d2l.Animator(xlim=[1, 3], ylim=[0.3, 0.9], save_path=path, verbose=False, save_every=3600)
    a.add(1, [0.5, 0.6])
    a.add(2, [0.4, 0.7])
    assert not path.exists()  # a run shorter than save_every is drawn once, at close
    a.close()
    first = path.read_bytes()
    assert first[:8] == PNG
    a.close()  # nothing left to save: no error, no change
    assert path.read_bytes() == first
    b = d2l.Animator(
        xlim=[1, 3], ylim=[0.3, 0.9], save_path=tmp_path / "b.png", verbose=False, save_every=0
    )
    b.add(1, [0.5, 0.6])
    one = (tmp_path / "b.png").read_bytes()
    b.add(2, [0.4, 0.7])
    assert one[:8] == PNG and (tmp_path / "b.png").read_bytes() != one  # saved at each point
    c = d2l.Animator(
        xlim=[1, 3], ylim=[0.3, 0.9], save_path=tmp_path / "c.png", verbose=False, save_every=None
    )
    for epoch in (1, 2):
        c.add(epoch, [0.5, 0.6])
    c.close()
    assert not (tmp_path / "c.png").exists()  # None: only when the caller says
    assert c.save() == tmp_path / "c.png" and (tmp_path / "c.png").read_bytes()[:8] == PNG


def test_grid_titles_do_not_overlap_the_row_above():
    axes = d2l.show_images(np.zeros((12, 28, 28)), 2, 6, titles=["true\npredicted"] * 12)
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for above, below in zip(axes[:6], axes[6:]):
        assert below.title.get_window_extent(renderer).y1 <= above.get_window_extent(renderer).y0
    plt.close("all")


def test_animator_labels_markers_and_a_legend_beside_the_curves(tmp_path):
    a = d2l.Animator(
        xlabel="epoch",
        xlim=[1, 10],
        ylim=[0.3, 0.9],
        legend=["train loss", "train acc", "test acc"],
        save_path=tmp_path / "a.png",
        verbose=False,
    )
    a.add(1, (0.78, 0.75, 0.79))
    a.close()
    ax = a.axes[0]
    assert ax.get_ylabel() == "loss / acc"
    assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(a.fig).get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert (
        d2l.Animator(
            ylabel="loss", legend=["a loss"], verbose=False, save_path=tmp_path / "b.png"
        ).ylabel
        == "loss"
    )


def _figure(seed=0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(np.random.default_rng(seed).random(10), "o-", label="a")
    ax.imshow(np.random.default_rng(seed).random((8, 8)), extent=(0, 9, 0, 1), cmap="RdBu_r")
    ax.set_title("same bytes")
    ax.legend()
    return fig


def test_inline_png_is_small_deterministic_and_retina():
    fig = _figure()
    first = display.png_bytes(fig, 200)
    assert first[:8] == PNG
    assert display.png_bytes(fig, 200) == first  # the same figure twice
    assert display.png_bytes(_figure(), 200) == first  # and the same figure made again
    assert b"Software" not in first and b"tEXt" not in first and b"tIME" not in first
    assert display.png_bytes(_figure(seed=1), 200) != first
    data, size = display.retina_png(fig)  # what Jupyter gets: drawn at 2x, shown at 1x
    png = base64.b64decode(data)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"  # a palette of at most 256 colours
        assert (size["width"], size["height"]) == (image.width // 2, image.height // 2)
    assert size["width"] <= fig.get_figwidth() * fig.dpi * 1.05


def test_display_set_up_is_harmless_outside_jupyter():
    import matplotlib

    backend, params = matplotlib.get_backend(), dict(matplotlib.rcParams)
    d2l.use_svg_display()  # the book's name: sets up the same PNG display, only in Jupyter
    display.use_png_display()
    assert not display.in_notebook() and not display._display_ready
    assert matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == params
