"""A forecast for a GPU the user names (`make rehearse GPU=a100`, config key `forecast_gpu`), from
the FLOPs the rehearsal counts and the GPU's published peak, at a stated fraction of it.

Peaks are the vendors' dense tensor-core figures in TFLOP/s (no sparsity; the one table, which
benchmarks/train_throughput.py's MFU reads too) for the precision the jobs run in there, as
cvrepro.nets.device.choose_precision picks it: `precision: auto` is bf16 from compute capability
8.0 (A100, H100, L40S, RTX 4090) and fp16 with a loss scaler on 7.x (V100, T4); `fp32` is plain
float32 (TF32 stays off).

A GPU reaches a fraction of its peak on CNN training: FRACTION is a stated assumption (dense
ResNet training at 32-224 px, full batches, channels_last). Small networks on small images do
not fill a GPU and are bound by kernel launches instead: every optimizer step costs at least
STEP_FLOOR_S and every forward batch FORWARD_FLOOR_S. A job also starts up as it does here, plus
CUDA_START_S to initialise CUDA.
"""

from __future__ import annotations

from typing import NamedTuple

from cvrepro.report.cost.forecast import SNAKEMAKE_START_S


class Gpu(NamedTuple):
    full: str
    capability: tuple[int, int]
    peaks: dict[str, float]  # precision -> peak TFLOP/s
    match: str  # how torch.cuda.get_device_name names it ("NVIDIA A100-SXM4-40GB" holds "A100")


# The one table of GPU peaks: the forecast's (name -> Gpu) and benchmarks/train_throughput.py's
# MFU (peak_tflops, by the device's name).
PEAKS: dict[str, Gpu] = {
    "a100": Gpu("NVIDIA A100 (SXM)", (8, 0), {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}, "A100"),
    "a10": Gpu("NVIDIA A10", (8, 6), {"bf16": 125.0, "fp16": 125.0, "fp32": 31.2}, "A10"),
    "h100": Gpu("NVIDIA H100 (SXM)", (9, 0), {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}, "H100"),
    "h100pcie": Gpu("NVIDIA H100 PCIe", (9, 0), {"bf16": 756.0, "fp16": 756.0, "fp32": 51.0}, "H100 PCIe"),
    "h100nvl": Gpu("NVIDIA H100 NVL", (9, 0), {"bf16": 835.0, "fp16": 835.0, "fp32": 60.0}, "H100 NVL"),
    "h200": Gpu("NVIDIA H200", (9, 0), {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}, "H200"),
    "l4": Gpu("NVIDIA L4", (8, 9), {"bf16": 121.0, "fp16": 121.0, "fp32": 30.3}, "L4"),
    "l40s": Gpu("NVIDIA L40S", (8, 9), {"bf16": 362.0, "fp16": 362.0, "fp32": 91.6}, "L40S"),
    "rtx3090": Gpu("NVIDIA GeForce RTX 3090", (8, 6), {"bf16": 71.0, "fp16": 71.0, "fp32": 35.6}, "RTX 3090"),
    "rtx4090": Gpu(
        "NVIDIA GeForce RTX 4090", (8, 9), {"bf16": 165.0, "fp16": 165.0, "fp32": 82.6}, "RTX 4090"
    ),
    "v100": Gpu("NVIDIA V100 (SXM2)", (7, 0), {"fp16": 125.0, "fp32": 15.7}, "V100"),
    "t4": Gpu("NVIDIA T4", (7, 5), {"fp16": 65.0, "fp32": 8.1}, "T4"),
}
FRACTION = 0.3
STEP_FLOOR_S = 0.004  # a ResNet training step's ~300 kernel launches, forward, backward and optimizer
FORWARD_FLOOR_S = 0.0015
CUDA_START_S = 3.0
FORWARD_BATCH = 512  # evaluation and extraction batches (cvrepro.nets.inference)


