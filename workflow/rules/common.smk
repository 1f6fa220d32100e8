# Configuration loading and the get_* helpers that rules use for inputs and params.
# All checks run here, at load time, so a bad config stops Snakemake before any job.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from cvrepro.config import IMAGENET_SOURCES, INIT_KEYWORDS, PIXELS, ConfigError, shift_conditions, dataset_options, dataset_source_dirs, load_config
from cvrepro.datasets.registry import DATASETS
from cvrepro.report import automatic_caveats

try:
    CONFIG, STUDIES = load_config(config, Path(workflow.basedir) / "studies")
except ConfigError as error:
    # One line on stderr and a non-zero exit: nothing is scheduled.
    sys.exit(f"Config error: {error}")

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


wildcard_constraints:
    study=NAME,
    subset=NAME,
    run=NAME,
    table=NAME,
    figure=NAME,
    dataset=NAME,
    source=NAME,
    probe=NAME,
    layer=NAME,
    shift=NAME,
    sweep=NAME,


def uses_gpu():
    """gpu=1 for heavy jobs unless the config pins the CPU (`--resources gpu=0` does not stop them)."""
    return 0 if CONFIG["device"] == "cpu" else 1


def all_targets():
    targets = []
    for name, study in STUDIES.items():
        targets += expand("results/{study}/tables/{table}.csv", study=name, table=study.tables)
        targets += expand("results/{study}/tables/{table}.md", study=name, table=study.tables)
        targets += expand("results/{study}/figures/{figure}.png", study=name, figure=study.figures)
        for sweep, spec in study.bn_sweeps.items():
            targets += expand("results/{study}/bn_sweeps/{sweep}/{run}.csv", study=name, sweep=sweep, run=spec["runs"])
        targets.append(f"results/{name}/REPORT.md")
    return targets + ["results/REPORT.md"]


# --- data ------------------------------------------------------------------------------------


def get_dataset_files(wildcards):
    spec = DATASETS[wildcards.dataset]
    return [f"resources/downloads/{wildcards.dataset}/{f.filename}" for f in spec.files]


def get_dataset_options(wildcards):
    return dataset_options(CONFIG, wildcards.dataset)


def get_source_dirs(wildcards):
    return dataset_source_dirs(CONFIG, wildcards.dataset)


# --- subsets ---------------------------------------------------------------------------------


def subset_spec(study, subset):
    return STUDIES[study].subsets[subset]


def get_subset_inputs(wildcards):
    spec = subset_spec(wildcards.study, wildcards.subset)
    refs = ([spec["within"]] if spec["within"] else []) + spec["exclude"]
    return {
        "data": f"resources/prepared/{spec['dataset']}",
        "refs": [f"results/{wildcards.study}/subsets/{ref}.npy" for ref in refs],
    }


def get_subset_params(wildcards):
    spec = subset_spec(wildcards.study, wildcards.subset)
    return {key: spec[key] for key in ("split", "size", "classes", "seed", "within", "exclude")}


# --- runs ------------------------------------------------------------------------------------


def run_spec(wildcards):
    return STUDIES[wildcards.study].runs[wildcards.run]


def subset_files(study, subset):
    """The prepared dataset and the index file that together define a subset."""
    spec = subset_spec(study, subset)
    return {
        "data": f"resources/prepared/{spec['dataset']}",
        "index": f"results/{study}/subsets/{subset}.npy",
    }


def get_train_inputs(wildcards):
    run = run_spec(wildcards)
    inputs = {}
    for role in ("train", "val"):
        if run[role] is not None:
            files = subset_files(wildcards.study, run[role])
            inputs[f"{role}_data"] = files["data"]
            inputs[f"{role}_index"] = files["index"]
    if run["init"] not in INIT_KEYWORDS:
        inputs["init"] = model_file(wildcards.study, run["init"])
    return inputs


def job_dir(study, name):
    """Where a run or a pretraining of the study writes model.pt, history.csv, metrics.json."""
    kind = "pretrain" if name in STUDIES[study].pretrain else "runs"
    return f"results/{study}/{kind}/{name}"


def model_file(study, name):
    """The checkpoint of a run or a pretraining of the study."""
    return f"{job_dir(study, name)}/model.pt"


