"""Precision by GPU generation and CPU, fp16 with a GradScaler (trained and resumed on the CPU), a
GPU that torch cannot use, and the resume state's devices and write interval."""

from __future__ import annotations

import os
import stat
import sys

import pytest
import torch
from test_engine import HP as ENGINE_HP

from cvrepro.data.tensors import TensorSet, channel_stats
from cvrepro.nets.device import (
    BF16,
    FP16,
    FP32,
    ListedGpu,
    choose_precision,
    gpu_unusable,
    precision_name,
    resolve_device,
    set_precision,
    unusable_reason,
)
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.resume import ResumeFile, load_state, resume_interval, save_state
from cvrepro.train.supervised import supervised

HP = {**ENGINE_HP, "grad_flow": True, "grad_flow_per": "step"}  # the engine tests' recipe, per-step grads
ARCH = {**HP["model"], "width": 4, "in_channels": 1, "num_classes": 2, "image_size": 12}


@pytest.mark.parametrize(
    ("capability", "expected", "gpus"),
    [
        ((6, 1), FP32, "P100 / GTX 10: neither helps"),
        ((7, 0), FP16, "V100"),
        ((7, 5), FP16, "T4, RTX 20"),
        ((8, 0), BF16, "A100"),
        ((8, 6), BF16, "RTX 30"),
        ((9, 0), BF16, "H100"),
    ],
)
def test_auto_precision_follows_the_gpu_generation(capability, expected, gpus):
    chosen = choose_precision("auto", "cuda", capability)
    assert chosen == expected, gpus
    assert chosen.scaler == (chosen.dtype == torch.float16)  # fp16 always with its loss scaler
    assert not chosen.tf32


@pytest.mark.parametrize(("cpu_bf16", "expected"), [(True, BF16), (False, FP32)])
def test_auto_precision_on_cpus_with_and_without_bf16(cpu_bf16, expected):
    assert choose_precision("auto", "cpu", None, cpu_bf16) == expected


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
def test_explicit_policies_mean_the_same_everywhere(device_type):
    for capability in ((7, 0), (9, 0)):
        assert choose_precision("bf16", device_type, capability) == BF16
        assert choose_precision("fp16", device_type, capability) == FP16
        assert choose_precision("fp32", device_type, capability) == FP32  # TF32 off: float32 numbers
        assert not choose_precision("fp32", device_type, capability).tf32
    with pytest.raises(ValueError, match="precision 'fp8' is not known"):
        choose_precision("fp8", device_type, (9, 0))


def test_a_cuda_choice_needs_the_compute_capability():
    with pytest.raises(ValueError, match="needs its compute capability"):
        choose_precision("auto", "cuda", None)


def test_provenance_names_what_ran_on_the_cpu():
    cpu = torch.device("cpu")
    for policy, name in (("fp32", "fp32"), ("bf16", "bf16 autocast"), ("fp16", "fp16 autocast + GradScaler")):
        set_precision(policy)
        assert precision_name(cpu) == name


def toy_set(n: int = 128, seed: int = 0) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 12, 12, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def run_fit(hp: dict, resume: ResumeFile | None = None, log=lambda line: None):
    torch.manual_seed(0)
    data = toy_set()
    net = build_model(ARCH)
    seen: set[torch.dtype] = set()
    net.conv1.register_forward_hook(lambda m, i, out: seen.add(out.dtype))
    method = supervised(net, hp, *channel_stats(data.images), 2, toy_set(64, seed=1))
    result = fit(net, data, hp, method, watch_grads="step", resume=resume, log=log)
    return net, result, seen


