"""Where and how a job computes: the device and its threads, the precision policy, the tensor
layout the network wants, and the opt-in torch.compile of the training step.

Precision. The config key `precision` (auto | bf16 | fp16 | fp32) picks the policy for a whole job;
scripts set it once through job_device, as torch's own global switches are set. What a policy
means on a device is one pure function, choose_precision(policy, device type, compute capability,
CPU has bf16), so every GPU generation is tested on a machine without one:

    auto, CUDA compute capability >= 8.0 (A100, H100, RTX 30/40)   bf16 autocast
    auto, CUDA 7.x (V100, T4, RTX 20)      fp16 autocast + GradScaler (cuDNN runs bf16 convolutions
                                           only from sm80; on 7.x they fall back to slow kernels)
    auto, older CUDA GPUs                  fp32
    auto, CPU with AVX512-BF16 or AMX      bf16 autocast (1.3-2.4x faster on the build machine)
    auto, other CPUs                       fp32 (bf16 is emulated there and slower)
    bf16 / fp16 / fp32                     that on every device (fp16 always with a GradScaler)

bf16 keeps float32's exponent range, so it needs no loss scaling; fp16 does: the loss is scaled
before backward and the gradients unscaled before anything reads them (cvrepro.train.engine).
Weights, optimizer state, losses and BatchNorm statistics stay float32 (autocast lowers only
convolutions and matmuls). TF32 stays off on every policy: under `fp32` the numbers are float32
ones, and under autocast the only float32 matmuls left are the losses' (the triplet loss's cdist),
which need float32 for close pairs. Provenance says what ran (precision_name).

A GPU that nvidia-smi lists but torch cannot use (a wheel without kernels for its architecture, a
driver older than the wheel's CUDA) stops the job with one line saying what to install
(gpu_unusable), instead of training on the CPU while the job holds a GPU slot.

Compiling is off unless the environment asks for it (CVREPRO_COMPILE): inductor needs Triton on
CUDA and a C++ compiler on the CPU, costs tens of seconds per graph, and pays only on long GPU
runs -- the default study's 1,000-image runs on a CPU would get slower, and CI would spend its time
compiling. Values:

    CVREPRO_COMPILE=0 (or unset)    eager
    CVREPRO_COMPILE=1               inductor, default mode
    CVREPRO_COMPILE=<mode>          inductor with mode reduce-overhead / max-autotune / ...
    CVREPRO_COMPILE=eager|aot_eager dynamo's debugging backends (fast to compile; tests use them)

Only a function of the model is compiled, never the module itself, so state dicts keep their
keys (no `_orig_mod.` prefix) and checkpoints and resume states stay interchangeable.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from cvrepro.nets.cpu_flags import cpu_has_native_bf16

DEVICES = ("auto", "cuda", "cpu")


def resolve_device(name: str) -> torch.device:
    """The device of `name`; a GPU that nvidia-smi lists but torch cannot use is an error (one
    line, see gpu_unusable) under `auto` and `cuda` alike, never a silent CPU run."""
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose from {list(DEVICES)}")
    if name == "cpu":
        return torch.device("cpu")
    problem = gpu_unusable()
    if problem is not None:
        raise RuntimeError(problem)
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
    the first batch of each shape), and keep TF32 off (see the module docstring): torch's default
    lets cuDNN convolutions use TF32 even when matmuls do not. CPU: nothing, so CPU results stay
    bit-for-bit reproducible."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        tf32 = precision_for(device).tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


# --- a GPU that torch cannot use -------------------------------------------------------------------

CUDA126_INSTALL = "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu126"


@dataclass(frozen=True)
class ListedGpu:
    """A GPU as nvidia-smi lists it (no CUDA context needed)."""

    name: str
    capability: tuple[int, int] | None
    driver: str


def listed_gpus() -> list[ListedGpu]:
    """The GPUs nvidia-smi lists ([] without nvidia-smi or when it fails); the compute capability
    is None on drivers too old to report it."""
    for fields in ("name,compute_cap,driver_version", "name,driver_version"):
        try:
            done = subprocess.run(
                ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return []
        if done.returncode == 0:
            return [
                _listed(line, "compute_cap" in fields) for line in done.stdout.splitlines() if line.strip()
            ]
    return []


def _listed(line: str, with_capability: bool) -> ListedGpu:
    parts = [part.strip() for part in line.split(",")]
    capability = None
    if with_capability and "." in parts[1]:
        major, minor = parts[1].split(".", 1)
        capability = (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None
    return ListedGpu(parts[0], capability, parts[-1])


def unusable_reason(
    gpu: ListedGpu, cuda_available: bool, arch_list: list[str], torch_version: str, cuda_version: str | None
) -> str | None:
    """Why torch cannot use `gpu`, as one line naming the GPU, its compute capability, the driver
    and what to install; None when it can. Pure, so every case is tested without a GPU.
    `arch_list`: torch.cuda.get_arch_list() (sm_XY kernels, compute_XY PTX that newer GPUs JIT)."""
    build = f"torch {torch_version}" + (f" (CUDA {cuda_version})" if cuda_version else " (a CPU-only build)")
    cc = f"{gpu.capability[0]}.{gpu.capability[1]}" if gpu.capability else "unknown"
    where = f"GPU {gpu.name!r} (compute capability {cc}, driver {gpu.driver})"
    if cuda_version is None:
        return f"{where} is listed by nvidia-smi, but {build} cannot use GPUs: install a CUDA build ({CUDA126_INSTALL}) or set device: cpu"
    if gpu.capability is not None and arch_list:
        sm = gpu.capability[0] * 10 + gpu.capability[1]
        kernels = [
            int(a.split("_")[1]) for a in arch_list if a.startswith("sm_") and a.split("_")[1].isdigit()
        ]
        ptx = [
            int(a.split("_")[1]) for a in arch_list if a.startswith("compute_") and a.split("_")[1].isdigit()
        ]
        same_major = [k for k in kernels if k // 10 == sm // 10 and k <= sm]
        if not same_major and not [p for p in ptx if p <= sm]:
            have = f"sm_{min(kernels)}..sm_{max(kernels)}" if kernels else "no sm_ kernels"
            return (
                f"{where}: {build} has no kernels for sm_{sm} (it has {have}); install PyTorch's "
                f"CUDA 12.6 build, which still covers sm_50..sm_90 ({CUDA126_INSTALL}), or set device: cpu"
            )
    if not cuda_available:
        return (
            f"{where} is listed by nvidia-smi, but {build} cannot use it: the driver is probably older "
            f"than CUDA {cuda_version} needs; update the driver or install PyTorch's CUDA 12.6 build "
            f"({CUDA126_INSTALL}), or set device: cpu"
        )
    return None


def gpu_unusable() -> str | None:
    """unusable_reason for the first GPU this job may use, or None (no GPU listed, GPUs hidden
    with CUDA_VISIBLE_DEVICES="" or -1, or a usable one). Asks torch only whether CUDA is
    available and for its architecture list, which do not pick a device."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return None
    gpus = listed_gpus()
    if not gpus:
        return None
    for gpu in gpus:
        reason = unusable_reason(
            gpu,
            torch.cuda.is_available(),
            torch.cuda.get_arch_list() if torch.cuda.is_available() else [],
            torch.__version__,
            torch.version.cuda,
        )
        if reason is None:
            return None
    return reason


