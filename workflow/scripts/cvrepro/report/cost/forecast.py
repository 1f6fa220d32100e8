"""The forecast of a study's real run: seconds per job and rule, and the wall time on the cores
and GPU slots given (README "Before a long run"). Torch-free: the speeds come in measured
(cvrepro.report.cost.calibrate), the FLOPs counted (cvrepro.report.cost.plan.forward_flops).

A job that runs a network takes its start-up (Python, imports, loading its data: what the
rehearsal's job of the same rule took, its tiny work taken off) plus its image passes at the
measured speed: training passes at the training rate, forward-only ones (validation, evaluation,
features, BN sweeps) at the forward rate. Every other job (downloads, subsets, shifted sets,
probes, tables, figures, the report) takes what the rehearsal's jobs of its rule took; data
preparation adds the prepared bytes at PREPARE_BYTES_PER_S.

Wall time: the job-seconds spread over `slots` jobs at once, and no shorter than the longest
chain of jobs that wait for one another (a fine-tuning waits for its pretraining; evaluations
for their training). The estimate is the larger of the two; the range runs from it to Graham's
bound for any greedy schedule, total / slots + (1 - 1 / slots) x chain, each widened by
SPREAD for the measurement's noise.
"""

from __future__ import annotations

import json
import statistics
from base64 import urlsafe_b64decode
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def sweep_key(sweep: dict) -> str:
    """A BN sweep's measurement (cvrepro.report.cost.calibrate): sweeps that differ only in their
    prior cost the same."""
    return json.dumps({k: sweep[k] for k in ("batch_sizes", "modes")}, sort_keys=True)


TRAIN_FACTOR = 3  # a training pass: the forward pass and a backward pass of about twice its FLOPs
PREPARE_BYTES_PER_S = 100e6  # decoding originals into prepared uint8 arrays (Fashion-MNIST: 0.8 s)
DEFAULT_START_S = 3.0  # a job's start-up where the rehearsal measured none of its rule
SPREAD = 0.15  # the range's widening for timing noise
SNAKEMAKE_START_S = 8.0  # Snakemake's start (parse, DAG) where the rehearsal's own was not recorded
# Where a job waits for others: rules in the order their jobs can start.
STAGES = ("download", "prepare", "subset", "shift", "pretrain", "train", "evaluate", "extract", "bn_sweep")


# Output records of one job whose start times lie closer than this are that one job.
SAME_JOB_S = 1.0


def recorded_jobs(workdir: Path, prefixes: tuple[str, ...]) -> dict[str, list[tuple[float, float]]]:
    """rule -> (start, end) of each finished job with an output under one of `prefixes` (folders,
    ending in /), from Snakemake's metadata (.snakemake/metadata: a job's start, and its outputs'
    modification times, the last of which ends it)."""
    root = Path(workdir) / ".snakemake" / "metadata"
    jobs: dict[tuple, list] = {}
    for path in root.rglob("*") if root.is_dir() else []:
        if not path.is_file():
            continue
        name = "".join(part.removeprefix("@") for part in path.relative_to(root).parts)
        try:
            output = urlsafe_b64decode(name).decode()
            record = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
        inside = any(output.startswith(prefix) or output == prefix.rstrip("/") for prefix in prefixes)
        if not inside or not record.get("starttime") or not record.get("endtime"):
            continue
        jobs.setdefault((record["rule"], record.get("job_hash")), []).append(
            (record["starttime"], record["endtime"])
        )
    found: dict[str, list[tuple[float, float]]] = {}
    for (rule, _), spans in sorted(jobs.items(), key=lambda kv: (kv[0][0], min(kv[1]))):
        merged: list[tuple[float, float]] = []
        # One job's outputs carry start times microseconds apart (Snakemake stamps each file; any
        # rounding of them splits a job that straddles a boundary); a rerun starts far later.
        for start, end in sorted(spans):
            if merged and start - merged[-1][0] < SAME_JOB_S:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, max(start, end)))
        found.setdefault(rule, []).extend(merged)
    for spans in found.values():
        spans.sort()
    return found


