"""The training engine's options on tiny CPU data: freezing, init, early stopping, grad flow, resume, NaN."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import REPO
from cvrepro.config import ConfigError, load_config
from cvrepro.data.tensors import TensorSet, channel_stats
from cvrepro.jobs.recipes import pretraining_recipe, run_recipe
from cvrepro.nets.checkpoint import init_from_checkpoint
from cvrepro.nets.models import ResNet, build_model, freeze, set_train_mode
from cvrepro.nets.pretrained import imagenet_state_dict, imagenet_weights
from cvrepro.train.engine import fit
from cvrepro.train.resume import ResumeFile, load_state
from cvrepro.train.supervised import supervised

HP = run_recipe(
    epochs=3,
    batch_size=32,
    eval_batch_size=128,
    optimizer={"name": "sgd", "lr": 0.05, "weight_decay": 0.0},
    augment="flip",
)
ARCH = {**HP["model"], "width": 4, "in_channels": 1, "num_classes": 2, "image_size": 12}


def resnet(**keys) -> ResNet:
    return ResNet(
        **{"arch": "resnet18", "num_classes": 10, "in_channels": 3, "width": 8, "stem": "cifar", **keys}
    )


def toy_set(n: int = 192, seed: int = 0) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 12, 12, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def run_fit(hp: dict, resume: ResumeFile | None = None):
    torch.manual_seed(0)
    data = toy_set()
    mean, std = channel_stats(data.images)
    net = build_model(ARCH)
    method = supervised(net, hp, mean, std, 2, toy_set(64, seed=1))
    result = fit(
        net,
        data,
        hp,
        method,
        stopping=hp["early_stopping"],
        watch_grads=hp["grad_flow_per"] if hp["grad_flow"] else None,
        resume=resume,
        log=lambda s: None,
    )
    return net, result


def test_freeze_first_children_counts_and_keeps_frozen_bn_in_eval():
    net = resnet(stem="imagenet")
    total = sum(p.numel() for p in net.parameters())
    frozen = freeze(net, 6, [])
    assert frozen == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"]
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    expected = total - sum(
        p.numel() for m in (net.conv1, net.bn1, net.layer1, net.layer2) for p in m.parameters()
    )
    assert trainable == expected
    set_train_mode(net, "eval")
    assert not net.bn1.training and not net.layer2[0].bn1.training and net.layer3[0].bn1.training
    # Running statistics of frozen BN do not move during a training step.
    before = net.bn1.running_mean.clone()
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    assert torch.equal(before, net.bn1.running_mean)


@pytest.mark.parametrize("bn", ["eval", "train"])
def test_frozen_bn_running_statistics_move_only_with_freeze_bn_train(bn):
    """freeze.bn through the engine: one epoch of a run whose first children are frozen."""
    hp = {**HP, "epochs": 1, "freeze": {"children": 2, "stages": [], "bn": bn}}
    torch.manual_seed(0)
    net = build_model(ARCH)
    assert freeze(net, 2, []) == ["conv1", "bn1"]
    before = net.bn1.running_mean.clone(), net.bn1.weight.clone()
    data = toy_set(64)
    mean, std = channel_stats(data.images)
    fit(net, data, hp, supervised(net, hp, mean, std, 2, None), log=lambda s: None)
    assert torch.equal(before[1], net.bn1.weight)  # frozen either way
    assert torch.equal(before[0], net.bn1.running_mean) == (bn == "eval")
    assert net.bn1.training == (bn == "train") and net.layer1[0].bn1.training


def test_freeze_all_ten_children_still_trains_the_head_and_bad_names_fail():
    net = resnet()
    freeze(net, 10, [])
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueError, match="freeze.stages: no child named 'layer9'"):
        freeze(resnet(), 0, ["layer9"])


def test_imagenet_init_reads_torchvision_cache(tmp_path, monkeypatch):
    """The real weights API, served from a TORCH_HOME cache that this test fills."""
    from torchvision.models import resnet18

    reference = resnet18()
    weights = imagenet_weights("resnet18", "DEFAULT")
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / weights.url.rsplit("/", 1)[-1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CVREPRO_TRUST_WEIGHTS_CACHE", "test: random weights under torchvision's file name")
    net = resnet(num_classes=7, width=64, stem="imagenet")
    fresh = init_from_checkpoint(net, {"state_dict": imagenet_state_dict("resnet18", "DEFAULT")}, "imagenet")
    assert fresh == ["fc.bias", "fc.weight"]
    assert torch.equal(net.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    gray = imagenet_state_dict("resnet18", "DEFAULT", in_channels=1)["conv1.weight"]
    assert torch.allclose(gray, reference.conv1.weight.sum(1, keepdim=True))


def test_imagenet_init_without_network_names_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("torch.hub.download_url_to_file", _refuse)
    with pytest.raises(RuntimeError, match="hub/checkpoints"):
        imagenet_state_dict("resnet18", "DEFAULT")


def test_imagenet_versions_are_torchvision_s_and_a_missing_one_is_a_config_error():
    from torchvision.models import get_model_weights

    from cvrepro.study.names import IMAGENET_VERSIONS

    for arch, versions in IMAGENET_VERSIONS.items():
        assert versions == tuple(w.name for w in get_model_weights(arch)), arch
    assert imagenet_weights("resnet50", "IMAGENET1K_V1").url.endswith("resnet50-0676ba61.pth")
    assert imagenet_weights("resnet50", "DEFAULT") is imagenet_weights("resnet50", "IMAGENET1K_V2")
    study = {
        "imagenet_weights": "IMAGENET1K_V2",
        "subsets": {
            "a": {"dataset": "cifar10", "split": "train", "size": 10},
            "t": {"dataset": "cifar10", "split": "test", "size": 10},
        },
        "runs": {
            "ft": {
                "train": "a",
                "test": "t",
                "init": "imagenet",
                "model": {"arch": "resnet18", "stem": "imagenet"},
            }
        },
    }
    with pytest.raises(ConfigError) as info:
        load_config({"studies": ["s"], "inline_studies": {"s": study}}, REPO / "studies")
    message = str(info.value)
    assert "imagenet_weights: torchvision has no IMAGENET1K_V2 weights for resnet18 (runs.ft)" in message
    assert "\n" not in message


def _refuse(*args, **kwargs):
    raise OSError("network is unreachable")


def test_early_stopping_stops_and_restores_the_best_epoch():
    hp = {
        **HP,
        "epochs": 30,
        "optimizer": {**HP["optimizer"], "lr": 0.2},
        "early_stopping": {"metric": "val_acc", "patience": 2, "restore_best": True},
    }
    net, result = run_fit(hp)
    assert result.stopped_early and len(result.history) < 30
    accs = [row["val_acc"] for row in result.history]
    assert result.best_epoch == 1 + accs.index(max(accs))
    assert len(result.history) - result.best_epoch == 2


def test_steps_end_training_inside_the_last_epoch(monkeypatch):
    """S7's 'Number of Iterations 3000': a recipe with `steps` takes exactly that many optimizer
    steps; the last epoch stops after the remaining batches."""
    steps_taken = []
    original = torch.optim.SGD.step
    monkeypatch.setattr(
        torch.optim.SGD, "step", lambda self, *a, **k: (steps_taken.append(1), original(self, *a, **k))[1]
    )
    per_epoch = len(toy_set()) // HP["batch_size"] + bool(len(toy_set()) % HP["batch_size"])
    _, result = run_fit({**HP, "epochs": 3, "steps": 2 * per_epoch + 1})
    assert len(steps_taken) == 2 * per_epoch + 1
    assert [row["steps"] for row in result.history] == [per_epoch, per_epoch, 1]


def test_without_shuffle_the_seed_no_longer_changes_the_batches():
    """shuffle: false keeps the data's order every epoch: with no augmentation, only the order
    depends on the recipe's seed, so two seeds then train identically (and differ with shuffle)."""
    losses = {}
    for shuffle in (True, False):
        for seed in (0, 1):
            _, result = run_fit({**HP, "augment": "none", "shuffle": shuffle, "seed": seed})
            losses[shuffle, seed] = [row["train_loss"] for row in result.history]
    assert losses[False, 0] == losses[False, 1]
    assert losses[True, 0] != losses[True, 1]