def test_fp16_with_a_grad_scaler_trains_on_the_cpu_and_reads_unscaled_gradients():
    set_precision("fp32")
    _, reference, _ = run_fit({**HP, "epochs": 1})
    set_precision("fp16")
    net, result, seen = run_fit({**HP, "epochs": 2})
    assert seen == {torch.float16}  # convolutions ran in fp16 ...
    assert all(p.dtype == torch.float32 for p in net.parameters())  # ... on float32 weights
    losses = [row["train_loss"] for row in result.history]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    # The gradient statistics are read after unscale_: the size of fp32's (the scaler starts at
    # 2**16, so scaled ones would be ~65,000 times larger); skipped steps would count 0.
    ours = {(r["step"], r["layer"]): r["mean_abs_grad"] for r in result.grad_flow if r["epoch"] == 1}
    theirs = {(r["step"], r["layer"]): r["mean_abs_grad"] for r in reference.grad_flow}
    ratios = [ours[key] / theirs[key] for key in theirs if theirs[key] > 0 and ours[key] > 0]
    assert ratios and 0.5 < sorted(ratios)[len(ratios) // 2] < 2


def test_fp16_run_resumes_exactly_with_its_loss_scale(tmp_path):
    set_precision("fp16")
    net_full, full, _ = run_fit(HP)
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    run_fit({**HP, "epochs": 1, "schedule": {**HP["schedule"], "t_max": 3}}, resume=resume)
    state = load_state(resume)
    assert state["epoch"] == 1 and state["device_type"] == "cpu" and state["scaler"]["scale"] > 0
    net, resumed, _ = run_fit(HP, resume=resume)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, net_full.state_dict()[name]), name


def test_a_state_written_on_another_device_type_goes_on_with_a_note(tmp_path):
    """A state from a GPU, read on the CPU: its CUDA generator state means nothing here, so the
    epochs after it restart with a reseeded generator and one line says so (it used to raise)."""
    set_precision("fp32")
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    run_fit({**HP, "epochs": 1, "schedule": {**HP["schedule"], "t_max": 3}}, resume=resume)
    state = load_state(resume)
    # What a CUDA job writes: its generator's 16-byte Philox state, one state per CUDA device.
    gpu_state = {**state, "device_type": "cuda", "generator": torch.zeros(16, dtype=torch.uint8)}
    gpu_state["cuda_rng"] = [torch.zeros(16, dtype=torch.uint8)]
    save_state(resume, {k: v for k, v in gpu_state.items() if k != "identity"})
    lines: list[str] = []
    _, resumed, _ = run_fit(HP, resume=resume, log=lines.append)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]  # epoch 1 kept, 2-3 run here
    notes = [line for line in lines if "resume state written on cuda, this run is on cpu" in line]
    assert len(notes) == 1 and "reseeded" in notes[0]


@pytest.mark.parametrize(("every_s", "saved_after_epoch_1"), [(0, True), (3600, False)])
def test_resume_state_is_written_at_most_every_n_seconds_and_at_the_end(
    tmp_path, every_s, saved_after_epoch_1
):
    set_precision("fp32")
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=every_s)
    present: dict[int, bool] = {}

    def log(line: str) -> None:  # an epoch's line comes before that epoch's write
        if line.startswith("epoch "):
            present[int(line.split()[1].split("/")[0])] = resume.path.exists()

    run_fit(HP, resume=resume, log=log)
    assert present == {1: False, 2: saved_after_epoch_1, 3: saved_after_epoch_1}
    assert load_state(resume)["epoch"] == 3  # always written after the last epoch


def test_the_resume_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CVREPRO_RESUME_EVERY_S", raising=False)
    assert resume_interval() == 60.0 and ResumeFile("x", "h").every_s == 60.0
    monkeypatch.setenv("CVREPRO_RESUME_EVERY_S", "0")
    assert ResumeFile("x", "h").every_s == 0.0
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("CVREPRO_RESUME_EVERY_S", bad)
        with pytest.raises(ValueError, match=f"CVREPRO_RESUME_EVERY_S='{bad}' is not a number"):
            resume_interval()


# --- a GPU that torch cannot use ------------------------------------------------------------------

CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
CU126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "compute_90"]


