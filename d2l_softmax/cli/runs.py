"""A training run's folder: where it is made, what it holds, and saving it, the model first.

A file that cannot be saved does not stop the others; when the model itself cannot be
saved, nothing is written beside an older model: all the files go to a new temporary
folder instead, and the command says where.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

TRAIN_OUTPUTS = ("model.npz", "history.json", "training.png", "predictions.png")  # by value


def new_run_folder(parent: Path = Path("runs")) -> Path:
    """``runs/<date>-<time>``, made here; ``-2``, ``-3``... when another run (started in
    the same second) has that one: two runs never share a folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}/{stamp}: a thousand runs started in this second")


def save_all(
    saves: Sequence[tuple[str, Callable]],
    done: Callable[[str], None],
    *,
    stop_at_first: bool = False,
) -> dict[str, Exception]:
    """Run every save, most valuable first; one that fails does not stop the others,
    unless it is the first and ``stop_at_first``. ``done(name)`` follows each."""
    failed = {}
    for i, (name, save) in enumerate(saves):
        try:
            save()
        except (OSError, ValueError) as err:
            failed[name] = err
            if stop_at_first and i == 0:
                break
        done(name)
    return failed


def save_run(out: Path, saves, clock) -> tuple[dict[str, Exception], Path | None]:
    """Save the run's files in ``out``, the model first; return what failed and where the
    files went instead. When the model cannot be saved there, the others are not
    written beside an older model either: all go to a new temporary folder."""
    failed = save_all(saves(out), clock, stop_at_first=True)
    if "model.npz" not in failed:
        return failed, None
    failed = {name: failed["model.npz"] for name in TRAIN_OUTPUTS}  # none is in out
    try:
        rescue = Path(tempfile.mkdtemp(prefix="d2l-softmax-run-"))
    except OSError:
        return failed, None
    return failed, (None if save_all(saves(rescue), clock) else rescue)


def saving_failed(out: Path, failed: dict, rescue: Path | None) -> str:
    """The one line that says what could not be saved, and where the rest went."""
    saved = [name for name in TRAIN_OUTPUTS if name not in failed]
    reasons = {name: getattr(err, "reason", None) or str(err) for name, err in failed.items()}
    if len(set(reasons.values())) == 1:
        what = f"{', '.join(failed)} in {out}/: {next(iter(reasons.values()))}"
    else:
        what = f"in {out}/: " + "; ".join(f"{n} ({r})" for n, r in reasons.items())
    if rescue is not None:
        return f"could not save {what}; saved them in {rescue}/ instead"
    return f"could not save {what}" + (f"; saved {', '.join(saved)}" if saved else "")
