"""Where every result of a study lives, declared once.

The rules use the patterns below as their output paths as they are: Snakemake fills <results>
and <resources> (its path variables: results/ and resources/, or a rehearsal's own pair) and the
{wildcards}. The functions fill the same patterns for one study: the rules' inputs, the figure
and table kinds and the report read them. Light: no torch, numpy or pandas.
"""

from __future__ import annotations

import re

from cvrepro.study import Layout, Study

# A run's, pretraining's or probe's folder: model.pt, history.csv (a probe's: its iterations),
# steps.csv, metrics.json (a run's: its training), grad_flow.csv (runs), predictions.npz (probes).
RUN = "<results>/{study}/runs/{run}"
PRETRAIN = "<results>/{study}/pretrain/{run}"
PROBE = "<results>/{study}/probes/{probe}"
EVAL = "<results>/{study}/evals/{run}/{subset}"  # a run on a subset: metrics.json, predictions.npz
SUBSET = "<results>/{study}/subsets/{subset}"  # .npy (the index) and .json (its summary)
FEATURES = "<results>/{study}/features/{source}/{layer}/{subset}.npz"
SHIFTED = "<results>/{study}/shifted/{shift}"
SWEEP = "<results>/{study}/bn_sweeps/{sweep}/{run}.csv"
TABLE = "<results>/{study}/tables/{table}"  # .csv, .md and .compare.csv
FIGURE = "<results>/{study}/figures/{figure}.png"
REPORT = "<results>/{study}/REPORT.md"
INDEX = "<results>/REPORT.md"
# A run's or pretraining's state after its last finished epoch: not an output, so a killed
# job's progress survives Snakemake's clean-up.
RESUME = "<results>/{study}/resume/{job}.pt"
DOWNLOAD = "<resources>/downloads/{dataset}/{filename}"
PREPARED = "<resources>/prepared/{dataset}"
RANDOM_WEIGHTS = "<resources>/random_imagenet_weights"  # a rehearsal's stand-ins for ImageNet's


def rooted(pattern: str, layout: Layout) -> str:
    """`pattern` with its roots filled: <results> and <resources> of `layout`."""
    return pattern.replace("<results>", layout.results).replace("<resources>", layout.resources)


def fill(pattern: str, study: Study, **wildcards: str) -> str:
    """`pattern` for one study: its roots and the given wildcards filled."""
    return rooted(pattern, study.layout).format(study=study.name, **wildcards)


def parse(pattern: str, study: Study, path: str) -> dict[str, str] | None:
    """The wildcards of `path` where it is `pattern` filled for `study` (fill's inverse), else None."""
    parts = re.split(r"\{(\w+)\}", rooted(pattern, study.layout))
    regex = "".join(
        re.escape(study.name if part == "study" else part)
        if i % 2 == 0 or part == "study"
        else f"(?P<{part}>[^/]+)"
        for i, part in enumerate(parts)
    )
    found = re.fullmatch(regex, path)
    return found.groupdict() if found else None


def job_dir(study: Study, name: str) -> str:
    """Where a run, pretraining or probe job writes its files."""
    if name in study.probes:
        return fill(PROBE, study, probe=name)
    return fill(PRETRAIN if study.job_kind(name) == "pretrain" else RUN, study, run=name)


def job_file(study: Study, name: str, filename: str) -> str:
    return f"{job_dir(study, name)}/{filename}"


def resume_file(study: Study, name: str) -> str:
    prefix = "pretrain-" if name in study.pretrain else ""
    return fill(RESUME, study, job=f"{prefix}{name}")


def subset_index(study: Study, subset: str) -> str:
    return fill(SUBSET, study, subset=subset) + ".npy"


def prepared_dir(study: Study, dataset: str) -> str:
    return fill(PREPARED, study, dataset=dataset)


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
    return fill(EVAL, study, run=name, subset=subset or study.runs[name]["test"]) + "/metrics.json"


def features_file(study: Study, source: str, layer: str, subset: str) -> str:
    return fill(FEATURES, study, source=source, layer=layer, subset=subset)


def probe_inputs(study: Study, probe: str) -> dict[str, str]:
    """The features a probe reads: test, and train and val where it has them (zero_shot fits
    nothing; val: minibatch_gd's validation set)."""
    spec = study.probes[probe]
    roles = [role for role in ("test", "train", "val") if spec[role] is not None]
    return {role: features_file(study, spec["features"], spec["layer"], spec[role]) for role in roles}


def shift_dir(study: Study, shift_set: str) -> str:
    return fill(SHIFTED, study, shift=shift_set)


def sweep_file(study: Study, sweep: str, run: str) -> str:
    return fill(SWEEP, study, sweep=sweep, run=run)


def table_file(study: Study, table: str, suffix: str) -> str:
    return fill(TABLE, study, table=table) + f".{suffix}"


def figure_file(study: Study, figure: str) -> str:
    return fill(FIGURE, study, figure=figure)


def report_file(study: Study) -> str:
    return fill(REPORT, study)
