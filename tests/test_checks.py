"""The shared argument checks: what they let through, what they refuse, and that the
command line can use them without importing NumPy or TensorFlow."""

import subprocess
import sys

import numpy as np
import pytest

from d2l_softmax.checks import as_float32, check_lr, check_positive_int, check_seed


@pytest.mark.parametrize("value", [1, 256, np.int64(3), np.uint8(7)])
def test_positive_integers_pass_as_int(value):
    out = check_positive_int(value, "n")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3", None, np.float32(4)])
def test_anything_else_is_not_a_positive_integer(value):
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got "):
        check_positive_int(value, "n")


@pytest.mark.parametrize(
    "value",
    [
        0.1,
        1 / 3,
        1e-45,
        7e-46,
        1e-46,
        1.17549435e-38,
        3.4028234e38,
        3.4028235e38,
        3.40282356e38,
        3.4028236e38,
        1e39,
        -1e39,
        -2.5,
    ],
)
def test_float32_rounding_matches_numpy(value):
    with np.errstate(over="ignore"):
        assert as_float32(value) == float(np.float32(value))


def test_learning_rates():
    assert check_lr(0.1) == 0.1 and check_lr(np.float32(0.5)) == 0.5
    assert check_lr(0, zero_ok=True) == 0.0
    for bad in (0, -0.1, float("nan"), float("inf"), True, "0.1", None):
        with pytest.raises(ValueError, match="^learning rate must be a positive"):
            check_lr(bad)
    for bad, becomes in ((1e-50, "0.0"), (1e39, "inf")):
        with pytest.raises(ValueError, match=f"is {becomes} in float32"):
            check_lr(bad)


def test_the_checks_import_neither_numpy_nor_tensorflow():
    code = (
        "import sys, d2l_softmax.checks; "
        "print(sorted(m for m in ('numpy', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_seeds():
    assert check_seed(None) is None and check_seed(0) == 0
    assert check_seed(np.int64(7)) == 7 and check_seed(2**63 - 1) == 2**63 - 1
    for bad in (-1, 2**63, 1.5, "3", True):  # each would reach TensorFlow as another error
        with pytest.raises(
            ValueError, match=r"seed must be None or an integer in 0\.\.9223372036854775807"
        ):
            check_seed(bad)
