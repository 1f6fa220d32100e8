"""Mixed precision: bf16 autocast where the hardware computes bf16 natively, float32 elsewhere.

The config key `precision` (auto | bf16 | fp32) picks the policy for a whole job; scripts set it
once (through cvrepro.nets.device.job_device, with the device and threads), as torch's own global
switches (`torch.set_float32_matmul_precision`) are set. `auto` means bf16 on CUDA and on CPUs with native
bf16 instructions (AVX512-BF16 or AMX), where it measured 1.3-2.4x faster training of ResNet-18
on the 2-core build machine, and float32 on other CPUs, where bf16 is emulated and slower.
bf16 keeps float32's exponent range, so no loss scaling is needed; weights, optimizer state,
losses and BatchNorm statistics stay float32 (autocast only lowers convolutions and matmuls).
"""

from __future__ import annotations

import contextlib

import torch

from cvrepro.nets.cpu_flags import cpu_has_native_bf16

PRECISIONS = ("auto", "bf16", "fp32")

_policy = "auto"


def set_precision(name: str) -> None:
    global _policy
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not known; choose from {list(PRECISIONS)}")
    _policy = name


def uses_bf16(device: torch.device) -> bool:
    if _policy != "auto":
        return _policy == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())


def autocast(device: torch.device):
    """The context the forward passes run in: bf16 autocast or nothing (float32)."""
    if uses_bf16(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def precision_name(device: torch.device) -> str:
    """What the policy means on `device`, for provenance: 'bf16 autocast' or 'fp32'."""
    return "bf16 autocast" if uses_bf16(device) else "fp32"
