"""Assemble a study's REPORT.md (rule `report`) or the index of studies (rule `report_index`)."""

import json
from pathlib import Path

import pandas as pd

from cvrepro.jobs.job import git_commit
from cvrepro.jobs.logs import log_to
from cvrepro.report.results_index import results_index
from cvrepro.report.study_report import StudyText, study_report


def main(
    study: StudyText,
    tables: dict[str, tuple[Path, Path, Path]],
    jobs: dict[str, tuple[str, Path]],
    out: Path,
    rehearsal: dict | None = None,
) -> str:
    """tables: name -> (markdown, csv, comparisons csv); jobs: name -> (kind, metrics.json);
    rehearsal: a rehearsal's work plan (cvrepro.config.cost), None for a real run."""
    loaded = {
        name: (Path(md).read_text(), pd.read_csv(csv, index_col=0), pd.read_csv(compare))
        for name, (md, csv, compare) in tables.items()
    }
    job_metrics = {name: (kind, json.loads(Path(path).read_text())) for name, (kind, path) in jobs.items()}
    cost = None
    if rehearsal is not None:
        from cvrepro.config.cost import cost_markdown

        devices = sorted({m.get("provenance", {}).get("device") or "?" for _, m in job_metrics.values()})
        cost = cost_markdown(rehearsal, {name: m for name, (_, m) in job_metrics.items()}, ", ".join(devices))
    text = study_report(study, loaded, job_metrics, git_commit(), cost)
    Path(out).write_text(text)
    return text


def index(
    studies: dict[str, dict], job_metrics: dict[str, list[Path]], out: Path, rehearsal: bool = False
) -> str:
    """studies: name -> {description, ...} of the studies this invocation ran; job_metrics: name ->
    their trainings' metrics files. Studies an earlier invocation left are listed too, each row's
    numbers read from the study's own files (cvrepro.report.results_index)."""
    selected = {name: info["description"] for name, info in studies.items()}
    text = results_index(Path(out).parent, selected, job_metrics, rehearsal)
    Path(out).write_text(text)
    return text


if __name__ == "__main__":
    params = snakemake.params
    with log_to(snakemake.log[0]):
        if snakemake.rule == "report_index":
            metrics = {name: [Path(p) for p in paths] for name, paths in params.metrics.items()}
            index(params.studies, metrics, Path(snakemake.output[0]), params.rehearsal)
        else:
            main(
                StudyText(
                    snakemake.wildcards.study,
                    params.description,
                    params.figures,
                    params.caveats,
                    params.fidelity,
                ),
                tables={
                    name: tuple(Path(params.inputs[role][name][0]) for role in ("md", "csv", "compare"))
                    for name in params.inputs["md"]
                },
                jobs={name: (kind, Path(path)) for name, (kind, path) in params.jobs.items()},
                out=Path(snakemake.output[0]),
                rehearsal=params.rehearsal,
            )
