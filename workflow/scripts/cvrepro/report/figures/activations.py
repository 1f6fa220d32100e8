"""activations: one run's feature maps at named layers for chosen images of a subset (channel
means, or the first `channels` filters as grids)."""

from cvrepro.report.figures.kind import FigureKind, jobs, load_images, subset
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    """Replicate 0's model (the first job of the one row) and the subset."""
    job = jobs(study, figure)[0]
    return {"model": {job: [paths.job_file(study, job, "model.pt")]}, **subset(study, figure)}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.data.tensors import eval_batch
    from cvrepro.evaluate.activations import activation_maps, first_of_each_class
    from cvrepro.nets.checkpoint import load_model
    from cvrepro.report import plot_images

    model, checkpoint = load_model(only_file(inputs["model"]))
    data = load_images(spec, inputs)
    labels = data.labels.numpy()
    if spec["classes"]:
        picks = first_of_each_class(labels, data.classes, spec["classes"])
    else:
        picks = list(range(min(spec["count"], len(labels))))
    norm = checkpoint["normalization"]
    x = eval_batch(data.images[picks], norm["mean"], norm["std"], norm["size"])
    maps = activation_maps(model, x, spec["layers"], spec["channels"])
    names = [data.classes[labels[i]] for i in picks]
    plot_images.activation_grid(
        data.images[picks].permute(0, 2, 3, 1).numpy(), maps, names, out_png, spec["caption"]
    )


KIND = FigureKind(("runs", "subset", "layers"), inputs, draw, max_runs=1, layer_names=True)
