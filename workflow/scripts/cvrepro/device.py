"""Where a job computes: the device, its threads and precision, and the tensor layout it wants."""

from __future__ import annotations

import torch

from cvrepro.precision import set_precision

DEVICES = ("auto", "cuda", "cpu")


def resolve_device(name: str) -> torch.device:
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose from {list(DEVICES)}")
    if name == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if name == "cuda":
        raise RuntimeError("device: cuda was requested but no CUDA GPU is visible to this job")
    return torch.device("cpu")


def job_device(device: str, precision: str, threads: int) -> torch.device:
    """A job's compute set-up, the same for every script: CPU threads, precision policy, device."""
    torch.set_num_threads(threads)
    set_precision(precision)
    return resolve_device(device)


def prepare_device(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms for our fixed batch shapes (autotuned on
    the first batch of each shape) and let float32 matmuls outside autocast use TF32. CPU: nothing,
    so CPU results stay bit-for-bit reproducible."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def memory_format(device: torch.device, side: int | None = None) -> torch.memory_format:
    """channels_last on CUDA (tensor cores want it). On the CPU only for images under 64 px: there
    it measured 1.3-1.5x faster for width-16 ResNet-18 at 28-32 px on the 2-core build machine,
    while torch 2.14's oneDNN kernels crashed (segfault / double free) in channels_last training
    of networks narrower than 16 channels on 64-96 px images, in fp32 and bf16 alike (reproduced by
    benchmarks/repro_onednn_crash.py). `side`: the input's height/width."""
    if device.type == "cuda" or side is None or side < 64:
        return torch.channels_last
    return torch.contiguous_format


def model_input(x: torch.Tensor) -> torch.Tensor:
    """A batch in the memory format the model runs in on the batch's device (see memory_format)."""
    return x.contiguous(memory_format=memory_format(x.device, x.shape[-1]))
