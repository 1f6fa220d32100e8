"""What the CPU computes natively, read from /proc/cpuinfo without torch: the one answer that both
the start-up line (cvrepro.jobs.console, which must not import torch) and the jobs' precision
policy (cvrepro.nets.device) use, so the line never claims bf16 while the jobs run fp32.

CVREPRO_CPU_BF16=1 (or 0) overrides what the flags say: a machine without bf16 then runs every job
and test as a bf16 CPU would (bf16 is emulated there: correct, slower), which is how CI catches a
test that holds only under fp32; =0 makes a bf16 CPU behave as an fp32 one."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "CVREPRO_CPU_BF16"


def forced_cpu_bf16() -> bool | None:
    """What CVREPRO_CPU_BF16 forces (True / False), or None when it is unset or empty."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw == "":
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENV}={raw!r} is not understood; use 1 (act as a bf16 CPU) or 0 (as an fp32 one)")


def cpu_has_native_bf16(cpuinfo: Path | None = None) -> bool:
    """AVX512-BF16 or AMX tiles in the CPU flags: oneDNN then runs bf16 convolutions in hardware
    (elsewhere bf16 is emulated and slower than float32). False where the file cannot be read.
    Without `cpuinfo` (this machine's /proc/cpuinfo), CVREPRO_CPU_BF16 overrides the flags."""
    if cpuinfo is None:
        forced = forced_cpu_bf16()
        if forced is not None:
            return forced
        cpuinfo = Path("/proc/cpuinfo")
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_tile" in flags


def auto_precision(device_type: str, capability: tuple[int, int] | None, cpu_bf16: bool) -> str:
    """What `precision: auto` picks, without torch (the start-up line uses it too): bf16 on CUDA
    from compute capability 8.0 (cuDNN's bf16 convolutions need Ampere), fp16 with a GradScaler
    on 7.x (V100, T4, RTX 20), fp32 on older GPUs; on a CPU bf16 where it is native, else fp32."""
    if device_type == "cuda":
        if capability is None:
            raise ValueError("auto precision: a CUDA device needs its compute capability")
        return "bf16" if capability >= (8, 0) else "fp16" if capability >= (7, 0) else "fp32"
    return "bf16" if device_type == "cpu" and cpu_bf16 else "fp32"
