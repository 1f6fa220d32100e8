"""simclr (Chen et al. 2020): a contrastive loss between the projections of two augmented views
of each image (labels unused), selected by `loss` from cvrepro.train.contrastive (NT-Xent, its
decoupled form, or S6's cross-view loss), scored by its accuracy on the same similarities; a
projection head on the encoder; and a linear probe on `probe_data`, refitted after every epoch or
trained online alongside (cvrepro.train.online_probe)."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.nets.heads import ProjectionHead

    projection = recipe["projection"]
    return ProjectionHead(features, projection["hidden"], projection["dim"], projection["batchnorm"])


def build(model, recipe: dict, mean, std, probe, *, probe_val=None, steps: int | None = None):
    """The Method; with `probe: online`, the probe trains one step per contrastive step of the
    `steps` per epoch and is scored on `probe_val` after every epoch."""
    from cvrepro.train.engine import Method
    from cvrepro.train.online_probe import online_probe, probe_scores

    online = None
    if recipe["probe"] == "online":
        if probe is None or steps is None:
            raise ValueError("probe: online needs the labelled probe_data and the steps per epoch")
        online = online_probe(model.encoder, probe, probe_val, steps, recipe, mean, std)

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        scores = {"train_loss": sums["loss"] / steps, "contrastive_acc": sums["acc"] / steps}
        return {**scores, **probe_scores(sums)} if online is not None else scores

    def validate_online(generator) -> dict[str, float]:
        return online.validate()

    step = contrastive_step(model, recipe, mean, std, online)
    if online is None:
        return Method(step, summarize, refit_probe(model, recipe, mean, std, probe), views=VIEWS)
    return Method(step, summarize, validate_online, online.head, views=VIEWS)


def contrastive_step(model, recipe: dict, mean, std, online):
    """step(images, labels, generator) -> (loss, sums) of two views of each image (and of the
    online probe's labelled batch, when `contrast_labelled` says so)."""
    import torch

    from cvrepro.data.tensors import augmented
    from cvrepro.nets.device import autocast, compile_setting, maybe_compile, model_input
    from cvrepro.train.contrastive import CONTRASTIVE
    from cvrepro.train.pretraining import projected

    forward = maybe_compile(projected(model), compile_setting())
    augment, temperature = recipe["augment"], recipe["temperature"]
    loss_fn, accuracy_fn = CONTRASTIVE[recipe["loss"]]

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

    return step


def refit_probe(model, recipe: dict, mean, std, probe):
    """after_epoch of `probe: refit`: a logistic regression on the encoder's frozen features of
    `probe` (none without a probe set)."""

    def probe_accuracy(generator) -> dict[str, float]:
        if probe is None:
            return {}
        from cvrepro.evaluate.probes import linear_probe_accuracy  # scikit-learn, only where there is a probe
        from cvrepro.nets.inference import extract_features

        features = extract_features(model.encoder, probe, mean, std, None, "penultimate")
        return {"probe_acc": linear_probe_accuracy(features, probe.labels.cpu().numpy(), recipe["seed"])}

    return probe_accuracy


KIND = MethodKind(
    keys=(
        "loss",
        "temperature",
        "projection",
        "probe_data",
        "probe",
        "probe_lr",
        "probe_augment",
        "probe_val",
        "contrast_labelled",
    ),
    views=VIEWS,
    build=build,
    head=head,
)