def test_val_augment_scores_validation_through_the_training_augmentation_reproducibly():
    """S2's tiny-CIFAR validation images pass through train_transform: val_augment draws a fresh
    seeded augmentation every epoch, from the training generator, so a rerun repeats it."""
    hp = {**HP, "augment": {"name": "s2_transfer", "size": 12, "rotation": 90.0}}
    plain = [row["val_acc"] for row in run_fit(hp)[1].history]
    augmented = [row["val_loss"] for row in run_fit({**hp, "val_augment": True})[1].history]
    again = [row["val_loss"] for row in run_fit({**hp, "val_augment": True})[1].history]
    assert augmented == again
    assert augmented != [row["val_loss"] for row in run_fit(hp)[1].history]
    assert len(plain) == len(augmented) == HP["epochs"]


def test_every_optimizer_step_s_loss_is_kept_and_averages_to_the_epoch_s():
    """steps.csv (a report's 'loss vs iterations'): one row per step, numbered across epochs; with
    equal batches their mean is the epoch's train_loss."""
    hp = {**HP, "epochs": 2, "batch_size": 32}  # 192 images: 6 batches of 32 per epoch
    _, result = run_fit(hp)
    assert [row["step"] for row in result.steps] == list(range(1, 13))
    assert [row["epoch"] for row in result.steps] == [1] * 6 + [2] * 6
    for epoch, row in enumerate(result.history, start=1):
        losses = [s["loss"] for s in result.steps if s["epoch"] == epoch]
        assert sum(losses) / len(losses) == pytest.approx(row["train_loss"], rel=1e-6)