# On the CPU, channels_last only for networks whose convolutions all have this many channels.
CPU_CHANNELS_LAST_MIN_WIDTH = 16


def memory_format(
    device: torch.device, side: int | None = None, narrowest: int | None = None
) -> torch.memory_format:
    """channels_last on CUDA (tensor cores want it). On the CPU only for images under 64 px and
    networks whose convolutions all have at least 16 output channels (`narrowest`): there it
    measured 1.3-1.5x faster for width-16 ResNet-18 at 28-32 px on both 2-core build machines,
    while torch 2.14's oneDNN kernels crashed (segfault, bus error, double free) in channels_last
    training of narrower networks: at 64-96 px on the AVX512 machine, and at 28 px too (width 4,
    fp32) on the AVX2 one (benchmarks/repro_onednn_crash.py). `side`: the input's height/width."""
    if device.type == "cuda":
        return torch.channels_last
    if side is None or side >= 64 or (narrowest is not None and narrowest < CPU_CHANNELS_LAST_MIN_WIDTH):
        return torch.contiguous_format
    return torch.channels_last


def conv_width(model: torch.nn.Module) -> int | None:
    """The fewest output channels of any 2-d convolution of the model (None: it has none)."""
    widths = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    return min(widths) if widths else None


def place_model(model: torch.nn.Module, device: torch.device, side: int) -> torch.nn.Module:
    """The model on `device` in the memory format it runs in there (memory_format); `side`: the
    images' height/width as the model sees them."""
    return model.to(device, memory_format=memory_format(device, side, conv_width(model)))


