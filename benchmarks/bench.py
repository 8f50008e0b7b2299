"""What a learner waits for: ``python benchmarks/bench.py``.

The chapter's recipe (lr 0.1, batch 256, 10 epochs) on the real Fashion-MNIST, each
way of :mod:`ways` (the book's eager loop, Keras ``fit``, ``train_ch3`` with the
book's own code and the package's model, the next chapters' nets, and hand-fused
bounds) run as its own fresh process, as a learner runs it for the first time: the
whole call is timed from a cold start, a fresh net, compiling and the training plot
included. The same process then runs the call again with a fresh net, as a re-run
notebook cell does. The ways take turns, round after round, so a burst of load on a
shared machine slows them alike; the ratios are the figures to read.

Then ``d2l-softmax train`` and a bare ``import tensorflow`` run as separate
processes, in turn, for their wall time and peak memory, with where the command's
time goes; and the squeezed recipe (:data:`SQUEEZED`) is trained with three seeds.

``--against DIR`` compares with another checkout of the package (an older main): each
way that runs the package (the ``train_ch3`` rows, and ``d2l-softmax train``) also
runs with the package imported from DIR, in a fresh process of its own, in the same
rounds, as the row "... (against)"; a table gives the ratios new / against.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recipe  # noqa: E402
from processes import (  # noqa: E402
    PROCESS_RUNS,
    against_env,
    breakdown,
    check_package,
    package_folder,
    package_module,
    timed_breakdown,
    whole_processes,
)
from recipe import SQUEEZED, squeezed  # noqa: E402
from report import AGAINST, against_table, beaten, payback, summarize, table  # noqa: E402

ROUNDS = 3  # times each way runs (in turn) for its medians


def runs_the_package(name: str) -> bool:
    """Whether the way ``name`` runs the package's training code (``--against`` runs
    these with the other checkout too); the other ways use it for the data at most."""
    return name.startswith(("train_ch3, ", "train_ch3 XLA, "))


# ---------------------------------------------------------------- one way, in its own process


def run_way(
    family: str,
    name: str,
    data_dir=None,
    seed: int = 0,
    cells: int = 2,
    one_thread_per_op: bool = False,
) -> dict:
    """Prepare the way, then run its whole call ``cells`` times with a fresh net each:
    {"whole": [s, ...], "epochs": [[s, ...], ...], "metrics": (loss, acc, test acc)}.
    ``one_thread_per_op``: set TensorFlow's threads as ``d2l-softmax train`` does, first
    (in a process of its own; in one where TensorFlow already runs nothing changes)."""
    if one_thread_per_op:
        import tensorflow as tf

        package_module("d2l_softmax.cli.commands", "d2l_softmax.commands").one_thread_per_op(tf)
    import d2l_softmax as d2l

    import ways

    folder = d2l.find_fashion_mnist(data_dir)
    run = ways.all_ways()[family, name](folder, seed)
    out = {"whole": [], "epochs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in range(cells):
            start = time.perf_counter()
            seconds, metrics = run(os.path.join(tmp, f"{cell}.png"))
            out["whole"].append(time.perf_counter() - start)
            out["epochs"].append(list(seconds))
            out["metrics"] = [float(m) for m in metrics]
    return out


def _child(args: list, env=None) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_ways(
    keys,
    data_dir=None,
    rounds: int = ROUNDS,
    log=print,
    in_process: bool = False,
    one_thread_per_op: bool = False,
    against=None,
) -> dict:
    """{key: [run_way's result, one per round]}, the ways taking turns. Each way runs in
    a fresh process (as a learner's first call), or here with ``in_process`` (quick mode:
    one call each, nothing cold about it). ``one_thread_per_op``: see :func:`run_way`.
    ``against``: a checkout's folder; each way that runs the package runs again right
    after, with that checkout's package, in a fresh process, as (family, name + AGAINST)."""
    data = ["--data-dir", data_dir] if data_dir else []
    data += ["--one-thread-per-op"] if one_thread_per_op else []
    data += ["--epochs", str(recipe.EPOCHS)]
    results = {}
    for family, name in keys:
        results[family, name] = []
        if against and runs_the_package(name):
            results[family, name + AGAINST] = []
    for r in range(rounds):
        for family, name in keys:
            eager = name.startswith("book's")  # nothing compiled: a second call adds nothing
            way = ["--way", family, name, "--cells", "1" if eager or in_process else "2"] + data
            if in_process:
                results[family, name].append(run_way(family, name, data_dir, cells=1))
            else:
                env = {"OPENBLAS_NUM_THREADS": "1"} if "NumPy" in name else None
                results[family, name].append(_child(way, env))
            if (family, name + AGAINST) in results:
                results[family, name + AGAINST].append(
                    _child(way + ["--against", against], against_env(against))
                )
        log(f"  round {r + 1} of {rounds} done")
    return results


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--only", help="run only the ways whose name contains this")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: each way once, in this process, for 2 epochs; "
        "no whole-process runs (the figures mean nothing)",
    )
    parser.add_argument(
        "--one-thread-per-op",
        action="store_true",
        help="run every way with one thread per op, as `d2l-softmax train` "
        "runs (tf.config.threading), instead of TensorFlow's default threads",
    )
    parser.add_argument(
        "--skip-processes",
        action="store_true",
        help="leave out the whole-process runs and the squeezed recipe",
    )
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="also run each way that runs the package, and `d2l-softmax "
        "train`, with the package of the checkout in DIR (an older main), "
        "in the same rounds, and give the ratios new / against",
    )
    parser.add_argument("--way", nargs=2, metavar=("FAMILY", "NAME"), help=argparse.SUPPRESS)
    parser.add_argument("--cells", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.against:  # the package must come from DIR in its children, and not here
        check_package(package_folder(), args.against, inside=bool(args.way))
    if args.epochs:
        recipe.EPOCHS = args.epochs
    if args.way:  # (internal) one way, as the process to measure
        print(
            json.dumps(
                run_way(
                    *args.way,
                    data_dir=args.data_dir,
                    cells=args.cells,
                    one_thread_per_op=args.one_thread_per_op,
                )
            )
        )
        return 0
    if args.breakdown:
        print(json.dumps(breakdown(args.data_dir)))
        return 0

    import tensorflow as tf

    import ways

    if args.quick:
        recipe.EPOCHS, args.rounds, args.skip_processes = 2, 1, True
    keys = [k for k in ways.all_ways() if not args.only or args.only in f"{k[0]}: {k[1]}"]
    rows = summarize(
        measure_ways(
            keys,
            args.data_dir,
            args.rounds,
            in_process=args.quick,
            log=lambda m: print(m, file=sys.stderr, flush=True),
            one_thread_per_op=args.one_thread_per_op,
            against=args.against,
        )
    )
    print(
        f"Fashion-MNIST, lr {recipe.LR}, batch {recipe.BATCH}, {recipe.EPOCHS} epochs; "
        f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}; "
        + (
            "quick mode, each way once in one process"
            if args.quick
            else f"each way in a fresh process, median of {args.rounds} rounds"
        )
        + ("; one thread per op" if args.one_thread_per_op else "")
        + (f"; against the package in {args.against}" if args.against else "")
        + "; epoch = one training pass + test accuracy\n"
    )
    print(table(rows))
    if args.against:
        print("\n" + against_table(rows))
    for (family, name), row in rows.items():
        graph = rows.get((family, name.replace("train_ch3 XLA, ", "train_ch3, ")))
        if name.startswith("train_ch3 XLA, ") and graph:
            print(f"\n{name[15:]}: {payback(graph, row)}")
    faster = beaten(rows)
    print(
        "\nNo way beat the fastest round of its family's bound."
        if not faster
        else "\nFASTER THAN THE BOUND (the bound must be fixed): " + "; ".join(faster)
    )
    if args.skip_processes:
        return 0

    with tempfile.TemporaryDirectory(prefix="d2l_softmax_bench_") as tmp:
        medians = whole_processes(tmp, args.data_dir, against=args.against)
    base_wall, base_peak = medians["`import tensorflow` alone"]
    print(
        f"\n| whole process, median of {PROCESS_RUNS} | wall s | peak memory MiB "
        "| x `import tensorflow` wall |\n|---|---|---|---|"
    )
    for name, (wall, peak) in medians.items():
        print(f"| {name} | {wall:.2f} | {peak:.0f} | {wall / base_wall:.2f} |")
    if args.against:
        (new_wall, new_peak), (old_wall, old_peak) = (
            medians["`d2l-softmax train`"],
            medians["`d2l-softmax train`" + AGAINST],
        )
        print(
            f"\n`d2l-softmax train`, new / against: wall {new_wall / old_wall:.2f}, "
            f"peak memory {new_peak / old_peak:.2f}"
        )
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    parts = [timed_breakdown(lambda a: _child(a + data)) for _ in range(3)]
    print(
        "\n`d2l-softmax train`, where the time goes (median of 3, s): "
        + ", ".join(f"{k} {statistics.median(p[k] for p in parts):.2f}" for k in parts[0])
    )

    runs = [squeezed(args.data_dir, seed) for seed in range(3)]
    accs = [acc for acc, _ in runs]
    print(
        f"\nSqueezed recipe (batch {SQUEEZED['batch_size']}, lr {SQUEEZED['lr']} cosine-decayed, "
        f"{SQUEEZED['num_epochs']} epochs), seeds 0-2: test accuracy "
        + ", ".join(f"{a:.4f}" for a in accs)
        + f" (mean {statistics.mean(accs):.4f}); "
        f"{statistics.median(t for _, t in runs):.1f} s each (median), compiling included"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