def test_mixing_with_a_triplet_or_center_term_is_a_config_error():
    study = {
        "subsets": {
            "a": {"dataset": "cifar10", "split": "train", "size": 100},
            "t": {"dataset": "cifar10", "split": "test", "size": 10},
        },
        "runs": {"r": {"train": "a", "test": "t", "loss": {"name": "ce_center", "cutmix_alpha": 1.0}}},
    }
    with pytest.raises(ConfigError) as info:
        load_config({"studies": ["s"], "inline_studies": {"s": study}}, REPO / "studies")
    assert str(info.value).endswith(
        "runs.r.loss.cutmix_alpha: mixes targets, so it needs loss.name ce, got 1.0"
    )


def test_steps_that_need_other_epochs_are_a_config_error():
    study = {
        "subsets": {
            "a": {"dataset": "cifar10", "split": "train", "size": 1000},
            "t": {"dataset": "cifar10", "split": "test", "size": 10},
        },
        "runs": {"r": {"train": "a", "test": "t", "batch_size": 256, "steps": 10, "epochs": 2}},
    }
    with pytest.raises(ConfigError) as info:
        load_config({"studies": ["s"], "inline_studies": {"s": study}}, REPO / "studies")
    assert str(info.value).endswith(
        "runs.r.epochs: 10 steps of 4 batches per epoch (1000 images of 'a' at batch 256) take 3 epochs, not 2"
    )


def test_grad_flow_is_recorded_per_layer_and_epoch():
    _, result = run_fit({**HP, "epochs": 2, "grad_flow": True})
    layers = {row["layer"] for row in result.grad_flow}
    assert "conv1.weight" in layers and "fc.weight" in layers
    assert len(result.grad_flow) == 2 * len(layers)
    assert all(row["mean_abs_grad"] > 0 for row in result.grad_flow)
    assert "bn1.weight" in layers  # BatchNorm scales too, as S5's plots show
    assert all(row["max_abs_grad"] >= row["mean_abs_grad"] for row in result.grad_flow)


def test_grad_flow_mean_and_max_equal_a_per_step_recomputation():
    """The device-side sums (per epoch) and per-step rows against plain per-step bookkeeping on
    the same training."""
    from cvrepro.train.engine import watched_parameters

    hp = {**HP, "epochs": 1, "augment": "none", "grad_flow": True}
    _, result = run_fit(hp)
    torch.manual_seed(0)
    data = toy_set()
    mean, std = channel_stats(data.images)
    net = build_model(ARCH)
    method = supervised(net, hp, mean, std, 2, None)
    seen: dict[str, list[torch.Tensor]] = {}
    original = method.step

    def step(images, labels, generator):
        # the engine zeroes gradients before backward, so the previous step's are complete here
        for name, p in watched_parameters(net):
            if p.grad is not None:
                seen.setdefault(name, []).append(p.grad.detach().abs().clone())
        return original(images, labels, generator)

    method.step = step
    per_step = fit(net, data, hp, method, watch_grads="step", log=lambda s: None)
    for name, p in watched_parameters(net):  # the last step's gradients
        seen.setdefault(name, []).append(p.grad.detach().abs().clone())
    rows = {row["layer"]: row for row in result.grad_flow}
    steps = len(next(iter(seen.values())))
    assert steps > 1 and len(per_step.grad_flow) == steps * len(seen)
    for name, grads in seen.items():
        assert rows[name]["mean_abs_grad"] == pytest.approx(
            float(torch.stack([g.mean() for g in grads]).mean()), rel=1e-5
        )
        assert rows[name]["max_abs_grad"] == float(max(g.max() for g in grads))
        # grad_flow_per: step keeps each step's own values, numbered 1..steps
        own = [row for row in per_step.grad_flow if row["layer"] == name]
        assert [row["step"] for row in own] == list(range(1, steps + 1))
        assert [row["mean_abs_grad"] for row in own] == pytest.approx(
            [float(g.mean()) for g in grads], rel=1e-6
        )
        assert [row["max_abs_grad"] for row in own] == [float(g.max()) for g in grads]


