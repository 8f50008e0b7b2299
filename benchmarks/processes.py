"""Whole processes: ``d2l-softmax train`` and a bare ``import tensorflow``, each run
as its own process for its wall time and peak memory, and where the command's time goes.
With ``against``, an older checkout's ``d2l-softmax train`` runs in the same rounds."""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROCESS_RUNS = 5  # times each whole-process command runs (in turn)


# ---------------------------------------------------------------- the package, new or old


def package_module(new: str, old: str):
    """The module at its path in this tree (``new``) or in a checkout from before the
    layout of engine/, io/ and cli/ (``old``)."""
    try:
        return importlib.import_module(new)
    except ModuleNotFoundError as e:
        if e.name != new:
            raise
        return importlib.import_module(old)


def against_env(against: str) -> dict:
    """The environment that makes Python find the package in the checkout ``against``
    first: its folder ahead of the editable install (a meta-path finder that comes after
    the path's own finder) on PYTHONPATH."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (os.path.abspath(against), os.environ.get("PYTHONPATH")) if p
        ),
    }


def package_folder(env=None, cwd=None) -> str:
    """The folder d2l_softmax is imported from: in this process, or in a fresh one run
    with ``env`` in ``cwd``."""
    if env is None:
        import d2l_softmax

        return os.path.dirname(os.path.realpath(d2l_softmax.__file__))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import d2l_softmax, os; print(os.path."
            "dirname(os.path.realpath(d2l_softmax.__file__)))",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    ).stdout.strip()


def check_package(where: str, folder: str, inside: bool = True) -> None:
    """Fail loudly unless the package's folder ``where`` lies in ``folder`` (or, with
    ``inside`` False, does not): a row must run the code it is labelled with."""
    if where.startswith(os.path.realpath(folder) + os.sep) != inside:
        raise SystemExit(
            f"d2l_softmax was imported from {where}, which is {'not ' if inside else ''}in {folder}"
        )


_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), time.perf_counter() - start,
                  usage.ru_maxrss / 1024]))
"""


def run_process(args, env=None, cwd=None):
    """Wall seconds and peak resident memory (MiB) of a command run as its own process.

    A small Python process starts it: a child forked straight from a large process
    would report that process's peak memory as its own.
    """
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=cwd,
    ).stdout
    code, wall, peak = json.loads(out)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed with exit code {code}")
    return wall, peak


def whole_processes(tmp: str, data_dir=None, runs: int = PROCESS_RUNS, against=None) -> dict:
    """{name: (median wall seconds, median peak MiB)} of the commands, run in turn, in
    ``tmp`` (``python -m`` looks in the working folder first). ``against``: also the
    command of the checkout in that folder, as "`d2l-softmax train` (against)"."""
    data = ["--data-dir", data_dir] if data_dir else []
    train = [
        sys.executable,
        "-m",
        "d2l_softmax",
        "train",
        "--seed",
        "0",
        "--out",
        os.path.join(tmp, "out"),
    ] + data
    commands = {"`d2l-softmax train`": (train, None)}
    if against:
        env = against_env(against)
        check_package(package_folder(env, cwd=tmp), against)
        commands["`d2l-softmax train` (against)"] = (train, env)
    commands["`import tensorflow` alone"] = ([sys.executable, "-c", "import tensorflow"], None)
    measured = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, env) in commands.items():
            measured[name].append(run_process(command, env, cwd=tmp))
    return {
        name: (statistics.median(w for w, _ in m), statistics.median(p for _, p in m))
        for name, m in measured.items()
    }


def breakdown(data_dir=None) -> dict:
    """Where ``d2l-softmax train``'s time goes: the command itself, run here with a clock
    (see :func:`timed_breakdown`): {"import": s, "data": s, "compile": s, "train": s,
    "plots": s, "save": s}. The data is read during the import; "data" is what is
    left after it. "compile" is the first epoch less a steady one."""
    start = time.perf_counter()
    cli = package_module("d2l_softmax.cli.main", "d2l_softmax.cli")
    commands = package_module("d2l_softmax.cli.commands", "d2l_softmax.commands")
    interrupt = package_module("d2l_softmax.engine.interrupt", "d2l_softmax.interrupt")
    interrupt.forget()  # as cli.main does: signals from before are not this run's
    marks = {}
    with tempfile.TemporaryDirectory() as tmp:
        args = cli.build_parser().parse_args(
            ["train", "--seed", "0", "--out", tmp] + (["--data-dir", data_dir] if data_dir else [])
        )
        with contextlib.redirect_stdout(io.StringIO()):  # its report: the JSON must come last
            code = commands.cmd_train(
                args, clock=lambda phase: marks.setdefault(phase, time.perf_counter())
            )
        if code != 0:
            raise RuntimeError(f"d2l-softmax train failed with exit code {code}")
        with open(os.path.join(tmp, "history.json")) as f:
            seconds = json.load(f)["epoch_seconds"]
    steady = statistics.median(seconds[1:])
    compile_s = seconds[0] - steady
    epochs = sum(seconds)
    gc.freeze()  # as the command does before it exits
    between = lambda a, b: marks[b] - marks[a]
    return {
        "import": marks["import"] - start,
        "data": between("import", "data"),
        "compile": compile_s,
        "train": epochs - compile_s,
        "plots": between("data", "training")
        - epochs
        + between("history.json", "training.png")
        + between("training.png", "predictions.png"),
        "save": between("training", "model.npz") + between("model.npz", "history.json"),
    }


def timed_breakdown(child) -> dict:
    """:func:`breakdown` run as a fresh process by ``child(args) -> dict``, plus the
    process's "start and exit": its wall time less the parts it measured itself."""
    start = time.perf_counter()
    parts = child(["--breakdown"])
    parts["start and exit"] = time.perf_counter() - start - sum(parts.values())
    return parts
