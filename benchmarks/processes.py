"""Whole processes: ``d2l-softmax train`` and a bare ``import tensorflow``, each run
as its own process for its wall time and peak memory, and where the command's time goes."""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROCESS_RUNS = 5    # times each whole-process command runs (in turn)


_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), time.perf_counter() - start,
                  usage.ru_maxrss / 1024]))
"""


def run_process(args, env=None):
    """Wall seconds and peak resident memory (MiB) of a command run as its own process.

    A small Python process starts it: a child forked straight from a large process
    would report that process's peak memory as its own.
    """
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True,
                         text=True, check=True, env=env).stdout
    code, wall, peak = json.loads(out)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed with exit code {code}")
    return wall, peak


def whole_processes(tmp: str, data_dir=None, runs: int = PROCESS_RUNS) -> dict:
    """{name: (median wall seconds, median peak MiB)} of the commands, run in turn."""
    data = ["--data-dir", data_dir] if data_dir else []
    commands = {
        "`d2l-softmax train`": [sys.executable, "-m", "d2l_softmax", "train", "--seed", "0",
                                "--out", os.path.join(tmp, "out")] + data,
        "`import tensorflow` alone": [sys.executable, "-c", "import tensorflow"],
    }
    measured = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            measured[name].append(run_process(command))
    return {name: (statistics.median(w for w, _ in m), statistics.median(p for _, p in m))
            for name, m in measured.items()}


def breakdown(data_dir=None) -> dict:
    """Where ``d2l-softmax train``'s time goes, by doing what it does with a clock, in a
    process of its own (see :func:`timed_breakdown`): {"import": s, "data": s,
    "compile": s, "train": s, "plots": s, "save": s}. The data is read during the
    import, as the command reads it; "data" is what is left after the import."""
    start = time.perf_counter()
    from d2l_softmax import commands
    reading = commands.read_while_importing(data_dir)
    import tensorflow as tf
    commands.one_thread_per_op(tf)
    from d2l_softmax import checkpoint
    from d2l_softmax.data import load_data_fashion_mnist
    from d2l_softmax.model import SoftmaxRegression, cross_entropy
    from d2l_softmax.optim import Updater
    from d2l_softmax.train import predict_ch3, train_ch3
    marks = {"import": time.perf_counter()}
    reading.join()
    train_iter, test_iter = load_data_fashion_mnist(256, data_dir=data_dir, seed=0)
    marks["data"] = time.perf_counter()
    net = SoftmaxRegression(seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        h = train_ch3(net, train_iter, test_iter, cross_entropy, 10, Updater(net.params, 0.1),
                      plot_path=os.path.join(tmp, "training.png"), check=False, verbose=False)
        marks["training"] = time.perf_counter()
        checkpoint.save_params(os.path.join(tmp, "model.npz"), net)
        marks["save"] = time.perf_counter()
        predict_ch3(net, test_iter, n=12, save_path=os.path.join(tmp, "predictions.png"))
        marks["predictions"] = time.perf_counter()
    steady = statistics.median(h.epoch_seconds[1:])
    compile_s = h.epoch_seconds[0] - steady
    epochs = sum(h.epoch_seconds)
    gc.freeze()  # as the command does before it exits
    return {"import": marks["import"] - start, "data": marks["data"] - marks["import"],
            "compile": compile_s, "train": epochs - compile_s,
            "plots": (marks["training"] - marks["data"] - epochs)
            + (marks["predictions"] - marks["save"]),
            "save": marks["save"] - marks["training"]}


def timed_breakdown(child) -> dict:
    """:func:`breakdown` run as a fresh process by ``child(args) -> dict``, plus the
    process's "start and exit": its wall time less the parts it measured itself."""
    start = time.perf_counter()
    parts = child(["--breakdown"])
    parts["start and exit"] = time.perf_counter() - start - sum(parts.values())
    return parts
