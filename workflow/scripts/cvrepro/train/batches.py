"""How an epoch splits into batches: shared by the training loop, its schedules and the config
checks (no torch, so a check can count steps while Snakemake parses the workflow)."""

from __future__ import annotations


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Where each batch of an epoch over n images starts. A last batch of a single image is
    dropped: BatchNorm cannot normalise one image in train mode, and SimCLR needs a pair."""
    starts = list(range(0, n, batch_size))
    if batch_size > 1 and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return starts


def steps_per_epoch(n: int, batch_size: int) -> int:
    return len(batch_starts(n, batch_size))
