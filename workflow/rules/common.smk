# Configuration loading and the get_* helpers that rules use for inputs and params. The file
# layout lives in cvrepro/study/paths.py (its patterns are the rules' output paths), what each
# job receives in cvrepro/jobs/recipes.py and the figure and table kinds in
# cvrepro/report/figures/ and tables/: plain Python that tests import too. All checks run at load
# time, so a bad config stops Snakemake before any job.
import sys
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from cvrepro.jobs import console
from cvrepro.study import paths
from cvrepro.report.caveats import automatic_caveats
from cvrepro.config import ConfigError, load_config
from cvrepro.jobs import recipes
from cvrepro.data.datasets.registry import DATASETS, dataset_options, shift_conditions, source_dirs
from cvrepro.report.figures import FIGURE_KINDS, figure_groups
from cvrepro.report.grouping import manifest_files
from cvrepro.jobs.fingerprint import fingerprint as script_fingerprint
from cvrepro.study.names import AT_INIT, IMAGENET_SOURCES, INIT_KEYWORDS, PIXELS, at_init
from cvrepro.report.rst import escape as rst_escape
from cvrepro.study import REAL, REHEARSAL
from cvrepro.report.tables import TABLE_KINDS, table_groups

try:
    CONFIG, STUDIES = load_config(config, Path(workflow.basedir) / "studies")
except ConfigError as error:
    # One line on stderr and a non-zero exit: nothing is scheduled.
    sys.exit(f"Config error: {error}")

# Where this run writes: results/ and resources/, or a rehearsal's own results-rehearsal/ and
# resources-rehearsal/ (README "Before a long run"). Every rule names them as <results> and
# <resources>, Snakemake's path variables; paths.py builds the same paths from each Study.
LAYOUT = REHEARSAL if CONFIG["rehearsal"] else REAL


pathvars:
    results=LAYOUT.results,
    resources=LAYOUT.resources,


# A rehearsal never downloads ImageNet weights: it writes random ones of the same architecture
# here, in torchvision's format (cvrepro/nets/pretrained.py). None: torchvision's real weights.
RANDOM_WEIGHTS = paths.rooted(paths.RANDOM_WEIGHTS, LAYOUT) if CONFIG["rehearsal"] else None

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


wildcard_constraints:
    study=NAME,
    subset=NAME,
    run=NAME,
    table=NAME,
    figure=NAME,
    dataset=NAME,
    source=NAME + f"(?:{AT_INIT})?",
    probe=NAME,
    layer=NAME,
    shift=NAME,
    sweep=NAME,


def uses_gpu():
    """gpu=1 for heavy jobs unless the config pins the CPU (`--resources gpu=0` does not stop them)."""
    return 0 if CONFIG["device"] == "cpu" else 1


def all_targets():
    targets = []
    for study in STUDIES.values():
        targets += [
            paths.table_file(study, table, suffix) for table in study.tables for suffix in ("csv", "md")
        ]
        targets += [paths.figure_file(study, figure) for figure in study.figures]
        for sweep, spec in study.bn_sweeps.items():
            targets += [
                paths.sweep_file(study, sweep, job) for run in spec["runs"] for job in study.jobs(run)
            ]
        targets.append(paths.report_file(study))
    return targets + [paths.rooted(paths.INDEX, LAYOUT)]


def study_of(wildcards):
    return STUDIES[wildcards.study]


def rehearsal_flag(study):
    """{"rehearsal": True} for a rehearsal's tables and figures (they say so); nothing for a
    real run, whose params then stay as they were."""
    return {"rehearsal": True} if study.rehearsal_of is not None else {}


# --- data ------------------------------------------------------------------------------------


def get_dataset_files(wildcards):
    spec = DATASETS[wildcards.dataset]
    if not spec.files:  # a study's own dataset (cvrepro/data/sources): its folder or CSV
        return [spec.homepage] if spec.prepare != "torchvision" else []
    download = paths.rooted(paths.DOWNLOAD, LAYOUT)
    return [download.format(dataset=wildcards.dataset, filename=f.filename) for f in spec.files]


