"""activations: one run's feature maps at named layers for chosen images of a subset (channel
means, or the first `channels` filters as grids), or those of torchvision's ImageNet-trained
network (`imagenet`), as S2's report drew them from an ImageNet ResNet-50."""

from cvrepro.report.figures.kind import FigureKind, jobs, load_images, subset
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import REHEARSAL, Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    """Replicate 0's model (the first job of the one row) and the subset; the subset alone for
    an ImageNet network (its weights come from torchvision's cache, as for `init: imagenet`)."""
    if figure["imagenet"]:
        return subset(study, figure)
    job = jobs(study, figure)[0]
    return {"model": {job: [paths.job_file(study, job, "model.pt")]}, **subset(study, figure)}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.data.tensors import eval_batch
    from cvrepro.evaluate.activations import activation_maps, first_of_each_class, imagenet_network
    from cvrepro.nets.checkpoint import load_model
    from cvrepro.nets.pretrained import IMAGENET_MEAN, IMAGENET_STD
    from cvrepro.report import plot_images

    data = load_images(spec, inputs)
    labels = data.labels.numpy()
    if spec["classes"]:
        picks = first_of_each_class(labels, data.classes, spec["classes"])
    else:
        picks = list(range(min(spec["count"], len(labels))))
    if spec["imagenet"]:
        # A rehearsal's random stand-ins live where its training jobs write them (rule train's
        # random_weights): the same file, so a rehearsal never downloads.
        random_dir = paths.rooted(paths.RANDOM_WEIGHTS, REHEARSAL) if spec.get("rehearsal") else None
        imagenet = spec["imagenet"]
        model = imagenet_network(imagenet["arch"], imagenet["weights"], random_dir)
        channels = data.images.shape[1]
        x = eval_batch(data.images[picks], IMAGENET_MEAN[:channels], IMAGENET_STD[:channels])
    else:
        model, checkpoint = load_model(only_file(inputs["model"]))
        norm = checkpoint["normalization"]
        x = eval_batch(data.images[picks], norm["mean"], norm["std"], norm["size"])
    maps = activation_maps(model, x, spec["layers"], spec["channels"])
    names = [data.classes[labels[i]] for i in picks]
    plot_images.activation_grid(
        data.images[picks].permute(0, 2, 3, 1).numpy(), maps, names, out_png, spec["caption"]
    )


KIND = FigureKind(
    ("subset", "layers"), inputs, draw, max_runs=1, layer_names=True, one_of=("runs", "imagenet")
)
