"""Training's progress bar in a terminal: redrawn over itself, gone when training ends."""

import os
import re
import select
import subprocess
import sys
import time

import pytest

# What a terminal shows is not what was written to it: "\r" goes back to the start of the
# line, and a progress bar is redrawn over itself. Train in a pseudo-terminal and replay
# its output, as far as one bar and plain lines need.
TRAIN_IN_A_TERMINAL = """
import sys
import d2l_softmax as d2l
import numpy as np
import tensorflow as tf
rng = np.random.default_rng(0)
y = rng.integers(0, 10, 64).astype(np.int32)
X = rng.random((64, 28, 28, 1)).astype(np.float32) * 0.1
X[np.arange(64), 2 * y, :, 0] = 1.0  # class k lights up row 2k
batches = [(tf.constant(X[i:i + 16]), tf.constant(y[i:i + 16])) for i in range(0, 64, 16)]
net = d2l.SoftmaxRegression(seed=0)
d2l.train_ch3(net, batches, batches, d2l.cross_entropy, 3, d2l.Updater(net.params, 0.5),
              check=False, plot_path=sys.argv[1])
print("done")
"""


def _run_in_a_terminal(args, timeout=120, rows=40, cols=120) -> str:
    """Run ``args`` with a pseudo-terminal as stdin, stdout and stderr; return all it wrote."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    written, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                written += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, written.decode(errors="replace")
    return written.decode()


def _screen(written: str) -> list:
    """The lines a terminal shows after ``written``: "\\r" returns to column 0, "\\n"
    goes to the next line, text overwrites what is under it."""
    written = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", written)  # colours, cursor on and off
    lines, row, col = [[]], 0, 0
    for ch in written:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append([])
        else:
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = ch
            col += 1
    return ["".join(line).rstrip() for line in lines]


def test_screen_replays_carriage_returns():
    assert _screen("bar 0%\r      \rline\nbar 50%\rbar 100%\r        \r") == ["line", ""]
    assert _screen("bar 0%line\n") == ["bar 0%line", ""]  # a line written onto the bar


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_bar_leaves_no_stale_line_in_a_terminal(tmp_path):
    path = tmp_path / "t.png"
    written = _run_in_a_terminal([sys.executable, "-c", TRAIN_IN_A_TERMINAL, str(path)])
    assert "training:" in written and "0/3" in written  # a bar was drawn...
    screen = [line for line in _screen(written) if line]
    stale = [line for line in screen if "training:" in line or "%|" in line]
    assert not stale, screen  # ...and is gone
    assert f"Saving the plot to {path}" in screen  # on a line of its own, not on the bar
    assert [line.split(":")[0] for line in screen if line.startswith("epoch")] == [
        "epoch 1",
        "epoch 2",
        "epoch 3",
    ]
    assert screen[-1] == "done"


# The same training, with a Ctrl-C arriving during the second epoch's pass.
STOPPED_IN_A_TERMINAL = TRAIN_IN_A_TERMINAL.replace(
    "net = d2l.SoftmaxRegression(seed=0)",
    """import os, signal
class Interrupted:  # sends SIGINT to this process as its second pass starts
    passes = 0
    def __iter__(self):
        Interrupted.passes += 1
        if Interrupted.passes == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return iter(batches)
net = d2l.SoftmaxRegression(seed=0)""",
).replace("d2l.train_ch3(net, batches,", "d2l.train_ch3(net, Interrupted(),")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_interrupted_message_is_a_line_of_its_own_in_a_terminal(tmp_path):
    path = tmp_path / "t.png"
    assert "Interrupted()" in STOPPED_IN_A_TERMINAL
    written = _run_in_a_terminal([sys.executable, "-c", STOPPED_IN_A_TERMINAL, str(path)])
    screen = [line for line in _screen(written) if line]
    assert not [line for line in screen if "training:" in line or "%|" in line], screen
    message = "Training interrupted after epoch 2; the parameters and history so far are kept."
    assert message in screen  # on a line of its own, not written onto the bar
    assert [line.split(":")[0] for line in screen if line.startswith("epoch")] == [
        "epoch 1",
        "epoch 2",
    ]
    assert screen[-1] == "done"
