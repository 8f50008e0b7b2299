"""Checks on the numbers a user passes, shared by the library and the command line.

Plain Python (no TensorFlow, no NumPy), so that ``d2l-softmax`` can check its
arguments before it imports anything heavy. Each raises ``ValueError`` saying what
was expected and what came.
"""

from __future__ import annotations

import math
import numbers
import struct


def check_positive_int(value, what: str) -> int:
    """``value`` as an int, if it is an integer >= 1 (NumPy's too; a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def as_float32(value: float) -> float:
    """``value`` rounded to float32, as Python float (inf where float32 overflows)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def check_lr(lr, what: str = "learning rate", *, zero_ok: bool = False) -> float:
    """``lr`` as a float, after checking it is a positive number that float32 (the dtype
    the update runs in) holds as a finite non-zero value: 1e-50 would round to 0
    and 1e39 to inf. ``zero_ok`` lets 0 through (a schedule's final rate)."""
    expected = "a finite number >= 0" if zero_ok else "a positive finite number"
    if isinstance(lr, (bool, str, bytes)):
        raise ValueError(f"{what} must be {expected}, got {lr!r}")
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be {expected}, got {lr!r}") from None
    if zero_ok and value == 0:
        return 0.0
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be {expected}, got {lr!r}")
    rounded = as_float32(value)
    if rounded == 0 or not math.isfinite(rounded):
        raise ValueError(
            f"{what} {value!r} is {rounded} in float32, the precision the "
            "update runs in: use a value between 1e-38 and 3e38"
        )
    return value


MAX_SEED = 2**63 - 1  # TensorFlow's seeds are int64


def check_seed(seed, what: str = "seed"):
    """``seed`` as an int in 0..2**63 - 1, or None (no seed: a different run each time)."""
    if seed is None:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, numbers.Integral)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"{what} must be None or an integer in 0..{MAX_SEED}, got {seed!r}")
    return int(seed)
