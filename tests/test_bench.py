import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import bench  # noqa: E402


def test_ways_take_turns_epoch_by_epoch():
    log = []

    def way(report, name, epochs):
        for epoch in range(1, epochs + 1):
            log.append(f"{name}{epoch}")
            report(0.1 * epoch, (name, epoch))

    a, b = bench.stepped(way, "a", 2), bench.stepped(way, "b", 2)
    assert [next(a), next(b), next(a), next(b)] == [
        (0.1, ("a", 1)), (0.1, ("b", 1)), (0.2, ("a", 2)), (0.2, ("b", 2))]
    assert log == ["a1", "b1", "a2", "b2"]  # only one way runs at a time
    assert list(a) == [] and list(b) == []  # and each then finishes


def test_an_error_in_a_way_reaches_the_caller():
    def way(report):
        report(1.0, ())
        raise ValueError("broken way")

    run = bench.stepped(way)
    assert next(run) == (1.0, ())
    with pytest.raises(ValueError, match="broken way"):
        next(run)


def test_run_process_measures_wall_time_and_peak_memory():
    wall, peak = bench.run_process(
        [sys.executable, "-c", "import time; x = bytearray(300 * 2**20); time.sleep(0.3)"])
    assert wall >= 0.3
    assert 300 <= peak < 1000  # the child's own peak, in MiB, not this process's
    with pytest.raises(RuntimeError, match="exit code 3"):
        bench.run_process([sys.executable, "-c", "raise SystemExit(3)"])


@pytest.mark.parametrize("way", [bench.book_loop, bench.keras_fit, bench.package_train_ch3,
                                 bench.package_analytic, bench.fused_floor])
def test_each_way_trains_and_reports_every_epoch(way, small_dir, monkeypatch):
    monkeypatch.setattr(bench, "EPOCHS", 3)
    monkeypatch.setattr(bench, "BATCH", 32)
    reports = list(bench.stepped(way, str(small_dir)))
    assert len(reports) == 3
    losses = [metrics[0] for _, metrics in reports]
    assert all(seconds > 0 for seconds, _ in reports)
    assert losses[-1] < losses[0] < math.log(10) + 0.1  # the loss falls from ln(10)
    assert all(0 <= acc <= 1 for _, metrics in reports for acc in metrics[1:])