def get_dataset_options(wildcards):
    return dataset_options(CONFIG, wildcards.dataset)


def fetch_original(dataset, dest, log):
    """The download rule's work: a verified local copy (datasets.<name>.source_dir, Debian's
    directories) or a checksum-verified download, written atomically to `dest`; in a rehearsal,
    the synthetic file in the same format (written as cvrepro/data/builtin/<dataset>.py
    declares), verified the same way."""
    from cvrepro.data.datasets.download import fetch, fetch_synthetic
    from cvrepro.jobs.logs import log_to

    with log_to(log):
        if CONFIG["rehearsal"]:
            fetch_synthetic(dataset, dest.name, dest)
        else:
            fetch(DATASETS[dataset], dest.name, dest, source_dirs(CONFIG, dataset))
        print(f"{dataset}: {dest}")


# --- subsets ---------------------------------------------------------------------------------


def get_subset_refs(wildcards):
    """The index of each subset this one is drawn `within` or must `exclude`, by name."""
    study = study_of(wildcards)
    spec = study.subsets[wildcards.subset]
    refs = ([spec["within"]] if spec["within"] else []) + spec["exclude"]
    return {ref: paths.subset_index(study, ref) for ref in refs}


def get_subset_inputs(wildcards):
    study = study_of(wildcards)
    data = paths.prepared_dir(study, study.subsets[wildcards.subset]["dataset"])
    return {"data": data, "refs": list(get_subset_refs(wildcards).values())}


def get_subset_params(wildcards):
    spec = study_of(wildcards).subsets[wildcards.subset]
    return {key: spec[key] for key in ("split", "size", "draw", "classes", "seed", "within", "exclude")}


# --- runs and pretrainings -------------------------------------------------------------------


def get_train_inputs(wildcards):
    study = study_of(wildcards)
    run = study.runs[wildcards.run]
    inputs = {}
    for role in ("train", "val"):
        if run[role] is not None:
            files = paths.subset_files(study, run[role])
            inputs[f"{role}_data"], inputs[f"{role}_index"] = files["data"], files["index"]
    if run["init"] not in INIT_KEYWORDS:
        inputs["init"] = paths.job_file(study, run["init"], "model.pt")
    return inputs


def get_run_params(wildcards):
    """Everything that defines the run; a change here reruns it and what depends on it."""
    return recipes.run_params(study_of(wildcards), wildcards.run)


def get_resume_file(wildcards):
    return paths.resume_file(study_of(wildcards), wildcards.run)


def get_run_splits(wildcards):
    return recipes.run_splits(study_of(wildcards), wildcards.run)


def get_pretrain_inputs(wildcards):
    study = study_of(wildcards)
    spec = study.pretrain[wildcards.run]
    inputs = paths.subset_files(study, spec["data"])
    if spec["probe_data"] is not None:
        probe = paths.subset_files(study, spec["probe_data"])
        inputs.update({"probe_data": probe["data"], "probe_index": probe["index"]})
    if spec["probe_val"] is not None:  # the online probe's validation subset
        val = paths.subset_files(study, spec["probe_val"])
        inputs.update({"probe_val_data": val["data"], "probe_val_index": val["index"]})
    return inputs


def get_pretraining_params(wildcards):
    return recipes.pretraining_params(study_of(wildcards), wildcards.run)


def get_pretraining_splits(wildcards):
    return recipes.pretraining_splits(study_of(wildcards), wildcards.run)


def get_eval_inputs(wildcards):
    study = study_of(wildcards)
    return {
        "model": paths.job_file(study, wildcards.run, "model.pt"),
        **paths.subset_files(study, wildcards.subset),
    }


def get_eval_split(wildcards):
    return study_of(wildcards).subsets[wildcards.subset]["split"]


def get_eval_batch_size(wildcards):
    return study_of(wildcards).runs[wildcards.run]["eval_batch_size"]


# --- features and probes -----------------------------------------------------------------------