def gpu_name(name: str) -> str:
    """The table's key for `name` (A100, a100, "RTX 4090", rtx-4090 ...); a one-line error naming
    the known ones."""
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    if key not in PEAKS:
        raise ValueError(f"forecast_gpu: unknown GPU {name!r}; known: {', '.join(sorted(PEAKS))}")
    return key


def peak_tflops(device_name: str, precision: str) -> float | None:
    """The dense peak TFLOP/s in `precision` (bf16, fp16, fp32) of the GPU torch names
    `device_name`, by the longest name it holds ("A100" before "A10"); None when unknown (a GPU
    not in PEAKS, bf16 on a GPU without bf16 tensor cores)."""
    for gpu in sorted(PEAKS.values(), key=lambda gpu: len(gpu.match), reverse=True):
        if gpu.match in device_name:
            return gpu.peaks.get(precision)
    return None


def precision_of(setting: str, gpu: str) -> str:
    """The precision the jobs run in on `gpu` under the config's `precision` (the rule of
    cvrepro.nets.device.choose_precision); bf16 asked of a GPU without bf16 units runs at about
    its float32 speed."""
    capability, peaks = PEAKS[gpu].capability, PEAKS[gpu].peaks
    if setting == "auto":
        return "bf16" if capability >= (8, 0) else "fp16"
    return setting if setting in peaks else "fp32"


def job_gpu_seconds(
    flops: float,
    steps: int,
    batches: int,
    start_s: float,
    gpu: str,
    precision: str,
    fraction: float = FRACTION,
) -> float:
    """One job on `gpu`: its start-up, CUDA's, and its FLOPs at `fraction` of the peak, or the
    kernel-launch floor of its `steps` training steps and `batches` forward batches if longer."""
    peak = PEAKS[gpu].peaks[precision] * 1e12
    compute = max(flops / (peak * fraction), steps * STEP_FLOOR_S + batches * FORWARD_FLOOR_S)
    return start_s + CUDA_START_S + compute


def assumptions(gpu: str, precision: str, fraction: float = FRACTION) -> str:
    full, peaks = PEAKS[gpu].full, PEAKS[gpu].peaks
    return (
        f"{full}: peak {peaks[precision]:g} TFLOP/s in {precision} (dense), assumed reached at "
        f"{fraction:.0%}, so {peaks[precision] * fraction:g} TFLOP/s; at least {STEP_FLOOR_S * 1e3:g} ms per "
        f"training step and {FORWARD_FLOOR_S * 1e3:g} ms per forward batch (kernel launches); each job's "
        f"start-up as measured here plus {CUDA_START_S:g} s for CUDA"
    )


def gpu_forecast(
    rows: list[dict], cores: int, name: str, precision_setting: str, start: float = SNAKEMAKE_START_S
) -> dict:
    """Seconds per rule and the wall time on one GPU `name`: the network jobs (rows with `flops`,
    `steps`, `batches`) one at a time on it, the others (flops None) on the cores beside; at
    FRACTION of the peak, and at 1.5x and 0.5x that for the range; after Snakemake's `start`."""
    gpu = gpu_name(name)
    precision = precision_of(precision_setting, gpu)

    def wall(fraction: float) -> tuple[float, dict[str, float]]:
        rules: dict[str, float] = {}
        on_gpu = on_cpu = 0.0
        for row in rows:
            if row["flops"] is None:
                t = row["start"]
                on_cpu += t
            else:
                t = job_gpu_seconds(
                    row["flops"], row["steps"], row["batches"], row["start"], gpu, precision, fraction
                )
                on_gpu += t
            rules[row["rule"]] = rules.get(row["rule"], 0.0) + t
        return start + max(on_gpu, (on_gpu + on_cpu) / max(cores, 1)), rules

    estimate, rules = wall(FRACTION)
    return {
        "gpu": gpu,
        "precision": precision,
        "rules": rules,
        "estimate": estimate,
        "low": wall(FRACTION * 1.5)[0],
        "high": wall(FRACTION * 0.5)[0],
    }
