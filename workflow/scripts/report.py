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
    cards: dict[str, Path] | None = None,
    preprocessing: str = "",
) -> str:
    """tables: name -> (markdown, csv, comparisons csv); jobs: name -> (kind, metrics.json);
    cards: the study's own datasets -> their prepared folders (each with its data card, card.md);
    rehearsal: a rehearsal's work plan (cvrepro.report.cost.plan), None for a real run;
    preprocessing: the section on how its ImageNet models prepare images (cvrepro.nets.preprocess_table)."""
    loaded = {
        name: (Path(md).read_text(), pd.read_csv(csv, index_col=0), pd.read_csv(compare))
        for name, (md, csv, compare) in tables.items()
    }
    job_metrics = {name: (kind, json.loads(Path(path).read_text())) for name, (kind, path) in jobs.items()}
    if rehearsal is not None:
        sections = rehearsal_sections(rehearsal)
    else:  # a real run: the rehearsal's forecast beside the time each rule took
        from cvrepro.report.cost.forecast_check import forecast_check

        sections = {"forecast_check": forecast_check(study.name, Path.cwd())}
    data_cards = "\n".join((Path(folder) / "card.md").read_text() for folder in (cards or {}).values())
    text = study_report(
        study,
        loaded,
        job_metrics,
        git_commit(),
        data_cards=data_cards,
        preprocessing=preprocessing,
        **sections,
    )
    Path(out).write_text(text)
    return text


def rehearsal_sections(plan: dict) -> dict[str, str]:
    """A rehearsal's first lines, fetch and cost sections (cvrepro.report.cost.plan), with the networks
    measured on the device, precision and threads of the real run's model jobs."""
    from cvrepro.jobs.job import device_name
    from cvrepro.nets.device import job_device
    from cvrepro.report.cost.cost_report import rehearsal_sections as sections

    machine = plan["machine"]
    device = job_device(
        machine.get("device", "auto"), machine.get("precision", "auto"), machine.get("threads", 1)
    )
    first, fetch, cost = sections(plan, device, device_name(device), Path.cwd())
    return {"rehearsal_cost": cost, "fetch": fetch, "first_lines": first}


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
                cards={name: Path(files[0]) for name, files in params.inputs.get("cards", {}).items()},
                preprocessing=params.preprocessing,
            )
