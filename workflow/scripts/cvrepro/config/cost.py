"""What a study's full run will cost: its work counted from the study, its speed measured by the
rehearsal (README "Before a long run").

`work_plan(study)` runs while Snakemake parses the workflow (no torch): for a rehearsal's study,
every job that runs a network in the study as written (`Study.rehearsal_of`), with the image
passes it makes in the full run and in the rehearsal, and the network it runs. Training passes are
images x epochs x views; forward-only passes are validation after every epoch, the final scoring,
evaluations, features and BN sweeps (conditions x images x passes per batch size and order).

`cost_markdown(plan, metrics, device)` runs in the rehearsal's report job: each network's forward
FLOPs per image (torch's FlopCounterMode on the meta device: no memory, no weights), its training
speed as the rehearsal measured it, and from both the full run's FLOPs and time per rule.
"""

from __future__ import annotations

import statistics

from cvrepro.config.checks_data import check_subsets, num_classes, shift_conditions
from cvrepro.data.augment_presets import eval_resize
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.report.grouping import manifest_files
from cvrepro.report.tables import TABLE_KINDS
from cvrepro.study import Study, paths
from cvrepro.study.names import IMAGENET_SOURCES, PIXELS

IMAGENET_INPUT = 224  # torchvision's ImageNet models see 224-px images (extract.py)
TRAIN_FACTOR = 3  # a training pass: the forward pass and a backward pass of about twice its FLOPs


def work_plan(study: Study, side_of: dict[str, tuple[int, int]]) -> dict:
    """The full run's and the rehearsal's work per job of a rehearsal's `study`. `side_of`:
    dataset -> (image side, channels) as prepared."""
    full = study.rehearsal_of
    stages = {"full": (full, check_subsets(full)), "rehearsal": (study, study.drawn)}
    networks: dict[str, dict] = {}
    jobs: list[dict] = []

    def add(rule: str, job: str, network: str, passes) -> None:
        """passes(study, sizes) -> {"train": n, "forward": m}, for the full run and the rehearsal."""
        counts = {stage: passes(s, sizes) for stage, (s, sizes) in stages.items()}
        jobs.append({"rule": rule, "job": job, "network": network, **counts})

    for name, run in full.runs.items():
        networks[name] = _network(full, run["model"], run["train"], eval_resize(run["augment"]), side_of)
        add("train", name, name, lambda s, n, name=name: _run_passes(s.runs[name], n))
    for name, pre in full.pretrain.items():
        networks[name] = _network(full, pre["model"], pre["data"], None, side_of)
        add("pretrain", name, name, lambda s, n, name=name: _pretrain_passes(s.pretrain[name], n))
    for rule, job, network, subset in _forward_jobs(full):
        if network in IMAGENET_SOURCES:
            networks[network] = _imagenet_network(full, network, subset, side_of)
        add(rule, job, network, lambda s, n, subset=subset: {"train": 0, "forward": n[subset]})
    for sweep_name, sweep in full.bn_sweeps.items():
        for run in (job for name in sweep["runs"] for job in full.jobs(name)):
            add("bn_sweep", f"{sweep_name}/{run}", run, lambda s, n, sweep=sweep: _sweep_passes(s, sweep, n))
    return {"networks": networks, "jobs": jobs}


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
    """Images x epochs x views (SimCLR: 2); the probe's images, featurised every epoch."""
    views = 2 if pretraining["method"] == "simclr" else 1
    probe = sizes[pretraining["probe_data"]] if pretraining["probe_data"] else 0
    epochs = pretraining["epochs"]
    return {
        "train": _trained_images(pretraining, sizes[pretraining["data"]]) * views,
        "forward": probe * epochs,
    }


def _sweep_passes(study: Study, sweep: dict, sizes: dict[str, int]) -> dict[str, int]:
    """Conditions (and the clean set) x images x orders x (eval once + passes per batch size)."""
    shift = study.shift_sets[sweep["shift_set"]]
    conditions = len(shift_conditions(shift)) + 1
    per_size = 2 if "adapt" in sweep["modes"] else 1 if "train" in sweep["modes"] else 0
    per_order = ("eval" in sweep["modes"]) + len(sweep["batch_sizes"]) * per_size
    return {"train": 0, "forward": conditions * sizes[shift["subset"]] * len(sweep["orders"]) * per_order}


def _network(study: Study, model: dict, subset: str, resize: int | None, side_of: dict) -> dict:
    side, channels = side_of[study.subsets[subset]["dataset"]]
    classes = model["head"]["outputs"] or num_classes(study.subsets[subset])
    arch = {**model, "in_channels": channels, "num_classes": classes, "image_size": side}
    return {"arch": arch, "input": resize or side}


def _imagenet_network(study: Study, source: str, subset: str, side_of: dict) -> dict:
    _, channels = side_of[study.subsets[subset]["dataset"]]
    model = {"arch": source.removeprefix("imagenet_"), "stem": "imagenet", "width": None}
    arch = {**model, "embedding_dim": None, "head": {"kind": "linear", "dropout": 0.0, "hidden": 512}}
    return {
        "arch": {**arch, "in_channels": channels, "num_classes": 1000, "image_size": IMAGENET_INPUT},
        "input": IMAGENET_INPUT,
    }


