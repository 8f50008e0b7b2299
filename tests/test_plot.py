import base64
import io
import subprocess
import sys
import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

import d2l_softmax as d2l

PNG = b"\x89PNG\r\n\x1a\n"


def test_animator_in_a_script_prints_lines_and_writes_png(tmp_path):
    script = textwrap.dedent(f"""
        import d2l_softmax as d2l
        a = d2l.Animator(xlabel="epoch", xlim=[1, 3], ylim=[0.3, 0.9],
                         legend=["train loss", "test acc"], save_path={str(tmp_path / 'a.png')!r})
        for epoch, (l, acc) in enumerate([(1.7, 0.6), (0.6, 0.8), (0.4, 0.85)], 1):
            a.add(epoch, (l, acc))
        import matplotlib.pyplot as plt
        print("open figures", len(plt.get_fignums()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert "<Figure" not in out and "\x1b[" not in out
    lines = out.splitlines()
    assert "epoch 1: train loss 1.7000, test acc 0.6000" in lines
    assert f"Saving the plot to {tmp_path / 'a.png'}" in lines
    assert "open figures 0" in lines
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG


def test_animator_limits_widen_to_show_every_point(tmp_path):
    a = d2l.Animator(xlim=[1, 2], ylim=[0.3, 0.9], save_path=tmp_path / "a.png", verbose=False)
    a.add(1, [1.4, 0.2])
    a.add(2, [0.5, 0.8])
    a.close()  # outside Jupyter the figure is drawn when it is saved
    lo, hi = a.axes[0].get_ylim()
    assert lo < 0.2 and hi > 1.4
    a = d2l.Animator(xlim=[1, 2], ylim=[0.3, 0.9], save_path=tmp_path / "b.png", verbose=False)
    a.add(1, [0.5, 0.6])
    assert a.axes[0].get_ylim() == (0.3, 0.9)  # the book's limits where the data fits


def test_show_images_one_by_one_and_grid(tmp_path):
    imgs = np.random.default_rng(0).random((1, 28, 28))
    axes = d2l.show_images(imgs, 1, 1, titles=["one"], save_path=tmp_path / "one.png")
    assert len(axes) == 1 and axes[0].get_title() == "one"
    axes = d2l.show_images(np.zeros((5, 28, 28, 1)), 2, 3)
    assert len(axes) == 6 and not axes[5].axison
    plt.close("all")


def test_weights_and_confusion_plots(tmp_path):
    W = np.random.default_rng(0).normal(size=(784, 10))
    axes = d2l.show_weights(W, d2l.TEXT_LABELS, save_path=tmp_path / "w.png")
    assert [ax.get_title() for ax in axes.ravel()] == list(d2l.TEXT_LABELS)
    m = d2l.confusion_matrix([0, 1, 2], [0, 2, 2], num_classes=10)
    d2l.plot_confusion_matrix(m, d2l.TEXT_LABELS, save_path=tmp_path / "c.png")
    assert (tmp_path / "w.png").read_bytes()[:8] == PNG == (tmp_path / "c.png").read_bytes()[:8]


def test_animator_saves_at_most_every_save_every_seconds_and_at_close(tmp_path):
    path = tmp_path / "a.png"
    a = d2l.Animator(xlim=[1, 3], ylim=[0.3, 0.9], save_path=path, verbose=False,
                     save_every=3600)
    a.add(1, [0.5, 0.6])
    first = path.read_bytes()
    assert first[:8] == PNG  # the first point is saved at once
    a.add(2, [0.4, 0.7])
    assert path.read_bytes() == first  # not again within save_every
    a.close()
    assert path.read_bytes() != first  # the last points are saved at close
    a.close()  # nothing left to save: no error, no change


def _probabilities(n=5, q=10, seed=0):
    logits = np.random.default_rng(seed).normal(scale=3, size=(n, q))
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_show_probabilities_marks_prediction_and_truth(tmp_path):
    probs = _probabilities()
    y = probs.argmax(1).copy()
    y[1] = (y[1] + 1) % 10  # one mistake
    axes = d2l.plot.show_probabilities(np.zeros((5, 28, 28, 1)), probs, d2l.TEXT_LABELS, y,
                                       save_path=tmp_path / "p.png")
    assert len(axes) == 5  # one bar chart per image (the sixth slot stays empty)
    for ax, p, true in zip(axes, probs, y):
        bars = ax.patches
        assert [b.get_width() for b in bars] == pytest.approx(p)
        pred = int(p.argmax())
        assert ax.get_title() == f"{d2l.TEXT_LABELS[pred]} {p[pred]:.0%}"
        colour = "tab:blue" if pred == true else "tab:red"
        assert bars[pred].get_facecolor() == pytest.approx(matplotlib.colors.to_rgba(colour))
        assert ax.get_yticklabels()[true].get_fontweight() == "bold"
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG
    plt.close("all")


def test_show_weight_strip_one_row_per_epoch(tmp_path):
    rng = np.random.default_rng(0)
    snapshots = {e: rng.normal(scale=0.1 * e, size=(784, 10)) for e in (1, 2, 5, 10)}
    axes = d2l.plot.show_weight_strip(snapshots, d2l.TEXT_LABELS, save_path=tmp_path / "s.png")
    assert axes.shape == (4, 10)
    assert [ax.get_title() for ax in axes[0]] == list(d2l.TEXT_LABELS)
    assert [ax.get_ylabel().split("\n")[0] for ax in axes[:, 0]] == \
        ["epoch 1", "epoch 2", "epoch 5", "epoch 10"]
    for row, W in zip(axes, snapshots.values()):  # each row: its own scale, symmetric around 0
        assert row[3].get_images()[0].get_clim() == pytest.approx((-abs(W).max(), abs(W).max()))
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    plt.close("all")


def test_grid_titles_do_not_overlap_the_row_above():
    axes = d2l.show_images(np.zeros((12, 28, 28)), 2, 6, titles=["true\npredicted"] * 12)
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for above, below in zip(axes[:6], axes[6:]):
        assert below.title.get_window_extent(renderer).y1 <= above.get_window_extent(renderer).y0
    plt.close("all")


def test_animator_labels_markers_and_a_legend_beside_the_curves(tmp_path):
    a = d2l.Animator(xlabel="epoch", xlim=[1, 10], ylim=[0.3, 0.9],
                     legend=["train loss", "train acc", "test acc"], save_path=tmp_path / "a.png",
                     verbose=False)
    a.add(1, (0.78, 0.75, 0.79))
    a.close()
    ax = a.axes[0]
    assert ax.get_ylabel() == "loss / acc"
    assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(a.fig).get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert d2l.Animator(ylabel="loss", legend=["a loss"], verbose=False,
                        save_path=tmp_path / "b.png").ylabel == "loss"


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
    first = d2l.plot.png_bytes(fig, 200)
    assert first[:8] == PNG
    assert d2l.plot.png_bytes(fig, 200) == first  # the same figure twice
    assert d2l.plot.png_bytes(_figure(), 200) == first  # and the same figure made again
    assert b"Software" not in first and b"tEXt" not in first and b"tIME" not in first
    assert d2l.plot.png_bytes(_figure(seed=1), 200) != first
    data, size = d2l.plot._retina_png(fig)  # what Jupyter gets: drawn at 2x, shown at 1x
    png = base64.b64decode(data)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"  # a palette of at most 256 colours
        assert (size["width"], size["height"]) == (image.width // 2, image.height // 2)
    assert size["width"] <= fig.get_figwidth() * fig.dpi * 1.05


def test_display_set_up_is_harmless_outside_jupyter():
    d2l.use_svg_display()  # the book's name: sets up the same PNG display, only in Jupyter
    d2l.plot.use_png_display()
