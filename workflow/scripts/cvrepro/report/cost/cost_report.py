"""The rehearsal's report sections on the real run (README "Before a long run"): what it will
fetch, and what it will cost, from the work plan (cvrepro.report.cost.plan), the networks measured on
this machine (cvrepro.report.cost.calibrate), the rehearsal's own jobs' start-up and the forecast
model (cvrepro.report.cost.forecast), and on a named GPU (cvrepro.report.cost.gpus). Runs in the
rehearsal's report job.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from cvrepro.report.cost import fetches, forecast, gpus
from cvrepro.report.cost.forecast_check import FORECAST_MARK
from cvrepro.report.cost.plan import FORWARD_BATCH, TRAIN_FACTOR, job_work, network_flops


def rehearsal_sections(
    plan: dict, device, device_label: str, workdir: Path, log=print
) -> tuple[str, str, str]:
    """(first lines, "What the real run will fetch", "What the real run will cost") of a
    rehearsal's REPORT.md: the fetch plan's state on this machine, and the forecast from the
    networks measured here (`device`: the torch device the real run's model jobs would use;
    `device_label`: its name and precision as provenance writes it)."""
    from cvrepro.report.cost.calibrate import measure_networks

    items = fetches.with_state(plan["fetches"])
    flops = network_flops(plan["networks"])
    sweeps: dict[str, list[dict]] = {}
    for job in plan["jobs"]:
        if "sweep" in job and job["sweep"] not in sweeps.setdefault(job["network"], []):
            sweeps[job["network"]].append(job["sweep"])
    rates = measure_networks(plan["networks"], device, sweeps, log)
    prefixes = (f"{plan['results']}/{plan['study']}/",)
    prefixes += tuple(
        f"{plan['resources']}/{kind}/{name}/"
        for name in {item["what"] for item in plan["fetches"] if item["kind"] == "dataset"}
        for kind in ("downloads", "prepared")
    )
    recorded = forecast.recorded_jobs(workdir, prefixes)
    first = "".join(f"> **{plan['study']}: {line}**\n>\n" for line in fetches.problems(items))
    fetch = fetches.fetch_markdown(items, plan["prepared"], _checkpoint_bytes(plan))
    start = forecast.snakemake_start(workdir)
    return first, fetch, cost_markdown(plan, flops, rates, recorded, device_label, start)


def _checkpoint_bytes(plan: dict) -> int:
    """The results' bulk: each training's model.pt and resume state (float32 weights, the
    optimizer's state about as large again)."""
    import torch

    from cvrepro.nets.models import build_model

    counted: dict[str, int] = {}
    for network in plan["networks"].values():
        key = json.dumps(network["arch"], sort_keys=True)
        if key not in counted:
            with torch.device("meta"):
                counted[key] = sum(p.numel() for p in build_model(network["arch"]).parameters())
    trained = [
        plan["networks"][job["network"]] for job in plan["jobs"] if job["rule"] in ("train", "pretrain")
    ]
    return sum(3 * 4 * counted[json.dumps(network["arch"], sort_keys=True)] for network in trained)


def cost_markdown(
    plan: dict,
    flops: dict[str, int],
    rates: dict[str, dict],
    recorded: dict[str, list[tuple[float, float]]],
    device: str,
    start: float | None = None,
) -> str:
    """The "What the real run will cost" section from the networks' FLOPs, their measured
    `rates` (name -> {train, forward} image passes/s; a network left unmeasured runs at the
    median FLOP rate of those measured), the rehearsal's `recorded` jobs per rule, and Snakemake's
    own `start` before its first job (None: not recorded, forecast.SNAKEMAKE_START_S)."""
    rates = _fill_rates(plan, flops, rates)
    starts = forecast.start_ups(plan, recorded, rates)
    counts = {**plan["counts"], **{rule: len(seconds) for rule, seconds in recorded.items()}}
    counts.update(report=1, report_index=1)  # this job and the index after it: not yet recorded
    jobs = forecast.job_seconds(plan, rates, starts, counts)
    machine = plan["machine"]
    threads, cores = machine.get("threads") or 1, machine.get("cores") or 1
    slots = max(1, cores // threads)
    start = forecast.SNAKEMAKE_START_S if start is None else start
    wall = forecast.wall_time(plan, jobs, starts, slots, start)
    rules = forecast.by_rule(jobs)
    gpu = _gpu_forecast(plan, jobs, flops, starts, cores, start) if machine.get("gpu") else None
    lines = [
        f"Forecast of the real run of this study as written, from nothing, on this rehearsal's device "
        f"({device}) with {slots} job{'s' * (slots > 1)} at once ({cores} cores, {threads} thread"
        f"{'s' * (threads > 1)} per model job): **{_duration(wall['estimate'])}** (range "
        f"{_duration(wall['low'])} to {_duration(wall['high'])})"
        + (
            f"; on one {gpus.PEAKS[gpu['gpu']].full}: **{_duration(gpu['estimate'])}** (range "
            f"{_duration(gpu['low'])} to {_duration(gpu['high'])})"
            if gpu
            else ""
        )
        + ". Downloads are not included.",
        "",
        "| rule | jobs | training image passes | forward image passes | FLOPs | job time here |"
        + (f" job time on {gpu['gpu']} |" if gpu else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""),
    ]
    for rule, entry in rules.items():
        mine = [j for j in jobs if j["rule"] == rule and j.get("network")]
        train = sum(j["full"]["train"] for j in mine)
        fwd = sum(j["full"]["forward"] for j in mine)
        work = sum(job_work(j, flops, "full") for j in mine)
        lines.append(
            f"| {rule} | {entry['jobs']} | {_count(train) if mine else ''} | {_count(fwd) if mine else ''} | "
            f"{_count(work) if mine else ''} | {_duration(entry['seconds'])} |"
            + (f" {_duration(gpu['rules'][rule])} |" if gpu else "")
        )
    total_flops = sum(job_work(j, flops, "full") for j in plan["jobs"])
    lines.append(
        f"| **all** | {len(jobs)} | | | **{_count(total_flops)}** | {_duration(wall['job_seconds'])} "
        f"(wall **{_duration(wall['estimate'])}**) |"
        + (f" wall **{_duration(gpu['estimate'])}** |" if gpu else "")
    )
    lines += ["", *_speed_lines(plan, flops, rates), "", *_assumption_lines(starts, wall, slots, gpu)]
    record = {
        "device": device,
        "slots": slots,
        "rules": {rule: entry["seconds"] for rule, entry in rules.items()},
        "jobs": {rule: entry["jobs"] for rule, entry in rules.items()},
        **{key: wall[key] for key in ("estimate", "low", "high")},
    }
    lines += ["", FORECAST_MARK + json.dumps(record) + " -->"]
    return "\n".join(lines) + "\n"


def _fill_rates(plan: dict, flops: dict[str, int], rates: dict[str, dict]) -> dict[str, dict]:
    """`rates` with every network of the plan: an unmeasured one at the median FLOP rate."""
    if not rates:
        raise ValueError("no network of the study could be measured")
    train = [r["train"] * TRAIN_FACTOR * flops[n] for n, r in rates.items() if "train" in r]
    forward = [r["forward"] * flops[n] for n, r in rates.items()]
    filled = dict(rates)
    for name in plan["networks"]:
        if name not in filled:
            filled[name] = {
                "train": statistics.median(train or forward) / (TRAIN_FACTOR * flops[name]),
                "forward": statistics.median(forward) / flops[name],
                "guessed": True,
            }
    return filled


def _speed_lines(plan: dict, flops: dict[str, int], rates: dict[str, dict]) -> list[str]:
    """The measured speeds, one row per distinct network."""
    from cvrepro.report.cost.calibrate import measurement_key

    groups: dict[str, list[str]] = {}
    for name, network in plan["networks"].items():
        groups.setdefault(measurement_key(network), []).append(name)
    lines = [
        "Speeds measured here, at the real run's batch and image size (warm-up excluded):",
        "",
        "| networks | input px | GFLOPs per image | training: batch, image passes/s | forward: batch, images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for names in groups.values():
        rate, network = rates[names[0]], plan["networks"][names[0]]
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
        if rate.get("guessed"):
            train, fwd = "not measured (median FLOP rate)", "not measured"
        else:
            train = (
                f"{rate['train_batch']}, {rate['train']:,.0f}"
                if "train" in rate and network["kind"] != "forward"
                else "-"
            )
            fwd = f"{rate['forward_batch']}, {rate['forward']:,.0f}"
        lines.append(f"| {shown} | {network['input']} | {flops[names[0]] / 1e9:.3g} | {train} | {fwd} |")
    return lines


def _assumption_lines(starts: dict[str, float], wall: dict, slots: int, gpu: dict | None) -> list[str]:
    shown = ", ".join(f"{rule} {seconds:.1f} s" for rule, seconds in sorted(starts.items()))
    lines = [
        f"How: each job's image passes at the speed measured for its network, plus its rule's start-up as "
        f"this rehearsal's jobs took it ({shown}); data preparation adds the prepared bytes at "
        f"{forecast.PREPARE_BYTES_PER_S / 1e6:g} MB/s. The wall time spreads the job time "
        f"({_duration(wall['job_seconds'])}) over {slots} slot{'s' * (slots > 1)}, no shorter than the longest "
        f"chain of jobs that wait for each other ({_duration(wall['chain'])}), plus "
        f"{wall['start']:.0f} s for Snakemake to start (as it did for this rehearsal); the range runs to "
        "Graham's bound for any "
        f"greedy schedule, each end widened by {forecast.SPREAD:.0%} for timing noise.",
    ]
    if gpu:
        lines += [
            "",
            f"GPU forecast, assumed: {gpus.assumptions(gpu['gpu'], gpu['precision'])}. "
            f"The range takes {gpus.FRACTION * 1.5:.0%} and {gpus.FRACTION * 0.5:.0%} of the peak.",
        ]
    return lines


def _gpu_forecast(
    plan: dict, jobs: list[dict], flops: dict[str, int], starts: dict[str, float], cores: int, start: float
) -> dict:
    """The forecast on the GPU the plan names (cvrepro.report.cost.gpus), from each job's FLOPs,
    optimizer steps and forward batches."""
    default = statistics.median(starts.values()) if starts else forecast.DEFAULT_START_S
    rows = []
    for job in jobs:
        start = starts.get(job["rule"], default)
        if not job.get("network"):
            rows.append({"rule": job["rule"], "start": start, "flops": None})
            continue
        network = plan["networks"][job["network"]]
        batch = (network.get("recipe") or {}).get("batch_size") or 1
        rows.append(
            {
                "rule": job["rule"],
                "start": start,
                "flops": job_work(job, flops, "full"),
                "steps": -(-job["full"]["train"] // batch),
                "batches": -(-job["full"]["forward"] // (network.get("eval_batch") or FORWARD_BATCH)),
            }
        )
    machine = plan["machine"]
    return gpus.gpu_forecast(rows, cores, machine["gpu"], machine.get("precision") or "auto", start)


def _count(value: float) -> str:
    for unit, size in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f}"


_duration = forecast.duration