def _forward_jobs(study: Study) -> list[tuple[str, str, str, str]]:
    """(rule, job, network, subset) of every evaluation and feature extraction the study's tables,
    figures and probes read: the files they name are the jobs' outputs."""
    files: set[str] = set()
    for table in study.tables.values():
        files.update(manifest_files(TABLE_KINDS[table["kind"]].inputs(study, table)))
    for figure in study.figures.values():
        files.update(manifest_files(FIGURE_KINDS[figure["kind"]].inputs(study, figure)))
    for probe in study.probes:
        files.update(paths.probe_inputs(study, probe).values())
    found = []
    for file in sorted(files):
        parts = file.removeprefix(f"{study.results}/").split("/")
        if parts[0] == "evals":  # evals/<run>/<subset>/metrics.json
            found.append(("evaluate", f"{parts[1]}/{parts[2]}", parts[1], parts[2]))
        elif parts[0] == "features" and parts[1] != PIXELS:  # features/<source>/<layer>/<subset>.npz
            subset = parts[3].removesuffix(".npz")
            found.append(("extract", f"{parts[1]}/{parts[2]}/{subset}", parts[1], subset))
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


def _job_work(job: dict, flops: dict[str, int], stage: str) -> float:
    """The job's FLOPs in `stage` ("full" or "rehearsal")."""
    return (TRAIN_FACTOR * job[stage]["train"] + job[stage]["forward"]) * flops[job["network"]]


def cost_markdown(plan: dict, metrics: dict[str, dict], device: str) -> str:
    """The "What the real run will cost" section. `metrics`: training and pretraining job ->
    its rehearsal metrics.json (their training seconds give each network's speed)."""
    flops = {key: forward_flops(network) for key, network in plan["networks"].items()}
    rates = {}
    for job in plan["jobs"]:
        seconds = (metrics.get(job["job"]) or {}).get("train_time_s")
        if job["rule"] in ("train", "pretrain") and seconds:
            done = TRAIN_FACTOR * job["rehearsal"]["train"] * flops[job["network"]]
            rates[job["network"]] = done / seconds
    if not rates:
        return "This study trains nothing: its cost is data preparation, features and probes.\n"
    fallback = statistics.median(rates.values())  # networks the rehearsal did not train (ImageNet's)
    guessed = sorted(key for key in plan["networks"] if key not in rates)
    rates.update(dict.fromkeys(guessed, fallback))
    # A rehearsal's batches hold a few images, so a small network's measured speed is mostly
    # per-step overhead; full batches run it nearer the study's best FLOP rate. The estimate is
    # therefore a range: every job at the best rate measured in the study (low), or at its own
    # network's measured rate (high).
    best = max(rates.values())

    def span(jobs: list[dict]) -> str:
        low = sum(_job_work(j, flops, "full") for j in jobs) / best
        high = sum(_job_work(j, flops, "full") / rates[j["network"]] for j in jobs)
        return _duration(high) if high < 1.2 * low else f"{_duration(low)} to {_duration(high)}"

    by_rule: dict[str, list] = {}
    for job in plan["jobs"]:
        by_rule.setdefault(job["rule"], []).append(job)
    lines = [
        f"Estimated for this study as written, on this rehearsal's device ({device}), from the speed "
        "at which the rehearsal trained each network. FLOPs are torch's count of one forward pass "
        f"per image at the network's input size (2 per multiply-add); a training pass counts as "
        f"{TRAIN_FACTOR} forward passes. The time is a range: the low end runs every job at the best "
        f"FLOP rate the rehearsal measured ({_count(best)}FLOP/s), the high end each network at its "
        "own measured rate. The rehearsal's batches hold only a few images, which under-uses a GPU "
        "and makes small networks look slow: expect the full run near the low end. Data "
        "preparation, probes, tables and figures are not included (minutes at most).",
        "",
        "| rule | jobs | training image passes | forward image passes | FLOPs | estimated time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule, jobs in by_rule.items():
        train = sum(j["full"]["train"] for j in jobs)
        forward = sum(j["full"]["forward"] for j in jobs)
        work = sum(_job_work(j, flops, "full") for j in jobs)
        lines.append(
            f"| {rule} | {len(jobs)} | {_count(train)} | {_count(forward)} | {_count(work)} | {span(jobs)} |"
        )
    total_flops = sum(_job_work(j, flops, "full") for j in plan["jobs"])
    lines.append(
        f"| **all** | {len(plan['jobs'])} | | | **{_count(total_flops)}** | **{span(plan['jobs'])}** |"
    )
    lines += [
        "",
        "The largest jobs:",
        "",
        "| job | rule | input px | GFLOPs per image | measured speed | estimated time |",
    ]
    lines.append("|---|---|---:|---:|---:|---:|")
    largest = sorted(plan["jobs"], key=lambda j: -_job_work(j, flops, "full") / rates[j["network"]])[:8]
    for job in largest:
        key = job["network"]
        speed = rates[key] / flops[key] / TRAIN_FACTOR
        measured = f"{speed:,.0f} training img/s" + (" (guessed)" if key in guessed else "")
        lines.append(
            f"| {job['job']} | {job['rule']} | {plan['networks'][key]['input']} | {flops[key] / 1e9:.3g} | "
            f"{measured} | {span([job])} |"
        )
    if guessed:
        lines += [
            "",
            f"(guessed): not trained by the study ({', '.join(guessed)}); the median speed of its other networks.",
        ]
    return "\n".join(lines) + "\n"


def _count(value: float) -> str:
    for unit, size in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"
