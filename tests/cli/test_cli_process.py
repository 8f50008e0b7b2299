"""The command's own process: one thread per op, and the data read while TensorFlow imports."""

import subprocess
import sys

import tensorflow as tf

from d2l_softmax.cli import commands
from d2l_softmax.cli.main import main

_THREADS = """
import tensorflow as tf
from d2l_softmax.cli.commands import one_thread_per_op
one_thread_per_op(tf)
print(tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


def test_the_command_runs_each_op_on_one_thread_and_gets_the_same_model(small_dir, tmp_path):
    """In a process of its own, ``train`` runs each op on one thread; in a process where
    TensorFlow already runs, its settings stay. The model is the same, byte for byte."""
    out = subprocess.run(
        [sys.executable, "-c", _THREADS], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "1"]
    tf.constant(1.0) + 1  # TensorFlow runs in this process (whichever tests ran before)
    before = tf.config.threading.get_intra_op_parallelism_threads()
    from d2l_softmax.cli.commands import one_thread_per_op

    one_thread_per_op(tf)  # TensorFlow runs here: nothing changes, nothing is raised
    assert tf.config.threading.get_intra_op_parallelism_threads() == before

    from conftest import small_cli

    args = ["train", "--epochs", "2", "--batch-size", "32", "--seed", "3", "--data-dir", small_dir]
    own = small_cli(*args, "--out", tmp_path / "own")
    assert own.wait(timeout=300) == 0, own.stderr.read()
    assert main([*map(str, args), "--out", str(tmp_path / "here")]) == 0
    assert (tmp_path / "own" / "model.npz").read_bytes() == (
        tmp_path / "here" / "model.npz"
    ).read_bytes()


def test_the_data_is_read_while_tensorflow_imports(small_dir):
    """``train`` reads the files in a thread during the import; the loader then finds
    the arrays read. A problem in the thread is left to the loader to report."""
    from d2l_softmax.data import load_data_fashion_mnist
    from d2l_softmax.io import fashion_mnist

    cache = fashion_mnist._read_split_cached
    cache.cache_clear()
    commands.read_while_importing(small_dir).join()
    assert cache.cache_info().currsize == 2
    load_data_fashion_mnist(32, data_dir=small_dir)
    assert cache.cache_info().hits == 2 and cache.cache_info().misses == 2
    commands.read_while_importing(small_dir / "nowhere").join()  # raises nothing here


_IMPORTS_IN_THREADS = """
import sys, threading
seen = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is not threading.main_thread():
            seen.append(name)
        return None

sys.meta_path.insert(0, Watch())
from d2l_softmax.cli import commands
thread = commands.read_while_importing(sys.argv[1])
thread.join()
assert "numpy" in sys.modules and not thread.is_alive()
print(seen)
"""


def test_the_reading_thread_imports_nothing(small_dir):
    """An import in a thread beside TensorFlow's import can deadlock (it did, on Python
    3.10 with TensorFlow 2.16): everything the thread needs is imported before it starts.
    (The small files hold fewer images than Fashion-MNIST: the thread reads them, finds
    that out and leaves it to the loader.)"""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS_IN_THREADS, str(small_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
