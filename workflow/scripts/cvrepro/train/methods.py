"""The training methods the one loop (cvrepro.train.engine.fit) runs: each is the loss of one batch and
the numbers its epochs report. Supervised (cross-entropy, + triplet, + center loss), SimCLR and
triplet pretraining, in the style of solo-learn's per-method pieces."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cvrepro.data.augment_presets import eval_resize
from cvrepro.data.tensors import TensorSet, augmented
from cvrepro.nets.compile import compile_setting, maybe_compile
from cvrepro.nets.device import model_input
from cvrepro.nets.inference import evaluate, extract_features
from cvrepro.nets.precision import autocast
from cvrepro.train.engine import Method
from cvrepro.train.losses import CONTRASTIVE, SUPERVISED, combined_loss, triplet_margin_loss
from cvrepro.train.online_probe import online_probe, probe_scores


class PretrainNet(nn.Module):
    """The encoder being pretrained plus what only pretraining needs (SimCLR's projection head),
    saved and resumed together; the encoder alone is kept afterwards."""

    def __init__(self, encoder: nn.Module, projector: nn.Module | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projector if projector is not None else nn.Identity()


def val_augmentation(recipe: dict, generator: torch.Generator) -> tuple[str | dict, torch.Generator] | None:
    """With `val_augment`, the training augmentation and a generator for this validation's draw
    (seeded from the training generator: a fresh draw every epoch, the same after a resume)."""
    if not recipe["val_augment"]:
        return None
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return recipe["augment"], torch.Generator(device=generator.device).manual_seed(seed)


def features_and_logits(model: nn.Module) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The supervised forward pass as one function of x, the unit that torch.compile compiles."""

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = model.features(x)
        return embeddings, model.fc(embeddings)

    return forward


def supervised(
    model: nn.Module,
    recipe: dict,
    mean: list[float],
    std: list[float],
    num_classes: int,
    val: TensorSet | None,
) -> Method:
    """Cross-entropy, plus a triplet or center-loss term on the penultimate features as
    `recipe["loss"]` says; validation after every epoch when `val` is given."""
    spec, augment = recipe["loss"], recipe["augment"]
    make_state = SUPERVISED[spec["name"]].state
    state = None if make_state is None else make_state(spec, num_classes, model.num_features)
    if state is not None:
        state = state.to(next(model.parameters()).device)
    # Compiled only when CVREPRO_COMPILE asks (see cvrepro.nets.compile); eager is bit-for-bit as before.
    forward = maybe_compile(features_and_logits(model), compile_setting())

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            embeddings, logits = forward(model_input(x, model))
            loss, _ = combined_loss(logits.float(), embeddings.float(), labels, spec, state)
        return loss, {"loss": loss.detach() * len(labels), "correct": (logits.argmax(1) == labels).sum()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / images, "train_acc": sums["correct"] / images}

    def validate(generator: torch.Generator) -> dict[str, float]:
        if val is None:
            return {}
        scores = evaluate(
            model,
            val,
            recipe["eval_batch_size"],
            mean,
            std,
            eval_resize(augment),
            val_augmentation(recipe, generator),
        )
        return {"val_loss": scores["loss"], "val_acc": scores["acc"]}

    return Method(step, summarize, validate, state)


def projected(model: PretrainNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """SimCLR's x -> z = g(f(x)) as a plain function: the unit torch.compile compiles."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model.projector(model.encoder.features(x))

    return forward


def simclr(
    model: PretrainNet,
    recipe: dict,
    mean: list[float],
    std: list[float],
    probe: TensorSet | None,
    *,
    probe_val: TensorSet | None = None,
    steps: int | None = None,
) -> Method:
    """The contrastive loss `recipe["loss"]` (NT-Xent or S6's cross-view loss) between two
    augmented views of each image (labels unused), its accuracy on the same similarities, and
    the linear probe on `probe` as `recipe["probe"]` says: refit after every epoch, or online
    (trained alongside, one step per contrastive step of the `steps` per epoch; scored on
    `probe_val` after every epoch)."""
    forward = maybe_compile(projected(model), compile_setting())
    augment, temperature = recipe["augment"], recipe["temperature"]
    loss_fn, accuracy_fn = CONTRASTIVE[recipe["loss"]]
    online = None
    if recipe["probe"] == "online":
        if probe is None or steps is None:
            raise ValueError("probe: online needs the labelled probe_data and the steps per epoch")
        online = online_probe(model.encoder, probe, probe_val, steps, recipe, mean, std)

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        labelled = None
        if online is not None and recipe["contrast_labelled"]:
            # The Keras example's train_step: the labelled batch joins the contrastive batch too.
            labelled = online.batch(generator)
            images = torch.cat([images, labelled[0]])
        v1 = augmented(images, augment, mean, std, generator)
        v2 = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            z = forward(model_input(torch.cat([v1, v2]), model)).float()
        z1, z2 = z.chunk(2)
        loss = loss_fn(z1, z2, temperature)
        sums = {"loss": loss.detach(), "acc": accuracy_fn(z1.detach(), z2.detach())}
        if online is not None:
            sums.update(online.train(*(labelled or online.batch(generator)), generator))
        return loss, sums

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        scores = {"train_loss": sums["loss"] / steps, "contrastive_acc": sums["acc"] / steps}
        return {**scores, **probe_scores(sums)} if online is not None else scores

    def probe_accuracy(generator: torch.Generator) -> dict[str, float]:
        if online is not None:
            return online.validate()
        if probe is None:
            return {}
        from cvrepro.evaluate.probes import linear_probe_accuracy  # scikit-learn, only where there is a probe

        features = extract_features(model.encoder, probe, mean, std, None, "penultimate")
        return {"probe_acc": linear_probe_accuracy(features, probe.labels.cpu().numpy(), recipe["seed"])}

    return Method(step, summarize, probe_accuracy, online.head if online is not None else None, views=2)


def triplet(model: PretrainNet, recipe: dict, mean: list[float], std: list[float]) -> Method:
    """The triplet margin loss on the encoder's embedding, triplets mined inside each batch."""
    forward = maybe_compile(model.encoder.features, compile_setting())
    augment, spec = recipe["augment"], recipe["triplet"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            embeddings = forward(model_input(x, model)).float()
        loss = triplet_margin_loss(
            embeddings, labels, spec["margin"], spec["distance"], spec["mining"], generator
        )
        return loss, {"loss": loss.detach()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize)


def pretraining_method(
    model: PretrainNet, recipe: dict, mean: list[float], std: list[float], probe: TensorSet | None, **online
) -> Method:
    """The Method of `recipe["method"]`; `probe` and `online` (simclr's probe_val and steps) go
    to simclr, whose signature says what they are."""
    if recipe["method"] == "simclr":
        return simclr(model, recipe, mean, std, probe, **online)
    if recipe["method"] == "triplet":
        return triplet(model, recipe, mean, std)
    raise ValueError(f"unknown pretraining method {recipe['method']!r}; choose from ['simclr', 'triplet']")
