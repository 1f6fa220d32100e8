"""The files a training or pretraining job leaves: model.pt, history.csv, steps.csv (every
optimizer step's batch loss) and metrics.json.

Both jobs write them here, so a checkpoint carries the same fields whichever job made it
(cvrepro.nets.checkpoint: weights, arch, recipe, normalization, classes, seed, provenance).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from torch import nn

from cvrepro.nets.checkpoint import save_checkpoint
from cvrepro.study.jsonio import write_json
from cvrepro.train.resume import ResumeFile, training_identity


@dataclass(frozen=True)
class ModelFiles:
    """Where a training or pretraining job writes, and where it keeps its state while it runs."""

    model: Path
    history: Path
    metrics: Path
    resume: Path | None = None  # None: no resuming (tests)
    grad_flow: Path | None = None  # training only
    steps: Path | None = None  # None: not written (tests)

    def resume_file(self, recipe: dict, *inputs: Path | None) -> ResumeFile | None:
        """Where `fit` keeps its state, tied to the recipe and the bytes of its inputs."""
        return ResumeFile(self.resume, training_identity(recipe, *inputs)) if self.resume else None


def save_model_files(
    out: ModelFiles,
    net: nn.Module,
    arch: dict,
    normalization: dict,
    classes: list[str],
    history: list,
    metrics: dict,
    steps: list[dict],
) -> None:
    """The checkpoint (with `metrics`' recipe, its seed and provenance), the history and
    metrics.json; then the resume state goes, so a job killed before this point resumes."""
    recipe = metrics["recipe"]
    save_checkpoint(
        out.model,
        net,
        arch=arch,
        recipe=recipe,
        normalization=normalization,
        classes=classes,
        seed=recipe["seed"],
        provenance=metrics["provenance"],
    )
    pd.DataFrame(history).to_csv(out.history, index=False)
    if out.steps is not None:
        pd.DataFrame(steps, columns=["epoch", "step", "loss"]).to_csv(out.steps, index=False)
    write_json(out.metrics, metrics)  # NaN is an error, not invalid JSON
    if out.resume is not None:
        out.resume.unlink(missing_ok=True)