def snakemake_start(workdir: Path) -> float | None:
    """Seconds from the start of the latest Snakemake run in `workdir` (its log's name) to the
    first job it started (Snakemake's metadata): parsing, checking the config, the code
    fingerprints and the DAG. None when that run has started no job yet but this one."""
    logs = sorted((Path(workdir) / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        return None
    try:  # Snakemake names its log after its start, in local time: 2026-12-05T090159.392574
        began = datetime.strptime(logs[-1].name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f").timestamp()
    except ValueError:
        return None
    starts = [
        start for spans in recorded_jobs(workdir, ("",)).values() for start, _ in spans if start >= began
    ]
    return min(starts) - began if starts else None


def start_ups(
    plan: dict, recorded: dict[str, list[tuple[float, float]]], rates: dict[str, dict]
) -> dict[str, float]:
    """rule -> a job's start-up: the median rehearsal job of the rule, less the work its network
    jobs did in the rehearsal at the measured rates."""
    work: dict[str, list[float]] = {}
    for job in plan["jobs"]:
        work.setdefault(job["rule"], []).append(_compute(job, "rehearsal", rates))
    out = {}
    for rule, spans in recorded.items():
        done = statistics.median(work[rule]) if rule in work else 0.0
        out[rule] = max(0.2, statistics.median(end - start for start, end in spans) - done)
    return out


def _compute(job: dict, stage: str, rates: dict[str, dict]) -> float:
    """Seconds of the job's image passes in `stage` (full or rehearsal) at the measured rates."""
    rate, passes = rates[job["network"]], job[stage]
    sweep = rate.get("sweeps", {}).get(sweep_key(job["sweep"])) if "sweep" in job else None
    if sweep is not None:  # a BN sweep: its own measured cost per image
        return passes["sweep_images"] * sweep
    return (passes["train"] / rate["train"] if passes["train"] else 0.0) + passes["forward"] / rate["forward"]


def job_seconds(
    plan: dict, rates: dict[str, dict], starts: dict[str, float], counts: dict[str, int]
) -> list[dict]:
    """Every job of the real run with its forecast seconds: the plan's network jobs, and the
    rest of `counts` (rule -> jobs in the DAG) at their rule's start-up."""
    default = statistics.median(starts.values()) if starts else DEFAULT_START_S
    jobs = [
        {**job, "seconds": starts.get(job["rule"], default) + _compute(job, "full", rates)}
        for job in plan["jobs"]
    ]
    planned: dict[str, int] = {}
    for job in plan["jobs"]:
        planned[job["rule"]] = planned.get(job["rule"], 0) + 1
    for rule, count in counts.items():
        rest = count - planned.get(rule, 0)
        extra = plan.get("prepared", 0) / PREPARE_BYTES_PER_S / max(rest, 1) if rule == "prepare" else 0.0
        jobs += [
            {
                "rule": rule,
                "job": f"{rule} {i}",
                "network": None,
                "seconds": starts.get(rule, default) + extra,
            }
            for i in range(rest)
        ]
    return jobs


def chain_seconds(plan: dict, jobs: list[dict], starts: dict[str, float]) -> float:
    """The longest chain of jobs that wait for one another: one job of each data stage, then a
    network's initialisation chain (pretraining -> fine-tuning -> ...), its evaluations, and a
    table or figure and the report."""
    own = {
        job["job"]: job["seconds"]
        for job in jobs
        if job.get("network") and job["rule"] in ("train", "pretrain")
    }
    init = plan.get("inits", {})

    def finish(name: str, seen: tuple = ()) -> float:
        before = init.get(name)
        return own.get(name, 0.0) + (
            finish(before, (*seen, name)) if before in own and before not in seen else 0.0
        )

    after = {}
    for job in jobs:
        if job.get("network") and job["rule"] not in ("train", "pretrain"):
            after[job["network"]] = max(after.get(job["network"], 0.0), job["seconds"])
    longest = max([finish(n) + after.get(n, 0.0) for n in own] + list(after.values()) + [0.0])
    start = defaultdict(float, starts)  # a rule the study lacks starts nothing
    data = sum(start[rule] for rule in ("download", "prepare", "subset"))
    last = max(start["table"], start["figure"]) + start["report"]
    return data + longest + last


def wall_time(
    plan: dict, jobs: list[dict], starts: dict[str, float], slots: int, start: float = SNAKEMAKE_START_S
) -> dict[str, float]:
    """{"estimate", "low", "high"} seconds of the whole run with `slots` jobs at once, after
    Snakemake's own `start`."""
    total = sum(job["seconds"] for job in jobs)
    chain = chain_seconds(plan, jobs, starts)
    lower = max(total / slots, chain)
    graham = total / slots + (1 - 1 / slots) * chain
    return {
        "estimate": start + lower,
        "low": start + lower * (1 - SPREAD),
        "high": start + max(graham, lower) * (1 + SPREAD),
        "job_seconds": total,
        "chain": chain,
        "start": start,
    }


def by_rule(jobs: list[dict]) -> dict[str, dict]:
    """rule -> {"jobs", "seconds"}, in the order of the DAG's stages."""
    rules: dict[str, dict] = {}
    for job in jobs:
        entry = rules.setdefault(job["rule"], {"jobs": 0, "seconds": 0.0})
        entry["jobs"] += 1
        entry["seconds"] += job["seconds"]
    order = {rule: i for i, rule in enumerate(STAGES)}
    return dict(sorted(rules.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"