def test_nan_loss_stops_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        run_fit({**HP, "optimizer": {**HP["optimizer"], "lr": 1e30}})


MIXING = {**HP["loss"], "mixup_alpha": 0.2, "cutmix_alpha": 1.0}


@pytest.mark.parametrize("loss", [HP["loss"], MIXING], ids=["plain", "mixup_or_cutmix"])
def test_resume_continues_identically_and_other_hyperparameters_restart(tmp_path, loss):
    """Also with MixUp / CutMix, whose draws come from torch's global generator: the resume state
    carries it, so a resumed run mixes the same batches the same way."""
    hp = {**HP, "loss": loss}
    resume = ResumeFile(tmp_path / "state.pt", "h")
    _, full = run_fit(hp)
    # Stop after epoch 1 (as a killed job would), then resume for the remaining epochs.
    run_fit({**hp, "epochs": 1, "schedule": {**HP["schedule"], "t_max": 3}}, resume=resume)
    assert load_state(resume)["epoch"] == 1
    net, resumed = run_fit(hp, resume=resume)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    assert load_state(ResumeFile(resume.path, "other")) is None  # another training: no resume


def test_center_triplet_label_smoothed_and_mixed_losses_train():
    for loss in (
        {"name": "ce_center", "weight": 0.1},
        {"name": "ce_triplet", "weight": 1.0, "mining": "batch_hard"},
        {"name": "ce", "label_smoothing": 0.1},
        {**HP["loss"], "mixup_alpha": 0.2},
        {**HP["loss"], "cutmix_alpha": 1.0},
    ):
        _, result = run_fit(run_recipe(**{**HP, "loss": loss}))
        assert result.history[-1]["val_acc"] > 0.8, loss


def test_fit_does_not_modify_its_hyperparameters():
    hp = copy.deepcopy(HP)
    run_fit(hp)
    assert hp == HP


def test_compile_setting_reads_the_environment_values(monkeypatch):
    from cvrepro.nets.device import compile_setting

    assert [compile_setting(v) for v in ("", "0", "off")] == [None, None, None]
    assert compile_setting("1") == ("inductor", None)
    assert compile_setting("max-autotune") == ("inductor", "max-autotune")
    assert compile_setting("aot_eager") == ("aot_eager", None)
    monkeypatch.setenv("CVREPRO_COMPILE", "eager")
    assert compile_setting() == ("eager", None)
    monkeypatch.delenv("CVREPRO_COMPILE")
    assert compile_setting() is None  # off unless asked for: never compiles on CPU or in CI by default
    with pytest.raises(ValueError, match="CVREPRO_COMPILE='fast' is not understood"):
        compile_setting("fast")


def test_a_failing_compile_warns_once_and_runs_eagerly():
    from cvrepro.nets.device import CompiledOrEager

    def broken_backend(graph, example_inputs):
        raise RuntimeError("no compiler on this machine")

    net = build_model(ARCH).eval()
    x = torch.rand(4, 1, 12, 12)
    wrapped = CompiledOrEager(net, backend=broken_backend)
    with pytest.warns(UserWarning, match="no compiler on this machine"):
        first = wrapped(x)
    assert wrapped.compiled is None and "RuntimeError" in wrapped.error
    torch.testing.assert_close(first, net(x))
    torch.testing.assert_close(wrapped(x), net(x))  # later calls: eager, no second warning needed


def test_fit_with_a_compiled_forward_trains_like_eager_and_keeps_state_dict_keys(monkeypatch, recwarn):
    hp = {**HP, "epochs": 1}
    eager_net, eager = run_fit(hp)
    torch._dynamo.reset()
    monkeypatch.setenv("CVREPRO_COMPILE", "aot_eager")  # dynamo + autograd tracing, no C++/Triton compiler
    net, compiled = run_fit(hp)
    assert compiled.history[0]["train_loss"] == pytest.approx(eager.history[0]["train_loss"], rel=1e-3)
    assert compiled.history[0]["val_acc"] == pytest.approx(eager.history[0]["val_acc"], abs=0.05)
    assert list(net.state_dict()) == list(eager_net.state_dict())  # no `_orig_mod.` prefixes
    assert not [w for w in recwarn if "torch.compile unavailable" in str(w.message)]  # it did compile