def model_input(x: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """A batch in the memory format of `model`'s convolutions, as place_model left them."""
    weight = next((p for p in model.parameters() if p.ndim == 4 and p.shape[1] > 1), None)
    channels_last = (
        weight is not None
        and weight.is_contiguous(memory_format=torch.channels_last)
        and not weight.is_contiguous()
    )
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


# --- precision by device and GPU generation ------------------------------------------------------


PRECISIONS = ("auto", "bf16", "fp16", "fp32")

_policy = "auto"
# Read once per process (the CPU does not change under a job), not at every forward pass.
_CPU_BF16 = cpu_has_native_bf16()


@dataclass(frozen=True)
class Precision:
    """What a policy means on one device: the autocast dtype (None: float32 throughout), whether
    the loss is scaled (fp16's GradScaler) and whether float32 matmuls may use TF32."""

    dtype: torch.dtype | None
    scaler: bool = False
    tf32: bool = False

    @property
    def name(self) -> str:
        if self.dtype is None:
            return "fp32"
        return "bf16 autocast" if self.dtype == torch.bfloat16 else "fp16 autocast + GradScaler"


BF16, FP16, FP32 = Precision(torch.bfloat16), Precision(torch.float16, scaler=True), Precision(None)


def choose_precision(
    policy: str, device_type: str, capability: tuple[int, int] | None = None, cpu_bf16: bool = False
) -> Precision:
    """The precision `policy` means on a device (see the module docstring's table). `capability`:
    a CUDA device's compute capability; `cpu_bf16`: the CPU computes bf16 natively."""
    if policy not in PRECISIONS:
        raise ValueError(f"precision {policy!r} is not known; choose from {list(PRECISIONS)}")
    # The same rule as cpu_flags.auto_precision (the start-up line's, without torch); a test holds
    # the two equal. Written out here so that a training step calls no module beyond this one.
    if policy != "auto":
        return {"bf16": BF16, "fp16": FP16, "fp32": FP32}[policy]
    if device_type == "cuda":
        if capability is None:
            raise ValueError("choose_precision: a CUDA device needs its compute capability")
        if capability >= (8, 0):
            return BF16
        return FP16 if capability >= (7, 0) else FP32
    return BF16 if device_type == "cpu" and cpu_bf16 else FP32


def set_precision(name: str) -> None:
    global _policy
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not known; choose from {list(PRECISIONS)}")
    _policy = name


def precision_for(device: torch.device) -> Precision:
    """The job's policy on `device` (this machine's GPU generation or CPU flags)."""
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    return choose_precision(_policy, device.type, capability, _CPU_BF16)


def uses_bf16(device: torch.device) -> bool:
    return precision_for(device).dtype == torch.bfloat16


def autocast(device: torch.device):
    """The context the forward passes run in: bf16 or fp16 autocast, or nothing (float32)."""
    dtype = precision_for(device).dtype
    if dtype is not None:
        return torch.autocast(device.type, dtype=dtype)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device) -> torch.amp.GradScaler | None:
    """fp16's loss scaler on `device` (CUDA or CPU), or None where the precision needs none."""
    return torch.amp.GradScaler(device.type) if precision_for(device).scaler else None


def precision_name(device: torch.device) -> str:
    """What ran on `device`, for provenance: 'bf16 autocast', 'fp16 autocast + GradScaler' or
    'fp32', and on CUDA whether TF32 was on ('fp32, TF32 off')."""
    precision = precision_for(device)
    if device.type != "cuda":
        return precision.name
    return f"{precision.name}, TF32 {'on' if precision.tf32 else 'off'}"


# --- compiling the training step (opt-in) ---------------------------------------------------------


ENV = "CVREPRO_COMPILE"
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
DEBUG_BACKENDS = ("eager", "aot_eager")
OFF = ("", "0", "false", "no", "off")


def compile_setting(value: str | None = None) -> tuple[str, str | None] | None:
    """(backend, mode) asked for by `value` (default: the environment), or None for eager."""
    raw = (os.environ.get(ENV, "") if value is None else value).strip().lower()
    if raw in OFF:
        return None
    if raw in ("1", "true", "yes", "on", "inductor"):
        return "inductor", None
    if raw in MODES:
        return "inductor", raw
    if raw in DEBUG_BACKENDS:
        return raw, None
    raise ValueError(
        f"{ENV}={raw!r} is not understood; use 0, 1, one of {list(MODES)} or one of {list(DEBUG_BACKENDS)}"
    )


class CompiledOrEager:
    """Calls `fn` through torch.compile; the first failure (no Triton, no C++ compiler, a torch or
    Python version that dynamo does not support, an operator inductor cannot lower) is reported
    once as a warning and the rest of the run uses `fn` itself, so a run never dies of compiling.

    Compile errors surface on the first call (tracing and the forward graph are compiled then);
    the wrapper catches those. A genuine error in `fn` raises again from the eager retry.
    """

    def __init__(self, fn: Callable, backend: str | Callable = "inductor", mode: str | None = None) -> None:
        self.eager = fn
        self.compiled: Callable | None = None
        self.error: str | None = None
        try:
            # dynamic=False: the last, smaller batch of an epoch gets its own static graph instead
            # of turning every graph into a slower dynamic-shape one.
            self.compiled = torch.compile(fn, backend=backend, mode=mode, dynamic=False)
        except Exception as error:  # noqa: BLE001 -- any failure to set up compiling means eager
            self._give_up(error)

    def _give_up(self, error: Exception) -> None:
        self.compiled = None
        self.error = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        warnings.warn(f"torch.compile unavailable, running eagerly ({self.error})", stacklevel=3)

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 -- see the class docstring
                self._give_up(error)
        return self.eager(*args, **kwargs)


def maybe_compile(fn: Callable, setting: tuple[str, str | None] | None) -> Callable:
    """`fn` wrapped for compiling when `setting` (from compile_setting) asks for it, else `fn`."""
    if setting is None:
        return fn
    backend, mode = setting
    return CompiledOrEager(fn, backend=backend, mode=mode)
