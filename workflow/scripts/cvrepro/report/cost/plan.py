"""What a study's full run will fetch and cost: its work counted from the study, its speed
measured once per study in the rehearsal's report job (README "Before a long run").

`work_plan(study, side_of, ...)` runs while Snakemake parses the workflow (no torch): for a
rehearsal's study, every job that runs a network in the study as written (`Study.rehearsal_of`),
with the image passes it makes in the full run and in the rehearsal, and the network it runs
(with the recipe it trains by); which training starts from which; the files the real run fetches
(cvrepro.report.cost.fetches); the machine the forecast is for. Training passes are images x epochs x
views; forward-only passes are validation after every epoch, the final scoring, evaluations,
features and BN sweeps (conditions x images x passes per batch size and order).

`cost_markdown(plan, ...)` runs in the rehearsal's report job: each network's forward FLOPs per
image (torch's FlopCounterMode on the meta device: no memory, no weights), its training and
forward speed measured at the real batch and image size (cvrepro.report.cost.calibrate), the
rehearsal's own jobs' start-up (cvrepro.report.cost.forecast), and from them the forecast per rule and
for the whole run, on this device and, when one is named, on a GPU (cvrepro.report.cost.gpus).
"""

from __future__ import annotations

import json

from cvrepro.data.augment_presets import eval_resize
from cvrepro.data.datasets.registry import num_classes, shift_conditions
from cvrepro.nets.catalog import is_torchvision, weights_entry
from cvrepro.report.cost import fetches, forecast, gpus
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.report.grouping import manifest_files
from cvrepro.report.tables import TABLE_KINDS
from cvrepro.study import Study, paths
from cvrepro.study.names import IMAGENET_SOURCES, PIXELS, at_init
from cvrepro.train.methods import METHODS

IMAGENET_INPUT = 224  # torchvision's ImageNet models see 224-px images (extract.py)
TRAIN_FACTOR = forecast.TRAIN_FACTOR
FORWARD_BATCH = gpus.FORWARD_BATCH  # feature extraction's batches (cvrepro.nets.inference)


def work_plan(
    study: Study, side_of: dict[str, tuple[int, int]], config: dict | None = None, machine: dict | None = None
) -> dict:
    """The full run's and the rehearsal's work per job of a rehearsal's `study`, the files it
    fetches and the machine to forecast for. `side_of`: dataset -> (image side, channels) as
    prepared; `config`: the loaded config (datasets' source_dir); `machine`: {threads, device,
    precision, cores, gpus, gpu} (the config's and Snakemake's; gpu: the one to forecast for)."""
    full = study.rehearsal_of
    stages = {"full": (full, full.sizes), "rehearsal": (study, study.sizes)}
    networks: dict[str, dict] = {}
    jobs: list[dict] = []

    def add(rule: str, job: str, network: str, passes) -> None:
        """passes(study, sizes) -> {"train": n, "forward": m}, for the full run and the rehearsal."""
        counts = {stage: passes(s, sizes) for stage, (s, sizes) in stages.items()}
        jobs.append({"rule": rule, "job": job, "network": network, **counts})

    for name, run in full.runs.items():
        networks[name] = _network(full, run["model"], run["train"], eval_resize(run["augment"]), side_of)
        networks[name].update(kind="supervised", recipe=run, eval_batch=run["eval_batch_size"])
        add("train", name, name, lambda s, n, name=name: _run_passes(s.runs[name], n))
    for name, pre in full.pretrain.items():
        networks[name] = _network(full, pre["model"], pre["data"], None, side_of)
        networks[name].update(kind="pretrain", recipe=pre, eval_batch=FORWARD_BATCH)
        add("pretrain", name, name, lambda s, n, name=name: _pretrain_passes(s.pretrain[name], n))
    for rule, job, network, subset in _forward_jobs(full):
        if network in IMAGENET_SOURCES:
            networks[network] = _imagenet_network(full, network, subset, side_of)
        add(rule, job, network, lambda s, n, subset=subset: {"train": 0, "forward": n[subset]})
    for sweep_name, sweep in full.bn_sweeps.items():
        for run in (job for name in sweep["runs"] for job in full.jobs(name)):
            add("bn_sweep", f"{sweep_name}/{run}", run, lambda s, n, sweep=sweep: _sweep_passes(s, sweep, n))
            jobs[-1]["sweep"] = {k: sweep[k] for k in ("batch_sizes", "modes", "prior")}
    items = fetches.fetch_items(full, config) if config is not None else []
    return {
        "study": full.name,
        "results": study.layout.results,
        "resources": study.layout.resources,
        "networks": networks,
        "jobs": jobs,
        # which training starts from which (the forecast's longest chain)
        "inits": {name: run["init"] for name, run in full.runs.items() if run["init"] in networks},
        "counts": _job_counts(full, items),
        "fetches": items,
        "prepared": fetches.prepared_bytes(full, side_of),
        "machine": machine or {},
    }


def _job_counts(study: Study, items: list[dict]) -> dict[str, int]:
    """Jobs per rule that run no network, as the study declares them (the report job replaces
    these with the rehearsal's own count of its DAG's jobs where it has one)."""
    return {
        "download": sum(item["kind"] == "dataset" for item in items),
        "prepare": len(fetches.study_datasets(study)),
        "subset": len(study.subsets),
        "shift": len(study.shift_sets),
        "probe": len(study.probes),
        "table": len(study.tables),
        "figure": len(study.figures),
        "report": 1,
    }


def _trained_images(job: dict, images: int) -> int:
    """Images x epochs, or `steps` batches where the recipe counts steps."""
    return (
        min(job["steps"] * job["batch_size"], images * job["epochs"])
        if job["steps"]
        else images * job["epochs"]
    )


