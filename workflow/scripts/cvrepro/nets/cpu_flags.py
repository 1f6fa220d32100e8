"""What the CPU computes natively, read from /proc/cpuinfo without torch: the one answer that both
the start-up line (cvrepro.jobs.console, which must not import torch) and the jobs' precision
policy (cvrepro.nets.device) use, so the line never claims bf16 while the jobs run fp32."""

from __future__ import annotations

from pathlib import Path


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """AVX512-BF16 or AMX tiles in the CPU flags: oneDNN then runs bf16 convolutions in hardware
    (elsewhere bf16 is emulated and slower than float32). False where the file cannot be read."""
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_tile" in flags