def test_pretrain_with_a_compiled_forward_runs(monkeypatch, recwarn):
    from cvrepro.nets.heads import ProjectionHead
    from cvrepro.train.methods import pretraining_method
    from cvrepro.train.pretraining import PretrainNet

    torch._dynamo.reset()
    monkeypatch.setenv("CVREPRO_COMPILE", "eager")
    data = toy_set(64)
    mean, std = channel_stats(data.images)
    encoder = build_model(ARCH)
    model = PretrainNet(encoder, ProjectionHead(encoder.num_features, 16, 8, True))
    hp = pretraining_recipe(
        method="simclr", epochs=1, batch_size=32, optimizer=HP["optimizer"], schedule={"name": "constant"}
    )
    history = fit(model, data, hp, pretraining_method(model, hp, mean, std, None), log=lambda s: None).history
    assert len(history) == 1 and history[0]["train_loss"] > 0
    assert not [w for w in recwarn if "torch.compile unavailable" in str(w.message)]


def test_cpu_uses_channels_last_only_below_64_pixels_for_networks_16_wide():
    from cvrepro.nets.device import memory_format, model_input, place_model

    cpu = torch.device("cpu")
    assert memory_format(cpu, 28) == memory_format(cpu, 32, 16) == torch.channels_last
    # oneDNN crashed in channels_last training of narrow nets (torch 2.14, CPU): on 64-96 px images,
    # and at 28 px with width 4 on a CPU without AVX512.
    assert memory_format(cpu, 64) == memory_format(cpu, 96) == torch.contiguous_format
    assert memory_format(cpu, 28, 8) == torch.contiguous_format
    assert memory_format(torch.device("cuda"), 96, 4) == torch.channels_last
    x = torch.randn(2, 3, 28, 28)  # batches follow the format place_model chose for the network
    for width, expected in ((4, False), (16, True)):
        net = place_model(build_model({**ARCH, "width": width, "in_channels": 3}), cpu, 28)
        batch = model_input(x, net)
        assert (
            batch.is_contiguous(memory_format=torch.channels_last) == expected
            and batch.is_contiguous() != expected
        )


def conv_output_dtypes(hp: dict) -> set[torch.dtype]:
    """The dtypes the convolutions produced during one epoch of fit."""
    seen = set()
    torch.manual_seed(0)
    data = toy_set(64)
    net = build_model(ARCH)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda m, i, out: seen.add(out.dtype))
    recipe = {**hp, "epochs": 1}
    fit(
        net,
        data,
        recipe,
        supervised(net, recipe, *channel_stats(data.images), 2, toy_set(32, seed=1)),
        log=lambda s: None,
    )
    assert all(p.dtype == torch.float32 for p in net.parameters())  # weights stay float32 either way
    return seen


def test_precision_policy_sets_the_dtype_of_convolutions():
    from cvrepro.nets.device import cpu_has_native_bf16, set_precision, uses_bf16

    set_precision("fp32")
    assert conv_output_dtypes(HP) == {torch.float32}
    set_precision("bf16")
    assert conv_output_dtypes(HP) == {torch.bfloat16}
    set_precision("fp16")
    assert conv_output_dtypes(HP) == {torch.float16}
    set_precision("auto")
    assert uses_bf16(torch.device("cpu")) == cpu_has_native_bf16()
    with pytest.raises(ValueError, match="precision 'fp8' is not known; choose from"):
        set_precision("fp8")


def test_the_start_up_line_and_the_jobs_agree_on_bf16(tmp_path):
    """The console line (no torch) and the jobs' auto policy read the same CPU flags."""
    from cvrepro.jobs.console import compute_line
    from cvrepro.nets.cpu_flags import cpu_has_native_bf16
    from cvrepro.nets.device import set_precision, uses_bf16

    set_precision("auto")
    claimed = "precision bf16 autocast" in compute_line("cpu", "auto")
    assert claimed == uses_bf16(torch.device("cpu"))
    flags = tmp_path / "cpuinfo"
    flags.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert not cpu_has_native_bf16(flags)
    flags.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_native_bf16(flags)
    assert not cpu_has_native_bf16(tmp_path / "missing")


def test_provenance_names_the_precision():
    from cvrepro.jobs.job import device_name
    from cvrepro.nets.device import set_precision

    set_precision("fp32")
    assert device_name(torch.device("cpu")).endswith(", fp32)")
    set_precision("bf16")
    assert device_name(torch.device("cpu")).endswith(", bf16 autocast)")
