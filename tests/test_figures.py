"""The package's own figures: what each one draws, checked on the artists."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import d2l_softmax as d2l
from d2l_softmax import figures

PNG = b"\x89PNG\r\n\x1a\n"


def _probabilities(n=5, q=10, seed=0):
    logits = np.random.default_rng(seed).normal(scale=3, size=(n, q))
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_weights_and_confusion_plots(tmp_path):
    W = np.random.default_rng(0).normal(size=(784, 10))
    axes = d2l.show_weights(W, d2l.TEXT_LABELS, save_path=tmp_path / "w.png")
    assert [ax.get_title() for ax in axes.ravel()] == list(d2l.TEXT_LABELS)
    m = d2l.confusion_matrix([0, 1, 2], [0, 2, 2], num_classes=10)
    d2l.plot_confusion_matrix(m, d2l.TEXT_LABELS, save_path=tmp_path / "c.png")
    assert (tmp_path / "w.png").read_bytes()[:8] == PNG == (tmp_path / "c.png").read_bytes()[:8]


def test_show_probabilities_marks_prediction_and_truth(tmp_path):
    probs = _probabilities()
    y = probs.argmax(1).copy()
    y[1] = (y[1] + 1) % 10  # one mistake
    axes = figures.show_probabilities(
        np.zeros((5, 28, 28, 1)), probs, d2l.TEXT_LABELS, y, save_path=tmp_path / "p.png"
    )
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
    axes = figures.show_weight_strip(snapshots, d2l.TEXT_LABELS, save_path=tmp_path / "s.png")
    assert axes.shape == (4, 10)
    assert [ax.get_title() for ax in axes[0]] == list(d2l.TEXT_LABELS)
    assert [ax.get_ylabel().split("\n")[0] for ax in axes[:, 0]] == [
        "epoch 1",
        "epoch 2",
        "epoch 5",
        "epoch 10",
    ]
    for row, W in zip(axes, snapshots.values()):  # each row: its own scale, symmetric around 0
        assert row[3].get_images()[0].get_clim() == pytest.approx((-abs(W).max(), abs(W).max()))
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    plt.close("all")
