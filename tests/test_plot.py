import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np

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