def get_train_params(wildcards):
    """Everything that defines the run; a change here reruns it and what depends on it."""
    run = run_spec(wildcards)
    subsets = STUDIES[wildcards.study].subsets
    return {
        **{key: value for key, value in run.items() if key not in ("train", "val", "test")},
        "train_split": subsets[run["train"]]["split"],
        "val_split": subsets[run["val"]]["split"] if run["val"] else None,
    }


def get_eval_inputs(wildcards):
    files = subset_files(wildcards.study, wildcards.subset)
    return {
        "model": f"results/{wildcards.study}/runs/{wildcards.run}/model.pt",
        "data": files["data"],
        "index": files["index"],
    }


def get_eval_split(wildcards):
    return subset_spec(wildcards.study, wildcards.subset)["split"]


# --- tables and figures ----------------------------------------------------------------------


def get_table_inputs(wildcards):
    study = STUDIES[wildcards.study]
    table = study.tables[wildcards.table]
    if table["sweep"] is not None:
        runs = study.bn_sweeps[table["sweep"]]["runs"]
        return {
            "sweeps": [f"results/{wildcards.study}/bn_sweeps/{table['sweep']}/{run}.csv" for run in runs],
            "train": [f"results/{wildcards.study}/runs/{run}/metrics.json" for run in runs],
        }
    return {
        "train": [f"results/{wildcards.study}/runs/{run}/metrics.json" for run in table["runs"]],
        "test": [test_metrics_file(wildcards.study, run, table["test"]) for run in table["runs"]],
        "pretrain": [f"results/{wildcards.study}/pretrain/{name}/metrics.json" for name in table["pretrain"]],
        "probes": [f"results/{wildcards.study}/probes/{probe}/metrics.json" for probe in table["probes"]],
    }


def get_table_spec(wildcards):
    study = STUDIES[wildcards.study]
    table = study.tables[wildcards.table]
    if table["sweep"] is not None:
        return {**table, "runs": study.bn_sweeps[table["sweep"]]["runs"]}
    return table


def test_metrics_file(study, name, subset=None):
    """Test-set metrics of a run (its evaluation on `subset`, default its own test) or of a probe."""
    if name in STUDIES[study].probes:
        return f"results/{study}/probes/{name}/metrics.json"
    return f"results/{study}/evals/{name}/{subset or STUDIES[study].runs[name]['test']}/metrics.json"


def get_figure_inputs(wildcards):
    """What each kind of figure reads: histories, extracted features, or a subset's images."""
    figure = STUDIES[wildcards.study].figures[wildcards.figure]
    if figure["kind"] == "training_curves":  # runs and pretrainings
        return [f"{job_dir(wildcards.study, name)}/history.csv" for name in figure["runs"]]
    study = STUDIES[wildcards.study]
    if figure["kind"] in ("confusion", "roc", "class_accuracy"):
        return [test_metrics_file(wildcards.study, name) for name in figure["runs"]]
    if figure["kind"] == "activations":
        files = subset_files(wildcards.study, figure["subset"])
        return [model_file(wildcards.study, figure["runs"][0]), files["data"], files["index"]]
    if figure["kind"] == "grad_flow":
        return [f"results/{wildcards.study}/runs/{run}/grad_flow.csv" for run in figure["runs"]]
    if figure["kind"] == "bn_sweep":
        runs = STUDIES[wildcards.study].bn_sweeps[figure["sweep"]]["runs"]
        return [f"results/{wildcards.study}/bn_sweeps/{figure['sweep']}/{run}.csv" for run in runs]
    if figure["kind"] == "tsne":
        return [f"results/{wildcards.study}/features/{figure['features']}/penultimate/{figure['subset']}.npz"]
    files = subset_files(wildcards.study, figure["subset"])
    return [files["data"], files["index"]]


def get_figure_spec(wildcards):
    figure = STUDIES[wildcards.study].figures[wildcards.figure]
    split = subset_spec(wildcards.study, figure["subset"])["split"] if figure["subset"] else None
    runs = STUDIES[wildcards.study].bn_sweeps[figure["sweep"]]["runs"] if figure["sweep"] else figure["runs"]
    return {**figure, "split": split, "runs": runs}


# --- pretraining, features, probes -------------------------------------------------------------


