"""The GPU path, with the device as a parameter: resident data, batch augmentation, the precision
of the device's generation, channels_last, fp16 with a GradScaler, exact resume, torch.compile,
checkpoints that move between GPU and CPU.

Every test runs on the CPU in CI (so a renamed recipe key or a changed signature fails at once) and
on CUDA where a GPU is visible (benchmarks/gpu_session.sh, stage `tests`). Recipes are built by the
schema exactly as the rules' params are (cvrepro.jobs.recipes), never written out by hand, and
data go through the scripts' own main() where the workflow uses them."""

from __future__ import annotations

import json

import evaluate as evaluate_script
import numpy as np
import pretrain as pretrain_script
import pytest
import torch
import train as train_script

from cvrepro.data.datasets.splits import write_info, write_split
from cvrepro.data.tensors import SubsetFiles, TensorSet, channel_stats
from cvrepro.jobs.job import Job
from cvrepro.jobs.recipes import pretraining_recipe, run_recipe
from cvrepro.nets.checkpoint import ModelFiles, load_checkpoint
from cvrepro.nets.device import conv_width, memory_format, place_model, precision_for, set_precision
from cvrepro.nets.inference import extract_features, predict
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.resume import ResumeFile
from cvrepro.train.supervised import supervised

CPU = torch.device("cpu")
DEVICES = [
    pytest.param(CPU, id="cpu"),
    pytest.param(
        torch.device("cuda"),
        id="cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible"),
    ),
]
MODEL = {"arch": "resnet18", "stem": "cifar", "width": 16}


def recipe(device: torch.device, **keys) -> dict:
    """A run as the rules pass it (every schema default filled); a narrower network on the CPU,
    where fp16 is emulated and slow."""
    defaults = {
        "model": {**MODEL, "width": 16 if device.type == "cuda" else 4},
        "epochs": 3,
        "batch_size": 64,
        "eval_batch_size": 512,
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
        "augment": "crop_flip",
        "grad_flow": True,
    }
    return run_recipe(**{**defaults, **keys})


def arch_of(run: dict) -> dict:
    return {**run["model"], "in_channels": 3, "num_classes": 2, "image_size": 32}


def set_size(device: torch.device) -> int:
    return 512 if device.type == "cuda" else 192


def easy_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dark vs bright 32x32x3 noise images (uint8, N x H x W x C as prepared datasets store them)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 100, (n, 32, 32, 3)) + labels[:, None, None, None] * 120
    return images.astype(np.uint8), labels.astype(np.int64)


def easy_set(n: int, device: torch.device, seed: int = 0) -> TensorSet:
    images, labels = easy_images(n, seed)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(tensor.to(device), torch.from_numpy(labels).to(device), ["dark", "bright"])


def train_on(net, train, val, run, resume=None):
    mean, std = channel_stats(train.images)
    method = supervised(net, run, mean, std, 2, val)
    watch = run["grad_flow_per"] if run["grad_flow"] else None
    return fit(net, train, run, method, watch_grads=watch, resume=resume, log=lambda s: None)


@pytest.mark.parametrize("device", DEVICES)
def test_fit_runs_the_device_s_precision_and_layout_on_resident_data_and_learns(device):
    set_precision("auto")
    torch.manual_seed(0)
    run = recipe(device)
    train, val = easy_set(set_size(device), device), easy_set(128, device, seed=1)
    net = place_model(build_model(arch_of(run)), device, 32)
    seen = set()
    net.layer1.register_forward_hook(
        lambda m, i, out: seen.add((i[0].is_contiguous(memory_format=torch.channels_last), out.dtype))
    )
    result = train_on(net, train, val, run)
    expected_layout = memory_format(device, 32, conv_width(net)) == torch.channels_last
    assert seen == {(expected_layout, precision_for(device).dtype or torch.float32)}
    assert all(p.device.type == device.type and p.dtype == torch.float32 for p in net.parameters())
    assert result.history[-1]["val_acc"] > 0.9 and np.isfinite(result.history[-1]["train_loss"])
    # grad flow summed on the device and read once per epoch: one row per weight and epoch
    assert {row["epoch"] for row in result.grad_flow} == {1, 2, 3}
    assert all(np.isfinite(row["mean_abs_grad"]) for row in result.grad_flow)


@pytest.mark.parametrize("device", DEVICES)
def test_fp16_with_a_grad_scaler_learns_on_the_device(device):
    """The path `auto` takes on a V100 or T4 (compute capability 7.x), forced here on any device."""
    set_precision("fp16")
    torch.manual_seed(0)
    # The scaler starts at 2**16 and skips the steps that overflow until it has come down: enough steps.
    run = recipe(device, epochs=3) if device.type == "cuda" else recipe(device, epochs=2, batch_size=16)
    net = place_model(build_model(arch_of(run)), device, 32)
    n = set_size(device) if device.type == "cuda" else 128
    result = train_on(net, easy_set(n, device), easy_set(128, device, seed=1), run)
    assert result.history[-1]["val_acc"] > 0.9
    assert all(np.isfinite(row["max_abs_grad"]) for row in result.grad_flow)  # read after unscale_