def get_extract_inputs(wildcards):
    study = study_of(wildcards)
    inputs = paths.subset_files(study, wildcards.subset)
    if wildcards.source != PIXELS and wildcards.source not in IMAGENET_SOURCES:
        # `<pretraining>@init` reads its pretraining's checkpoint for the architecture and the
        # normalisation, then draws the initial weights again from the pretraining's seed
        job = at_init(wildcards.source) or wildcards.source
        inputs["model"] = paths.job_file(study, job, "model.pt")
    return inputs


def get_init_seed(wildcards):
    """The seed of the pretraining whose initialisation `<pretraining>@init` extracts, else None."""
    job = at_init(wildcards.source)
    return study_of(wildcards).pretrain[job]["seed"] if job is not None else None


def get_imagenet_arch(wildcards):
    return wildcards.source.removeprefix("imagenet_") if wildcards.source in IMAGENET_SOURCES else None


def get_imagenet_weights(wildcards):
    """The study's torchvision ImageNet weights (IMAGENET1K_V1, ...) for a job that loads them;
    None for the others, so a change reruns only the jobs that use ImageNet weights."""
    study = study_of(wildcards)
    if "run" in wildcards.keys():
        uses = study.runs[wildcards.run]["init"] == "imagenet"
    else:
        uses = wildcards.source in IMAGENET_SOURCES
    return study.spec["imagenet_weights"] if uses else None


def get_probe_inputs(wildcards):
    return paths.probe_inputs(study_of(wildcards), wildcards.probe)


def get_probe_params(wildcards):
    return recipes.probe_params(study_of(wildcards), wildcards.probe)


# --- distribution shift ------------------------------------------------------------------------


def shift_set_of(wildcards):
    return study_of(wildcards).shift_sets[wildcards.shift]


def get_shift_inputs(wildcards):
    shift_set = shift_set_of(wildcards)
    inputs = paths.subset_files(study_of(wildcards), shift_set["subset"])
    if shift_set["source"] != "generated":  # the published CIFAR-10-C / CIFAR-100-C files
        inputs["published"] = paths.prepared_dir(study_of(wildcards), shift_set["source"])
    return inputs


def get_shift_split(wildcards):
    return study_of(wildcards).subsets[shift_set_of(wildcards)["subset"]]["split"]


def get_shift_conditions(wildcards):
    return shift_conditions(shift_set_of(wildcards))


def get_shift_seed(wildcards):
    return shift_set_of(wildcards)["seed"]


def get_sweep_spec(wildcards):
    return study_of(wildcards).bn_sweeps[wildcards.sweep]


def get_sweep_shift_dir(wildcards):
    return paths.shift_dir(study_of(wildcards), get_sweep_spec(wildcards)["shift_set"])


# --- tables and figures: what each kind reads is declared with the kind ------------------------


def get_table_inputs(wildcards):
    return table_inputs(wildcards.study, wildcards.table)


# A kind's inputs are asked for by the rule's input and params functions: computed once per job.
@lru_cache(maxsize=None)
def table_inputs(study_name, table_name):
    study = STUDIES[study_name]
    table = study.tables[table_name]
    return TABLE_KINDS[table["kind"]].inputs(study, table)


def get_table_spec(wildcards):
    """The table with its grid points' values resolved (its files come by row: get_table_inputs)."""
    study = study_of(wildcards)
    table = study.tables[wildcards.table]
    groups = table_groups(study, table)
    rows = [
        row for section in (groups.values() if isinstance(groups, dict) else [groups]) for row, _ in section
    ]
    grid = {row: study.grid_values(row) for row in rows if study.grid_values(row)}
    return {**table, "grid": grid, **rehearsal_flag(study)}


def get_figure_inputs(wildcards):
    return figure_inputs(wildcards.study, wildcards.figure)


@lru_cache(maxsize=None)
def figure_inputs(study_name, figure_name):
    study = STUDIES[study_name]
    figure = study.figures[figure_name]
    return FIGURE_KINDS[figure["kind"]].inputs(study, figure)