def test_a_v100_under_the_cuda_13_wheel_is_named_with_what_to_install():
    v100 = ListedGpu("Tesla V100-SXM2-16GB", (7, 0), "535.104.05")
    line = unusable_reason(v100, True, CU130, "2.14.1+cu130", "13.0")
    assert "\n" not in line and "'Tesla V100-SXM2-16GB'" in line and "compute capability 7.0" in line
    assert "driver 535.104.05" in line and "no kernels for sm_70" in line and "/whl/cu126" in line
    assert unusable_reason(v100, True, CU126, "2.9.0+cu126", "12.6") is None


def test_an_old_driver_and_a_cpu_only_build_are_named():
    t4 = ListedGpu("Tesla T4", (7, 5), "535.104.05")
    line = unusable_reason(t4, False, CU130, "2.14.1+cu130", "13.0")
    assert "Tesla T4" in line and "7.5" in line and "driver 535.104.05" in line and "CUDA 13.0" in line
    assert unusable_reason(t4, True, CU130, "2.14.1+cu130", "13.0") is None
    assert "cannot use GPUs" in unusable_reason(t4, False, [], "2.14.1+cpu", None)


def test_newer_gpus_run_on_same_major_kernels_or_ptx():
    assert unusable_reason(ListedGpu("RTX 3090", (8, 6), "580"), True, ["sm_80"], "2.4.0", "12.1") is None
    assert unusable_reason(ListedGpu("B200", (10, 0), "580"), True, CU126, "2.9.0", "12.6") is None
    assert unusable_reason(ListedGpu("GPU", None, "470"), True, CU130, "2.14.1", "13.0") is None


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    """An nvidia-smi on PATH that lists one T4, as the real one answers --query-gpu."""
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho 'Tesla T4, 7.5, 470.57.02'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tool


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch can use a GPU here")
@pytest.mark.skipif(sys.platform != "linux", reason="a shell script as nvidia-smi")
def test_a_listed_gpu_that_torch_cannot_use_stops_the_job_in_one_line(fake_nvidia_smi, monkeypatch):
    with pytest.raises(RuntimeError, match=r"GPU 'Tesla T4' \(compute capability 7.5, driver 470.57.02\)"):
        resolve_device("auto")
    with pytest.raises(RuntimeError, match="update the driver or install PyTorch's CUDA 12.6 build"):
        resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")  # asked for the CPU: no question
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # GPUs hidden on purpose: the CPU, silently
    assert gpu_unusable() is None and resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize(
    "capability, expected", [("7.5", "fp16 autocast + GradScaler"), ("9.0", "bf16 autocast")]
)
def test_the_start_up_line_names_the_precision_each_gpu_generation_gets(
    tmp_path, monkeypatch, capability, expected
):
    """The console line (no torch) reads the GPUs' compute capability from nvidia-smi and says
    what the jobs will pick: fp16 + GradScaler on a T4 (7.5), bf16 on an H100 (9.0)."""
    from cvrepro.jobs.console import compute_line

    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *compute_cap*) echo "' + capability + '" ;;\n'
        '  *-L*) echo "GPU 0: Tesla T4 (UUID: GPU-1)" ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert f"-> CUDA (1 GPU), precision {expected}," in compute_line("auto", "auto")
    assert "precision fp32," in compute_line("auto", "fp32")


@pytest.mark.parametrize("cpu_bf16", [False, True])
@pytest.mark.parametrize(
    "device_type, capability",
    [("cuda", (6, 1)), ("cuda", (7, 0)), ("cuda", (7, 5)), ("cuda", (8, 0)), ("cuda", (9, 0)), ("cpu", None)],
)
def test_the_start_up_line_and_the_jobs_pick_precision_by_the_same_rule(device_type, capability, cpu_bf16):
    """cpu_flags.auto_precision (the console's, no torch) and device.choose_precision (the jobs')."""
    from cvrepro.jobs.console import NAMES
    from cvrepro.nets.cpu_flags import auto_precision

    picked = choose_precision("auto", device_type, capability, cpu_bf16).name
    assert picked == NAMES[auto_precision(device_type, capability, cpu_bf16)]
