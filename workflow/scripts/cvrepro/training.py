"""The training loop: one flat pass per epoch over device-resident data.

Flat functions in the style of torchvision's references: `make_optimizer`, `make_scheduler`,
`train_one_epoch`, `evaluate`, `fit`. Loss and accuracy are accumulated on the device and read
once per epoch, so the loop never waits on the host inside an epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.augment import augment_batch, eval_resize
from cvrepro.compile import compile_setting, maybe_compile
from cvrepro.data import TensorSet, normalize, standardize
from cvrepro.freezing import set_train_mode
from cvrepro.losses import CenterLoss, combined_loss
from cvrepro.precision import autocast, set_precision
from cvrepro.resume import load_state, restore_training, save_state, training_state

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant", "step")


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cuda", "cpu"):
        raise ValueError(f"unknown device {name!r}; choose from ['auto', 'cuda', 'cpu']")
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


def make_optimizer(params, spec: dict) -> torch.optim.Optimizer:
    name = spec["name"]
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=spec["lr"],
            momentum=spec["momentum"],
            nesterov=spec["nesterov"] and spec["momentum"] > 0,
            weight_decay=spec["weight_decay"],
        )
    if name == "adam":
        return torch.optim.Adam(
            params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"]
        )
    if name == "adamw":
        return torch.optim.AdamW(
            params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"]
        )
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


def lr_factor(step: int, spec: dict, epochs: int, steps_per_epoch: int) -> float:
    """The learning-rate multiplier at iteration `step`; periods are given in epochs."""
    warmup = spec.get("warmup_epochs", 0) * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    name = spec["name"]
    if name == "constant":
        return 1.0
    if name == "cosine":
        period = (spec.get("t_max") or epochs) * steps_per_epoch
        t = min(step - warmup, period)
        return 0.5 * (1 + math.cos(math.pi * t / max(period - warmup, 1))) if period > warmup else 1.0
    if name == "step":
        return spec.get("gamma", 0.1) ** (
            (step - warmup) // max(1, round(spec["step_size"] * steps_per_epoch))
        )
    raise ValueError(f"unknown schedule {name!r}; choose from {list(SCHEDULES)}")


def make_scheduler(optimizer: torch.optim.Optimizer, spec: dict, epochs: int, steps_per_epoch: int):
    """A per-iteration LambdaLR; the cosine period is in epochs as in the seed reports (T_max)."""
    lr_factor(0, spec, epochs, steps_per_epoch)  # unknown names fail here, before training
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, spec, epochs, steps_per_epoch)
    )


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


@dataclass
class EpochOptions:
    batch_size: int
    augment: str | dict
    mean: list[float]
    std: list[float]
    loss: dict = field(default_factory=lambda: {"name": "ce"})
    center: CenterLoss | None = None
    grad_flow: bool = False
    # x -> (embeddings, logits); None: model.features then model.fc, eagerly (see features_and_logits).
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None


def features_and_logits(model: nn.Module) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The training forward pass as one function of x, the unit that torch.compile compiles."""

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = model.features(x)
        return embeddings, model.fc(embeddings)

    return forward


def train_one_epoch(
    model: nn.Module,
    data: TensorSet,
    optimizer: torch.optim.Optimizer,
    scheduler,
    options: EpochOptions,
    generator: torch.Generator,
) -> tuple[dict[str, float], dict[str, float]]:
    """One pass over `data` in a random order. Returns (scores, mean |grad| per layer or {})."""
    set_train_mode(model)
    device = data.images.device
    order = torch.randperm(len(data), device=device, generator=generator)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    watched = (
        [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
        if options.grad_flow
        else []
    )
    grad_sums = torch.zeros(len(watched), device=device)
    forward = options.forward or features_and_logits(model)
    steps = 0
    for start in range(0, len(data), options.batch_size):
        batch = order[start : start + options.batch_size]
        # Augment on [0, 1] floats (colour operations need them), then standardise.
        x = augment_batch(data.images[batch].float() / 255, options.augment, generator)
        x = standardize(x, options.mean, options.std)
        y = data.labels[batch]
        with autocast(device):
            embeddings, logits = forward(model_input(x))
            loss, _ = combined_loss(logits.float(), embeddings.float(), y, options.loss, options.center)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if watched:
            grad_sums += torch.stack([p.grad.abs().mean() for _, p in watched])
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach() * len(batch)
        correct += (logits.argmax(1) == y).sum()
        steps += 1
    # The epoch's one wait on the device: both sums in one transfer (float64 holds them exactly).
    loss_sum, correct_sum = torch.stack([total_loss.double(), correct.double()]).tolist()
    loss_value = loss_sum / len(data)
    if not math.isfinite(loss_value):
        raise FloatingPointError(
            f"training loss became {loss_value}; lower the learning rate or check the data"
        )
    grad_flow = {name: value / steps for (name, _), value in zip(watched, grad_sums.tolist(), strict=True)}
    return {"train_loss": loss_value, "train_acc": int(correct_sum) / len(data)}, grad_flow


@torch.no_grad()
def predict(
    model: nn.Module,
    data: TensorSet,
    batch_size: int,
    mean: list[float],
    std: list[float],
    size: int | None = None,
) -> torch.Tensor:
    """Logits (float32, on the data's device) for every image, in large eval-mode batches;
    images are first resized to `size` when the model was trained at another size."""
    model.eval()
    device = data.images.device
    outputs = []
    for start in range(0, len(data), batch_size):
        x = normalize(data.images[start : start + batch_size], mean, std, size)
        with autocast(device):
            outputs.append(model(model_input(x)).float())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module,
    data: TensorSet,
    batch_size: int,
    mean: list[float],
    std: list[float],
    size: int | None = None,
) -> dict[str, float]:
    logits = predict(model, data, batch_size, mean, std, size)
    loss = F.cross_entropy(logits, data.labels)
    acc = (logits.argmax(1) == data.labels).float().mean()
    loss_value, acc_value = torch.stack([loss, acc]).tolist()  # one transfer from the device
    return {"loss": loss_value, "acc": acc_value}