def _run_passes(run: dict, sizes: dict[str, int]) -> dict[str, int]:
    """Training images x epochs; validation after every epoch and the final scoring of both sets."""
    train, val = sizes[run["train"]], sizes[run["val"]] if run["val"] else 0
    return {"train": _trained_images(run, train), "forward": val * run["epochs"] + train + val}


def _pretrain_passes(pretraining: dict, sizes: dict[str, int]) -> dict[str, int]:
    """Images x epochs x views (each method declares its own; SimCLR: 2); the probe's images,
    featurised every epoch."""
    kind = METHODS[pretraining["method"]]
    views = kind.pixel_views(pretraining) if kind.pixel_views else kind.views  # multi-crop: pixels
    probe = sizes[pretraining["probe_data"]] if pretraining["probe_data"] else 0
    epochs = pretraining["epochs"]
    return {
        "train": round(_trained_images(pretraining, sizes[pretraining["data"]]) * views),
        "forward": probe * epochs,
    }


def _sweep_passes(study: Study, sweep: dict, sizes: dict[str, int]) -> dict[str, int]:
    """Conditions (and the clean set) x images x orders x (eval once + passes per batch size);
    `sweep_images`: conditions x images x orders, each through every batch size and mode (the
    forecast times them at a cost per image measured for the sweep: BatchNorm grouped by test
    batch costs more than a plain forward pass)."""
    shift = study.shift_sets[sweep["shift_set"]]
    images = (len(shift_conditions(shift)) + 1) * sizes[shift["subset"]] * len(sweep["orders"])
    per_size = 2 if "adapt" in sweep["modes"] else 1 if "train" in sweep["modes"] else 0
    per_order = ("eval" in sweep["modes"]) + len(sweep["batch_sizes"]) * per_size
    return {"train": 0, "forward": images * per_order, "sweep_images": images}


def _network(study: Study, model: dict, subset: str, resize: int | None, side_of: dict) -> dict:
    side, channels = side_of[study.subsets[subset]["dataset"]]
    classes = model["head"]["outputs"] or num_classes(study.subsets[subset])
    arch = {**model, "in_channels": channels, "num_classes": classes, "image_size": side}
    return {"arch": arch, "input": resize or side}


def _imagenet_network(study: Study, source: str, subset: str, side_of: dict) -> dict:
    _, channels = side_of[study.subsets[subset]["dataset"]]
    name = source.removeprefix("imagenet_")
    model = {"arch": name, "stem": "imagenet", "width": None}
    side = IMAGENET_INPUT  # cvrepro's ResNets; other archs at their weights' crop (transforms())
    if is_torchvision(name):  # grey as extract.py feeds it (cvrepro.nets.imagenet_features)
        side = weights_entry(name, study.spec["imagenet_weights"])["transforms"]["crop"]
        model["grey"] = "sum"
    arch = {**model, "embedding_dim": None, "head": {"kind": "linear", "dropout": 0.0, "hidden": 512}}
    return {
        "arch": {**arch, "in_channels": channels, "num_classes": 1000, "image_size": side},
        "input": side,
        "kind": "forward",
        "eval_batch": FORWARD_BATCH,
    }


def _forward_jobs(study: Study) -> list[tuple[str, str, str, str]]:
    """(rule, job, network, subset) of every evaluation and feature extraction the study's tables,
    figures and probes read: the files they name are those jobs' outputs, whose wildcards the
    outputs' declared patterns give back (cvrepro.study.paths)."""
    files: set[str] = set()
    for table in study.tables.values():
        files.update(manifest_files(TABLE_KINDS[table["kind"]].inputs(study, table)))
    for figure in study.figures.values():
        files.update(manifest_files(FIGURE_KINDS[figure["kind"]].inputs(study, figure)))
    for probe in study.probes:
        files.update(paths.probe_inputs(study, probe).values())
    found = []
    for file in sorted(files):
        if job := paths.parse(paths.EVAL + "/{file}", study, file):
            found.append(("evaluate", f"{job['run']}/{job['subset']}", job["run"], job["subset"]))
        elif (job := paths.parse(paths.FEATURES, study, file)) and job["source"] != PIXELS:
            name = f"{job['source']}/{job['layer']}/{job['subset']}"
            # `<pretraining>@init` runs its pretraining's network (at its initial weights)
            found.append(("extract", name, at_init(job["source"]) or job["source"], job["subset"]))
    return found


# --- in the report job -----------------------------------------------------------------------------


def forward_flops(network: dict) -> int:
    """FLOPs (2 per multiply-add) of one image's forward pass, counted on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cvrepro.nets.models import build_model

    arch = network["arch"]
    with torch.device("meta"):
        model = build_model(arch).eval()
        image = torch.empty(1, arch["in_channels"], network["input"], network["input"])
        with FlopCounterMode(display=False) as counter:
            model(image)
    return int(counter.get_total_flops())


def network_flops(networks: dict[str, dict]) -> dict[str, int]:
    """name -> forward FLOPs per image, counted once per architecture and input size."""
    counted: dict[str, int] = {}
    found = {}
    for name, network in networks.items():
        key = json.dumps([network["arch"], network["input"]], sort_keys=True)
        counted[key] = counted.get(key) or forward_flops(network)
        found[name] = counted[key]
    return found


def job_work(job: dict, flops: dict[str, int], stage: str) -> float:
    """The job's FLOPs in `stage` ("full" or "rehearsal")."""
    return (TRAIN_FACTOR * job[stage]["train"] + job[stage]["forward"]) * flops[job["network"]]