def get_figure_spec(wildcards):
    study = study_of(wildcards)
    figure = study.figures[wildcards.figure]
    split = study.subsets[figure["subset"]]["split"] if figure["subset"] else None
    rows = [row for row, _ in figure_groups(study, figure)]
    grid = {row: study.grid_values(row) for row in rows if study.grid_values(row)}
    return {**figure, "split": split, "grid": grid, **rehearsal_flag(study)}


# --- the final report --------------------------------------------------------------------------


def job_metrics_files(name):
    """metrics.json of every training run and pretraining of a study (their time and hardware)."""
    study = STUDIES[name]
    return [paths.job_file(study, job, "metrics.json") for job in [*study.runs, *study.pretrain]]


def get_report_inputs(wildcards):
    """A study report's files by role and name (cvrepro.report.grouping): its tables' three
    files, its figures and the metrics of its trainings."""
    study = study_of(wildcards)
    suffixes = {"md": "md", "csv": "csv", "compare": "compare.csv"}
    tables = {
        role: {name: [paths.table_file(study, name, suffix)] for name in study.tables}
        for role, suffix in suffixes.items()
    }
    return {
        **tables,
        "figures": {name: [paths.figure_file(study, name)] for name in study.figures},
        "metrics": {
            job: [paths.job_file(study, job, "metrics.json")] for job in [*study.runs, *study.pretrain]
        },
        # The study's own datasets: their prepared folders hold the data cards (card.md).
        "cards": {name: [paths.prepared_dir(study, name)] for name in study.spec["datasets"]},
    }


def get_report_jobs(wildcards):
    """job -> (run | pretraining, its metrics.json)."""
    study = study_of(wildcards)
    return {
        name: (
            "pretraining" if name in study.pretrain else "run",
            paths.job_file(study, name, "metrics.json"),
        )
        for name in [*study.runs, *study.pretrain]
    }


def get_report_caveats(wildcards):
    spec = study_of(wildcards).spec
    return automatic_caveats(spec) + spec["caveats"]


def get_rehearsal_plan(wildcards):
    """A rehearsal's report estimates what the full run will cost (cvrepro/report/cost/plan.py); None for a
    real run."""
    study = study_of(wildcards)
    if study.rehearsal_of is None:
        return None
    from cvrepro.report.cost.plan import work_plan
    from cvrepro.data.datasets.synthetic import prepared_shape

    # The forecast is for this machine as Snakemake was started on it: --cores and --resources gpu.
    cores, gpus = (getattr(r, "value", r) for r in map(workflow.global_resources.get, ("_cores", "gpu")))
    machine = {
        "threads": min(CONFIG["threads"], cores or CONFIG["threads"]),
        "device": CONFIG["device"],
        "precision": CONFIG["precision"],
        "cores": cores,
        "gpus": gpus,
        "gpu": CONFIG["forecast_gpu"],
    }
    sides = {d: prepared_shape(d, dataset_options(CONFIG, d)) for d in DATASETS}
    return work_plan(study, sides, CONFIG, machine)


def get_index_studies(wildcards):
    """The selected studies' descriptions; the index reads each study's numbers from its files."""
    return {name: {"description": study.spec["description"]} for name, study in STUDIES.items()}


# --- code fingerprints ---------------------------------------------------------------------------
# Each script-running rule has the param `code=code_fingerprint("<its script>")`, made of its script,
# the cvrepro modules that imports (transitively) and the pinned package versions. Snakemake's
# params trigger then reruns exactly the jobs whose code changed, and their descendants;
# comments, docstrings and reformatting change nothing (see cvrepro/jobs/fingerprint.py).


# Snakemake makes .snakemake/ only after parsing; made now, the first DAG build already keeps the
# parsed-code cache (cvrepro/jobs/fingerprint.py: CACHE_FILE) for the next.
Path(".snakemake").mkdir(exist_ok=True)


@lru_cache(maxsize=None)
def code_fingerprint(script):
    """{"hash", "modules", "packages"} of a rule's script, given as in its `script:` directive."""
    return script_fingerprint(Path(workflow.basedir) / "workflow" / "rules" / script)
