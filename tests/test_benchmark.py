"""The throughput benchmark still runs (a smoke test on a few images; its numbers are not checked)."""

from __future__ import annotations

import sys

from conftest import REPO


def test_benchmark_runs_both_loops(capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import train_throughput

    rows = train_throughput.main(
        images=64, size=16, channels=3, width=4, batch_size=32, workers=0, device="cpu", epochs=1
    )
    assert [row["images_per_s"] > 0 for row in rows] == [True, True]
    assert "speed-up" in capsys.readouterr().out