@pytest.mark.parametrize("device", DEVICES)
def test_a_resumed_run_equals_an_uninterrupted_one_with_dropout(device, tmp_path):
    """Dropout draws from the device's own generator (on CUDA, torch's CUDA generators): the resume
    state carries them, so the resumed epochs repeat the uninterrupted run's bit for bit."""
    set_precision("auto")
    run = recipe(device)
    run = {**run, "model": {**run["model"], "head": {**run["model"]["head"], "kind": "mlp", "dropout": 0.3}}}
    data = easy_set(128, device)

    def trained(run: dict, resume: ResumeFile | None = None):
        torch.manual_seed(0)
        net = place_model(build_model(arch_of(run)), device, 32)
        return net, train_on(net, data, None, run, resume)

    full_net, full = trained(run)
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    trained({**run, "epochs": 1, "schedule": {**run["schedule"], "t_max": 3}}, resume)
    net, resumed = trained(run, resume)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, full_net.state_dict()[name]), name


@pytest.mark.parametrize("device", DEVICES)
def test_predict_on_the_device_in_fp32_matches_the_cpu(device):
    set_precision("fp32")
    torch.manual_seed(0)
    net = build_model(arch_of(recipe(device))).eval()
    data = easy_set(64, CPU)
    mean, std = channel_stats(data.images)
    on_cpu = predict(net, data, 32, mean, std, 40)  # also through the eval-time resize
    on_device = predict(place_model(net, device, 40), easy_set(64, device), 32, mean, std, 40).cpu()
    torch.testing.assert_close(on_cpu, on_device, atol=1e-3, rtol=1e-3)


def write_easy_data(tmp_path, n: int = 384):
    images, labels = easy_images(n)
    write_split(tmp_path / "data", "train", images, labels)
    write_info(tmp_path / "data", "easy", ["dark", "bright"], {"train": len(labels)}, {})
    np.save(tmp_path / "train.npy", np.arange(256))
    np.save(tmp_path / "test.npy", np.arange(256, n))
    return SubsetFiles(tmp_path / "data", "train", tmp_path / "train.npy")


def model_files(tmp_path, name: str) -> ModelFiles:
    return ModelFiles(
        tmp_path / f"{name}.pt",
        tmp_path / f"{name}_history.csv",
        tmp_path / f"{name}_metrics.json",
        grad_flow=tmp_path / f"{name}_grad_flow.csv",
    )


@pytest.mark.parametrize("device", DEVICES)
def test_train_on_the_device_and_evaluate_the_checkpoint_on_the_cpu(device, tmp_path):
    train = write_easy_data(tmp_path)
    set_precision("auto")
    train_script.main(
        recipe(device, grad_flow=False),
        train=train,
        val=None,
        init=None,
        out=model_files(tmp_path, "model"),
        ctx=Job(device),
    )
    metrics = evaluate_script.main(
        tmp_path / "model.pt",
        SubsetFiles(tmp_path / "data", "train", tmp_path / "test.npy"),
        tmp_path / "eval.json",
        tmp_path / "predictions.npz",
        ctx=Job(CPU),
        batch_size=1024,
    )
    assert metrics["test_acc"] > 0.9
    provenance = json.loads((tmp_path / "eval.json").read_text())["provenance"]
    ran = precision_for(device).name
    assert ran in provenance["device"] and provenance["eval_device"].startswith("cpu (")
    if device.type == "cuda":
        assert torch.cuda.get_device_name() in provenance["device"] and "TF32 off" in provenance["device"]


@pytest.mark.parametrize("device", DEVICES)
def test_simclr_pretraining_and_feature_extraction_on_the_device(device, tmp_path):
    data = write_easy_data(tmp_path)
    set_precision("auto")
    spec = pretraining_recipe(
        method="simclr",
        model=MODEL,
        epochs=2,
        batch_size=128,
        optimizer={"name": "adam", "lr": 2e-3},
        temperature=0.5,
        projection={"hidden": 64, "dim": 32},
        augment={"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
    )
    metrics = pretrain_script.main(
        spec, data=data, probe=None, probe_val=None, out=model_files(tmp_path, "ssl"), ctx=Job(device)
    )
    assert np.isfinite(metrics["train_loss"]) and metrics["epochs"] == 2
    checkpoint = load_checkpoint(tmp_path / "ssl.pt")
    encoder = build_model(checkpoint["arch"])
    encoder.load_state_dict(checkpoint["state_dict"])
    encoder = place_model(encoder, device, 32)
    images = data.load(device)
    mean, std = checkpoint["normalization"]["mean"], checkpoint["normalization"]["std"]
    features = extract_features(encoder, images, mean, std, None, "penultimate", chunk=128)
    assert isinstance(features, np.ndarray) and features.shape == (256, encoder.num_features)
    assert features.dtype == np.float32 and np.isfinite(features).all()


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_training_runs_without_falling_back(device, monkeypatch, recwarn):
    """Inductor on CUDA; on the CPU dynamo's aot_eager backend (no C++ compiler needed, fast),
    which still traces the step as inductor would."""
    monkeypatch.setenv("CVREPRO_COMPILE", "1" if device.type == "cuda" else "aot_eager")
    set_precision("auto")
    torch.manual_seed(0)
    run = recipe(device, epochs=1)
    net = place_model(build_model(arch_of(run)), device, 32)
    result = train_on(net, easy_set(128, device), None, run)
    assert np.isfinite(result.history[-1]["train_loss"])
    assert not [w for w in recwarn if "torch.compile unavailable" in str(w.message)]
    assert all(not key.startswith("_orig_mod") for key in net.state_dict())
