"""No TensorFlow C++ log lines in the output, unless asked for; real errors still show."""

import os
import subprocess
import sys

import numpy as np
import pytest

from d2l_softmax.io import quiet

# what TensorFlow 2.15-2.21 print on a machine without a GPU, one of each kind
LOG_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"I0000 00:00:1795548670.563709   12498 port.cc:153] oneDNN custom operations are on.\n",
    b"E0000 00:00:1795548676.984923   12498 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n",
    b"W0000 00:00:1732000000.000001    77 gpu_device.cc:2344] Cannot dlopen some GPU libraries.\n",
    b"2024-05-01 12:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations\n",
    b"2024-05-01 12:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261]"
    b" Unable to register cuDNN factory\n",
    b"2024-05-01 12:00:01.5: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow "
    b"binary is optimized to use available CPU instructions.\n",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    b"with the appropriate compiler flags.\n",
]
TELLTALES = ("I0000", "W0000", "E0000", "absl::InitializeLog", "cuInit", "oneDNN")


def test_log_lines_are_dropped_and_everything_else_kept():
    other = [
        b"Traceback (most recent call last):\n",
        b'  File "x.py", line 1\n',
        b"ValueError: E0000 is not a log line here\n",
        b"a last line without newline",
    ]
    mixed = [LOG_LINES[0], other[0], other[1], *LOG_LINES[1:4], other[2], *LOG_LINES[4:], other[3]]
    assert quiet.drop_log_lines(b"".join(mixed)) == b"".join(other)


def _python(code, **env):
    child_env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_VAR)
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**child_env, **env}
    )


FIRST_USE = """
import sys
import d2l_softmax as d2l
print("imported", "tensorflow" in sys.modules)
net = d2l.SoftmaxRegression(seed=0)   # imports TensorFlow and runs its first ops
import tensorflow as tf
batches = [(tf.zeros((8, 28, 28, 1)), tf.zeros(8, tf.int32))]
d2l.train_epoch_ch3(net, batches, d2l.cross_entropy, d2l.Updater(net.params, 0.1),
                    jit_compile=True)   # the package's first XLA compile (TF 2.16-2.20 log it)
print("a real error", file=sys.stderr)
"""


def test_importing_and_using_the_package_is_quiet():
    out = _python(FIRST_USE)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "imported False\n"  # importing the package alone loads no TensorFlow
    assert out.stderr == "a real error\n"


def test_importing_the_package_leaves_tensorflows_settings_to_the_user():
    """Threads and devices can be set only before TensorFlow's runtime starts: importing
    the package (and TensorFlow after it) must not start it."""
    code = """
import d2l_softmax as d2l
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
net = d2l.SoftmaxRegression(seed=0)
print(tf.config.threading.get_intra_op_parallelism_threads())
"""
    out = _python(code)
    assert out.returncode == 0 and out.stdout == "1\n", out.stderr
    assert out.stderr == ""


def test_the_lines_come_back_when_asked_for():
    out = _python(FIRST_USE, D2L_SOFTMAX_VERBOSE="1")
    assert "a real error" in out.stderr
    assert any(t in out.stderr for t in TELLTALES), out.stderr


def test_the_verbose_flag_brings_the_lines_back():
    code = """
from d2l_softmax.cli.main import main
main(["evaluate", "--verbose", "no-such-model.npz"])   # fails: one error line
import tensorflow as tf
tf.function(lambda x: x * 2, jit_compile=True)(tf.constant(1.0))
"""
    out = _python(code)
    assert "d2l-softmax: error:" in out.stderr and "no-such-model.npz" in out.stderr
    assert any(t in out.stderr for t in TELLTALES), out.stderr
    assert "Traceback" not in out.stderr


MANY_NETS = """
import sys
import d2l_softmax as d2l
import tensorflow as tf
X, y = tf.random.uniform((64, 28, 28, 1)), tf.random.uniform((64,), maxval=10, dtype=tf.int32)
data = [(X[:32], y[:32]), (X[32:], y[32:])]
for seed in range(8):  # a notebook re-run eight times: one program per net, by design
    net = d2l.SoftmaxRegression(seed=seed)
    d2l.train_epoch_ch3(net, data, d2l.cross_entropy, d2l.Updater(net.params, 0.1))
    d2l.evaluate_accuracy(net, data)
dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(32)  # the tf.data loop
d2l.train_epoch_ch3(net, dataset, d2l.cross_entropy, d2l.Updater(net.params, 0.1))
own = tf.function(lambda x: x * 2)
for n in range(8):  # the user's own function, retraced for every new shape: warned
    own(tf.zeros((n,)))
"""


def test_warnings_only_for_the_users_own_functions():
    out = _python(MANY_NETS)
    assert out.returncode == 0, out.stderr
    warnings = [
        line for line in out.stderr.splitlines() if "triggered tf.function retracing" in line
    ]
    assert warnings and all("<lambda>" in line for line in warnings), out.stderr
    assert "deprecated" not in out.stderr  # the tf.data loop converts without take_while
    verbose = _python(MANY_NETS, D2L_SOFTMAX_VERBOSE="1")
    assert "calls to <function accumulating.<locals>.accumulate" in verbose.stderr  # all shown


def test_a_read_only_config_folder_is_quiet(tmp_path):
    """Where matplotlib's folder cannot be made (here: its parent is a file; a read-only
    home is the same to matplotlib), it would print two warnings: none now."""
    (tmp_path / "a_file").write_text("")
    code = (
        "import d2l_softmax as d2l\nimport matplotlib.pyplot as plt\n"
        "plt.figure().savefig('p.png')\nimport os; print(os.environ['MPLCONFIGDIR'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "a_file")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert os.path.isdir(out.stdout.strip())
    bare = subprocess.run(
        [sys.executable, "-c", code.replace("import d2l_softmax as d2l", "")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert (
        "Matplotlib created a temporary" in bare.stderr
    )  # without the package (3.7 adds "config/")


def test_help_and_usage_errors_do_not_import_tensorflow():
    code = """
import sys
from d2l_softmax.cli.main import main
for argv in (["--help"], ["train", "--help"], ["train", "--epochs", "0"], ["fly"]):
    try:
        main(argv)
    except SystemExit:
        pass
print("tensorflow" in sys.modules)
"""
    out = _python(code)
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.e2e
@pytest.mark.reproducible
def test_two_cli_runs_are_quiet_and_train_the_same_model_bitwise(real_dir, tmp_path):
    """The CLI's defaults with a seed, twice in fresh processes: not a log line on stderr,
    and the same parameters to the last bit."""
    models = []
    for name in ("first", "second"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "d2l_softmax",
                "train",
                "--seed",
                "0",
                "--out",
                str(tmp_path / name),
            ],
            capture_output=True,
            text=True,
            env={
                k: v
                for k, v in os.environ.items()
                if k not in ("TF_CPP_MIN_LOG_LEVEL", quiet.VERBOSE_VAR)
            },
        )
        assert out.returncode == 0, out.stderr
        assert not [t for t in TELLTALES if t in out.stderr], out.stderr
        with np.load(tmp_path / name / "model.npz") as f:
            models.append((f["W"].tobytes(), f["b"].tobytes()))
    assert models[0] == models[1]
