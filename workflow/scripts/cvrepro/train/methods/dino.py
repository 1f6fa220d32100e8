"""dino (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"):
self-distillation without labels. A student (encoder + DINO head: 3-layer MLP, l2 norm,
weight-normalised last layer to `out_dim`) and a teacher, the EMA of the student
(cvrepro.train.teacher) with BYOL's cosine momentum schedule from `momentum` (0.996) to 1.
Views: multi-crop (cvrepro.train.multicrop), 2 global crops that both networks see and
`local_crops_number` smaller local crops that only the student sees. The teacher's outputs are
centred (minus a centre c, the EMA of the teacher's batch means with `center_momentum` 0.9,
updated after each loss) and sharpened by the teacher temperature, warmed up linearly from
`warmup_teacher_temp` 0.04 to `teacher_temp` 0.07 over `warmup_teacher_temp_epochs` (30)
epochs, then constant; the student's by `student_temp` 0.1. Loss (the paper's Algorithm 1,
generalised to multi-crop as its code does): the mean over every pair (teacher global view i,
student view v != i) of the cross-entropy -sum softmax((t_i - c) / tau_t) log softmax(s_v / tau_s),
averaged over the batch. The teacher, the centre and the epoch count are the Method's state, so a
resume keeps them."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 10  # the paper's 2 global + 8 local crops; each recipe's own: 2 + local_crops_number


def head(features: int, recipe: dict):
    from cvrepro.nets.heads import DinoHead

    spec = recipe["dino"]
    projection = spec["projection"]
    return DinoHead(
        features,
        projection["hidden"],
        projection["bottleneck"],
        spec["out_dim"],
        spec["norm_last_layer"],
        spec["use_bn_in_head"],
    )


def teacher_temperatures(spec: dict, epochs: int) -> list[float]:
    """The teacher temperature of each epoch (0-based): DINO's np.linspace(warmup_teacher_temp,
    teacher_temp, warmup epochs) then teacher_temp."""
    warm, start, end = spec["warmup_teacher_temp_epochs"], spec["warmup_teacher_temp"], spec["teacher_temp"]
    ramp = [start + (end - start) * e / (warm - 1) for e in range(warm)] if warm > 1 else [start] * warm
    return [ramp[e] if e < warm else end for e in range(epochs)]


def loss(student: list, teacher: list, center, teacher_temp, student_temp: float):
    """Cross-entropy between each centred, sharpened teacher global view and every student view
    of another index, averaged over the pairs; the teacher carries no gradient."""
    import torch
    import torch.nn.functional as F

    targets = [F.softmax((t.detach() - center) / teacher_temp, dim=-1) for t in teacher]
    logs = [F.log_softmax(s / student_temp, dim=-1) for s in student]
    terms = [
        torch.sum(-q * log_p, dim=-1).mean()
        for i, q in enumerate(targets)
        for v, log_p in enumerate(logs)
        if v != i
    ]
    return sum(terms) / len(terms)


def make_state(student, out_dim: int, temperatures: list[float]):
    """The Method's state: the EMA teacher, the centre (1 x out_dim) and the epochs done (which
    pick the teacher temperature, read on the device: no host sync in the step)."""
    import torch
    from torch import nn

    from cvrepro.train.teacher import EmaTeacher

    class DinoState(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.teacher = EmaTeacher(student)
            self.register_buffer("center", torch.zeros(1, out_dim))
            self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))
            # per epoch, a buffer so the step reads it on the device (no host sync)
            self.register_buffer("temperatures", torch.tensor(temperatures), persistent=False)

        @torch.no_grad()
        def update_center(self, teacher_out: torch.Tensor, momentum: float) -> None:
            """c = m c + (1 - m) mean of the teacher's outputs over the batch (DINO's update_center)."""
            self.center.mul_(momentum).add_(teacher_out.mean(dim=0, keepdim=True), alpha=1 - momentum)

    return DinoState()


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch
    from torch import nn

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.multicrop import multi_crop
    from cvrepro.train.teacher import cosine_momentum

    spec = recipe["dino"]
    student = nn.ModuleList([model.encoder, model.projector])
    state = make_state(student, spec["out_dim"], teacher_temperatures(spec, recipe["epochs"]))
    views = 2 + spec["local_crops_number"]

    def forward(net, crops: list[torch.Tensor]) -> list[torch.Tensor]:
        """The encoder on each size's crops in one pass, the head once on all of them (DINO's
        MultiCropWrapper: with use_bn_in_head its BatchNorm sees every crop of the batch)."""
        encoder, projector = net
        groups = [crops[:2], crops[2:]] if len(crops) > 2 else [crops]
        features = torch.cat([encoder.features(model_input(torch.cat(group), model)) for group in groups])
        return list(projector(features).float().chunk(len(crops)))

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        crops = multi_crop(images, recipe["augment"], mean, std, generator, spec)
        temperature = state.temperatures[torch.clamp(state.epochs_done, max=len(state.temperatures) - 1)]
        with autocast(images.device):
            s = forward(student, crops)
            with torch.no_grad():
                t = forward(state.teacher.net, crops[:2])
        value = loss(s, t, state.center, temperature, spec["student_temp"])
        state.update_center(torch.cat(t), spec["center_momentum"])
        return value, {"loss": value.detach(), "teacher_temp": temperature}

    def after_step(k: int, total: int) -> None:
        state.teacher.update(student, cosine_momentum(k, total, spec["momentum"]))

    def after_epoch(generator: torch.Generator) -> dict[str, float]:
        state.epochs_done.add_(1)  # the next epoch's teacher temperature
        return {}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps, "teacher_temp": sums["teacher_temp"] / steps}

    return Method(step, summarize, after_epoch, state=state, views=views, after_step=after_step)


def pixel_views(recipe: dict) -> float:
    from cvrepro.train.multicrop import pixel_views as crops

    return crops(recipe["dino"])


KIND = MethodKind(keys=("dino",), views=VIEWS, build=build, head=head, pixel_views=pixel_views)