@dataclass
class FitResult:
    history: list[dict]
    grad_flow: list[dict]
    best_epoch: int | None
    stopped_early: bool


def _improved(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return True
    return value < best if metric.endswith("loss") else value > best


def fit(
    model: nn.Module,
    train: TensorSet,
    val: TensorSet | None,
    hp: dict,
    mean: list[float],
    std: list[float],
    resume_path=None,
    run_hash: str = "",
    log: Callable[[str], None] = print,
) -> FitResult:
    """Train as the run's hyperparameters `hp` say; resumable from `resume_path` after any epoch.

    `hp` holds the run's validated keys: epochs, batch_size, eval_batch_size, optimizer,
    schedule, augment, loss, early_stopping, grad_flow, seed.
    """
    device = train.images.device
    prepare_device(device)
    epochs = hp["epochs"]
    generator = torch.Generator(device=device)
    generator.manual_seed(hp["seed"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, hp["optimizer"])
    steps_per_epoch = math.ceil(len(train) / hp["batch_size"])
    scheduler = make_scheduler(optimizer, hp["schedule"], epochs, steps_per_epoch)
    loss_spec = hp.get("loss", {"name": "ce"})
    center = None
    if loss_spec["name"] == "ce_center":
        center = CenterLoss(len(train.classes), model.num_features, alpha=loss_spec["alpha"]).to(device)
    # Compiled only when CVREPRO_COMPILE asks (see cvrepro.compile); eager is bit-for-bit as before.
    forward = maybe_compile(features_and_logits(model), compile_setting())
    options = EpochOptions(
        hp["batch_size"], hp["augment"], mean, std, loss_spec, center, hp.get("grad_flow", False), forward
    )
    stopping = hp.get("early_stopping") or {}
    metric, patience = stopping.get("metric", "val_acc"), stopping.get("patience")
    if patience is not None and val is None and metric.startswith("val"):
        raise ValueError("early_stopping on a validation metric needs a `val` subset")

    history, grad_flow, best, best_epoch, best_weights = [], [], None, None, None
    first_epoch = 1
    state = load_state(resume_path, run_hash)
    if state is not None:
        first_epoch = restore_training(state, model, optimizer, scheduler, generator)
        if center is not None:
            center.load_state_dict(state["center"])
        history, grad_flow = state["history"], state["grad_flow"]
        best, best_epoch, best_weights = state["best"], state["best_epoch"], state["best_weights"]

    stopped_early = False
    for epoch in range(first_epoch, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        scores, grads = train_one_epoch(model, train, optimizer, scheduler, options, generator)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        row = {
            "epoch": epoch,
            "lr": lr,
            **scores,
            "epoch_seconds": seconds,
            "images_per_s": len(train) / seconds,
        }
        if val is not None:
            val_scores = evaluate(model, val, hp["eval_batch_size"], mean, std, eval_resize(hp["augment"]))
            row.update({"val_loss": val_scores["loss"], "val_acc": val_scores["acc"]})
        history.append(row)
        if grads:
            grad_flow += [
                {"epoch": epoch, "layer": name, "mean_abs_grad": value} for name, value in grads.items()
            ]
        log(
            f"epoch {epoch}/{epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}"
            + (f"  val_acc {row['val_acc']:.4f}" if val is not None else "")
            + f"  lr {lr:.3g}  {seconds:.1f}s  {row['images_per_s']:.0f} img/s"
        )
        if patience is not None:
            if _improved(row[metric], best, metric):
                best, best_epoch = row[metric], epoch
                best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= patience:
                log(
                    f"early stop: {metric} has not improved for {patience} epochs (best {best:.4f} at epoch {best_epoch})"
                )
                stopped_early = True
        if resume_path is not None:
            extra = {
                "center": center.state_dict() if center is not None else None,
                "history": history,
                "grad_flow": grad_flow,
                "best": best,
                "best_epoch": best_epoch,
                "best_weights": best_weights,
            }
            save_state(
                resume_path, training_state(run_hash, epoch, model, optimizer, scheduler, generator, **extra)
            )
        if stopped_early:
            break
    if best_weights is not None and stopping.get("restore_best", True):
        model.load_state_dict(best_weights)
        log(f"restored the weights of epoch {best_epoch} ({metric} {best:.4f})")
    return FitResult(history, grad_flow, best_epoch, stopped_early)
