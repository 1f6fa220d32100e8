"""Where every result of a study lives: the file layout the rules, the figure and table kinds and
the report agree on (results/<study>/...). Light: no torch, numpy or pandas."""

from __future__ import annotations

from cvrepro.study import Study


def job_dir(study: Study, name: str) -> str:
    """Where a run, pretraining or probe job writes its files."""
    section = "probes" if name in study.probes else study.job_kind(name)
    return f"results/{study.name}/{section}/{name}"


def job_file(study: Study, name: str, filename: str) -> str:
    """A file of a run, pretraining or probe job: model.pt, history.csv (a probe's: its
    iterations), metrics.json (a run's: its training), grad_flow.csv (runs)."""
    return f"{job_dir(study, name)}/{filename}"


def subset_index(study: Study, subset: str) -> str:
    return f"results/{study.name}/subsets/{subset}.npy"


def prepared_dir(dataset: str) -> str:
    return f"resources/prepared/{dataset}"


def subset_files(study: Study, subset: str) -> dict[str, str]:
    """The prepared dataset and the index file that together define a subset."""
    return {"data": prepared_dir(study.subsets[subset]["dataset"]), "index": subset_index(study, subset)}


def test_metrics_file(study: Study, name: str, subset: str | None = None) -> str:
    """Test-set metrics of a run (its evaluation on `subset`, default its own test) or of a probe."""
    if name in study.probes:
        return job_file(study, name, "metrics.json")
    return f"results/{study.name}/evals/{name}/{subset or study.runs[name]['test']}/metrics.json"


def features_file(study: Study, source: str, layer: str, subset: str) -> str:
    return f"results/{study.name}/features/{source}/{layer}/{subset}.npz"


def shift_dir(study: Study, shift_set: str) -> str:
    return f"results/{study.name}/shifted/{shift_set}"


def sweep_file(study: Study, sweep: str, run: str) -> str:
    return f"results/{study.name}/bn_sweeps/{sweep}/{run}.csv"


def table_file(study: Study, table: str, suffix: str) -> str:
    return f"results/{study.name}/tables/{table}.{suffix}"


def figure_file(study: Study, figure: str) -> str:
    return f"results/{study.name}/figures/{figure}.png"