def get_pretrain_inputs(wildcards):
    spec = STUDIES[wildcards.study].pretrain[wildcards.run]
    inputs = subset_files(wildcards.study, spec["data"])
    if spec["probe_data"] is not None:
        probe = subset_files(wildcards.study, spec["probe_data"])
        inputs.update({"probe_data": probe["data"], "probe_index": probe["index"]})
    return inputs


def get_pretrain_params(wildcards):
    spec = STUDIES[wildcards.study].pretrain[wildcards.run]
    subsets = STUDIES[wildcards.study].subsets
    return {
        **{key: value for key, value in spec.items() if key not in ("data", "probe_data")},
        "data_split": subsets[spec["data"]]["split"],
        "probe_split": subsets[spec["probe_data"]]["split"] if spec["probe_data"] else None,
    }


def get_extract_inputs(wildcards):
    inputs = subset_files(wildcards.study, wildcards.subset)
    if wildcards.source != PIXELS and wildcards.source not in IMAGENET_SOURCES:
        inputs["model"] = model_file(wildcards.study, wildcards.source)
    return inputs


def get_imagenet_arch(wildcards):
    return wildcards.source.removeprefix("imagenet_") if wildcards.source in IMAGENET_SOURCES else None


def get_probe_inputs(wildcards):
    probe = STUDIES[wildcards.study].probes[wildcards.probe]
    base = f"results/{wildcards.study}/features/{probe['features']}/{probe['layer']}"
    inputs = {"test": f"{base}/{probe['test']}.npz"}
    if probe["train"] is not None:  # zero_shot fits nothing
        inputs["train"] = f"{base}/{probe['train']}.npz"
    return inputs


def get_probe_params(wildcards):
    probe = STUDIES[wildcards.study].probes[wildcards.probe]
    return {key: value for key, value in probe.items() if key not in ("features", "layer", "train", "test")}


# --- distribution shift ------------------------------------------------------------------------


def get_shift_inputs(wildcards):
    shift_set = STUDIES[wildcards.study].shift_sets[wildcards.shift]
    inputs = subset_files(wildcards.study, shift_set["subset"])
    if shift_set["source"] != "generated":  # the published CIFAR-10-C / CIFAR-100-C files
        inputs["published"] = f"resources/prepared/{shift_set['source']}"
    return inputs


def get_shift_split(wildcards):
    return subset_spec(wildcards.study, STUDIES[wildcards.study].shift_sets[wildcards.shift]["subset"])["split"]


def get_shift_conditions(wildcards):
    return shift_conditions(STUDIES[wildcards.study].shift_sets[wildcards.shift])


def get_shift_seed(wildcards):
    return STUDIES[wildcards.study].shift_sets[wildcards.shift]["seed"]


def get_sweep_spec(wildcards):
    return STUDIES[wildcards.study].bn_sweeps[wildcards.sweep]


def get_sweep_shift_dir(wildcards):
    return f"results/{wildcards.study}/shifted/{get_sweep_spec(wildcards)['shift_set']}"


# --- the final report --------------------------------------------------------------------------


def job_metrics_files(study):
    """metrics.json of every training run and pretraining of a study (their time and hardware)."""
    spec = STUDIES[study]
    return [f"{job_dir(study, name)}/metrics.json" for name in [*spec.runs, *spec.pretrain]]


def get_report_inputs(wildcards):
    spec = STUDIES[wildcards.study]
    return {
        "md": [f"results/{wildcards.study}/tables/{name}.md" for name in spec.tables],
        "csv": [f"results/{wildcards.study}/tables/{name}.csv" for name in spec.tables],
        "figures": [f"results/{wildcards.study}/figures/{name}.png" for name in spec.figures],
        "metrics": job_metrics_files(wildcards.study),
    }


def get_report_jobs(wildcards):
    """job -> (run | pretraining, its metrics.json)."""
    spec = STUDIES[wildcards.study]
    return {
        name: ("pretraining" if name in spec.pretrain else "run", f"{job_dir(wildcards.study, name)}/metrics.json")
        for name in [*spec.runs, *spec.pretrain]
    }


def get_report_caveats(wildcards):
    spec = STUDIES[wildcards.study].spec
    return automatic_caveats(spec) + spec["caveats"]


def get_index_studies(wildcards):
    return {
        name: {
            "description": study.spec["description"],
            "runs": len(study.runs) + len(study.pretrain),
            "tables": len(study.tables),
            "figures": len(study.figures),
        }
        for name, study in STUDIES.items()
    }
