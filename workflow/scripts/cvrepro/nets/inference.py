"""Eval-mode passes over a whole set in large batches: logits, accuracy and loss, features."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.data.tensors import TensorSet, augmented, eval_batch
from cvrepro.nets.device import autocast, model_input, prepare_device
from cvrepro.nets.torchvision_nets import study_modules


@torch.no_grad()
def predict(
    model: nn.Module, data: TensorSet, batch_size: int, mean: list[float], std: list[float], size: int | None
) -> torch.Tensor:
    """Logits (float32, on the data's device) for every image; images are first resized to
    `size` when the model was trained at another size (None: as they are)."""
    model.eval()
    device = data.images.device
    outputs = []
    for start in range(0, len(data), batch_size):
        x = eval_batch(data.images[start : start + batch_size], mean, std, size)
        with autocast(device):
            outputs.append(model(model_input(x, model)).float())
    return torch.cat(outputs)


@torch.no_grad()
def predict_augmented(
    model: nn.Module,
    data: TensorSet,
    batch_size: int,
    mean: list[float],
    std: list[float],
    augment: str | dict,
    generator: torch.Generator,
) -> torch.Tensor:
    """Logits of every image seen through the training augmentation `augment` (a seeded random
    draw per image): validation as a script scores a validation set split from an augmented one."""
    model.eval()
    outputs = []
    for start in range(0, len(data), batch_size):
        x = augmented(data.images[start : start + batch_size], augment, mean, std, generator)
        with autocast(data.images.device):
            outputs.append(model(model_input(x, model)).float())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module,
    data: TensorSet,
    batch_size: int,
    mean: list[float],
    std: list[float],
    size: int | None,
    augmented: tuple[str | dict, torch.Generator] | None = None,
) -> dict[str, float]:
    """Loss and accuracy of `data` in eval mode; through (augmentation, generator) when given."""
    if augmented is None:
        logits = predict(model, data, batch_size, mean, std, size)
    else:
        logits = predict_augmented(model, data, batch_size, mean, std, *augmented)
    loss = F.cross_entropy(logits, data.labels)
    acc = (logits.argmax(1) == data.labels).float().mean()
    loss_value, acc_value = torch.stack([loss, acc]).tolist()  # one transfer from the device
    return {"loss": loss_value, "acc": acc_value}


def layer_output(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of `layer` for input x (penultimate: model.features), average-pooled if spatial."""
    if layer == "penultimate":
        return model.features(x)
    modules = study_modules(model)  # torchvision's names for its models
    if layer not in modules or layer == "":
        raise ValueError(
            f"no layer {layer!r}; choose penultimate or one of {[n for n, _ in model.named_children()]}"
        )
    captured = []
    handle = modules[layer].register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        model(x)
    finally:
        handle.remove()
    out = captured[0]
    return out.mean(dim=(2, 3)) if out.ndim == 4 else out.flatten(1)


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    data: TensorSet,
    mean: list[float],
    std: list[float],
    size: int | None,
    layer: str,
    chunk: int = 512,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Features (float32, N x D) of every image at `layer`, in eval mode. `preprocess`: uint8
    batch -> the model's input, instead of eval_batch's (an ImageNet weights' transforms())."""
    encoder.eval()
    device = data.images.device
    prepare_device(device)
    out = []
    for start in range(0, len(data), chunk):
        images = data.images[start : start + chunk]
        x = eval_batch(images, mean, std, size) if preprocess is None else preprocess(images)
        with autocast(device):
            out.append(layer_output(encoder, model_input(x, encoder), layer).float())
    # Kept on the device until the end: a copy to the host per batch would wait for each batch.
    return torch.cat(out).cpu().numpy()
