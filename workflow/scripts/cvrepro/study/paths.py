"""Where every result of a study lives: the file layout the rules, the figure and table kinds and
the report agree on (<results>/<study>/..., <resources>/prepared/<dataset>; the roots are the
study's Layout: results/ and resources/, or a rehearsal's own pair). Light: no torch, numpy or
pandas."""

from __future__ import annotations

from cvrepro.study import Study


def job_dir(study: Study, name: str) -> str:
    """Where a run, pretraining or probe job writes its files."""
    section = "probes" if name in study.probes else study.job_kind(name)
    return f"{study.results}/{section}/{name}"


def job_file(study: Study, name: str, filename: str) -> str:
    """A file of a run, pretraining or probe job: model.pt, history.csv (a probe's: its
    iterations), metrics.json (a run's: its training), grad_flow.csv (runs)."""
    return f"{job_dir(study, name)}/{filename}"


def resume_file(study: Study, name: str) -> str:
    """A run's or pretraining's state after its last finished epoch (not an output: a killed
    job's progress survives Snakemake's cleanup)."""
    prefix = "pretrain-" if name in study.pretrain else ""
    return f"{study.results}/resume/{prefix}{name}.pt"


def subset_index(study: Study, subset: str) -> str:
    return f"{study.results}/subsets/{subset}.npy"


def prepared_dir(study: Study, dataset: str) -> str:
    return f"{study.layout.resources}/prepared/{dataset}"


def subset_files(study: Study, subset: str) -> dict[str, str]:
    """The prepared dataset and the index file that together define a subset."""
    return {
        "data": prepared_dir(study, study.subsets[subset]["dataset"]),
        "index": subset_index(study, subset),
    }


def test_metrics_file(study: Study, name: str, subset: str | None = None) -> str:
    """Test-set metrics of a run (its evaluation on `subset`, default its own test) or of a probe."""
    if name in study.probes:
        return job_file(study, name, "metrics.json")
    return f"{study.results}/evals/{name}/{subset or study.runs[name]['test']}/metrics.json"


def features_file(study: Study, source: str, layer: str, subset: str) -> str:
    return f"{study.results}/features/{source}/{layer}/{subset}.npz"


def probe_inputs(study: Study, probe: str) -> dict[str, str]:
    """The features a probe reads: test, and train and val where it has them (zero_shot fits
    nothing; val: minibatch_gd's validation set)."""
    spec = study.probes[probe]
    roles = [role for role in ("test", "train", "val") if spec[role] is not None]
    return {role: features_file(study, spec["features"], spec["layer"], spec[role]) for role in roles}


def shift_dir(study: Study, shift_set: str) -> str:
    return f"{study.results}/shifted/{shift_set}"


def sweep_file(study: Study, sweep: str, run: str) -> str:
    return f"{study.results}/bn_sweeps/{sweep}/{run}.csv"


def table_file(study: Study, table: str, suffix: str) -> str:
    return f"{study.results}/tables/{table}.{suffix}"


def figure_file(study: Study, figure: str) -> str:
    return f"{study.results}/figures/{figure}.png"
