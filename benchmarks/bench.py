"""`make bench`: cvrepro's speed on this machine, in one run, as one table.

Rows: training images/s of cvrepro's engine vs a seed-report-style loop (same model, data, batch
size and augmentation), feature extraction and SimCLR pretraining images/s, probe fit seconds,
the DAG build time of the default config and of every study, and optionally the default study's
wall time and a full Fashion-MNIST accuracy run. Data: real Fashion-MNIST when it is on disk,
synthetic CIFAR-10-shaped (32x32x3) and STL-10-shaped (96x96x3) sets. Sizes follow the device:
small on a CPU (a few minutes on 2 cores), full size on CUDA (50,000 images).

    .venv/bin/python benchmarks/bench.py                        # what `make bench` runs
    .venv/bin/python benchmarks/bench.py --with-default-study   # + the default study (~6 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --fmnist-accuracy on   # + 60k-image training (default: CUDA only)
    .venv/bin/python benchmarks/bench.py --quick                # tiny sizes: checks that it all runs

Writes benchmarks/results/<machine>.md and .csv (the machine named by its GPU or CPU model).
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

import bench_workflow  # noqa: E402
from bench_accuracy import fmnist_accuracy  # noqa: E402
from bench_data import BenchSet, cifar10_shaped, fashion_mnist, stl10_shaped  # noqa: E402
from bench_hardware import describe, load, slug  # noqa: E402
from bench_probes import clustered_features, probe_fit  # noqa: E402
from bench_report import Row, markdown, write  # noqa: E402
from bench_ssl import extraction_throughput, simclr_throughput  # noqa: E402
from train_throughput import engine_throughput, seed_style_throughput  # noqa: E402

from cvrepro.nets.device import (  # noqa: E402
    compile_setting,  # noqa: E402
    precision_name,
    resolve_device,  # noqa: E402
    set_precision,
    uses_bf16,
)

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    """How big each measurement is; (Fashion-MNIST, CIFAR-10-shaped, STL-10-shaped) image counts."""

    name: str
    width: int  # ResNet-18 width (64 = torchvision's)
    batch_size: int
    epochs: int  # timed epochs, after one warm-up epoch
    train: tuple[int, int, int]
    extract: tuple[int, int, int]
    extract_batch: int
    simclr: tuple[int, int, int]
    simclr_batch: int
    probe_train: int  # images whose features the probes are fitted on
    probe_dim: int
    pixel_probe_train: int


PLANS = {
    # 2-core CPU: the whole bench (without the default study) in about 3 minutes.
    "cpu": Plan(
        "cpu", 16, 128, 2, (2048, 2048, 256), (4096, 4096, 512), 512, (1024, 1024, 128), 256, 2000, 512, 1000
    ),
    # One GPU: full-size sets (STL-10-shaped: 10,000 images at 96x96 keep the seed-style loop's run short).
    "cuda": Plan(
        "cuda",
        64,
        256,
        2,
        (60_000, 50_000, 10_000),
        (60_000, 50_000, 10_000),
        1024,
        (60_000, 50_000, 10_000),
        512,
        10_000,
        512,
        1000,
    ),
    # Tests: seconds.
    # Tests: seconds. Width 16, not less: torch 2.14's oneDNN convolutions crash (heap corruption) on
    # channels_last inputs with fewer than 16 channels at 64x64 and larger on the build machine's CPU.
    "quick": Plan("quick", 16, 32, 1, (64, 64, 16), (64, 64, 16), 32, (64, 64, 16), 32, 200, 32, 200),
}


def image_sets(counts: tuple[int, int, int]) -> list[BenchSet]:
    fmnist, cifar, stl = counts
    return [fashion_mnist(fmnist), cifar10_shaped(cifar), stl10_shaped(stl)]


def training_rows(plan: Plan, device: torch.device, workers: int, compiled) -> list[Row]:
    """Seed-style loop, our engine in float32, in bf16 where the device has it natively, and (when
    `compiled`) compiled in the default precision, on each image set."""
    bf16 = uses_bf16(device)  # under the default policy, as the workflow's jobs decide
    rows = []
    setting = (
        f"ResNet-18 (CIFAR stem, width {plan.width}), batch {plan.batch_size}, crop+flip, "
        f"{plan.epochs} timed epochs"
    )
    seed_method = f"seed-style loop (PIL transforms, DataLoader, {workers} workers)"
    for bench_set in image_sets(plan.train):
        args = (bench_set.images, bench_set.labels, plan.width, plan.batch_size)
        seed = seed_style_throughput(*args, workers, device, plan.epochs)
        new = [Row("training", bench_set.describe(), setting, seed_method, seed, "images/s")]
        # float32 first: the seed-style loop's precision, so the first ratio is the data path alone.
        for precision in ("fp32", "bf16") if bf16 else ("fp32",):
            ours, _ = engine_throughput(*args, device, plan.epochs, precision=precision)
            method = f"cvrepro engine, {precision_name(device)}"  # the policy engine_throughput set
            new.append(Row("training", bench_set.describe(), setting, method, ours, "images/s"))
            new[-1].note = f"{ours / seed:.2f}x the seed-style loop"
        if compiled is not None:
            torch._dynamo.reset()  # each model and shape compiles afresh; stays under dynamo's cache limit
            fast, warm_up = engine_throughput(*args, device, plan.epochs, compiled)
            backend, mode = compile_setting(compiled)
            method = f"cvrepro engine, {precision_name(device)}, + torch.compile ({backend}, mode {mode or 'default'})"
            new.append(Row("training", bench_set.describe(), setting, method, fast, "images/s"))
            new[
                -1
            ].note = f"{fast / seed:.2f}x the seed-style loop; warm-up epoch incl. compiling {warm_up:.1f} s"
        for row in new:
            print(f"  {row.data}, {row.method}: {row.formatted()} {row.unit}", flush=True)
        rows += new
    set_precision("auto")  # what the rest of the bench (and the workflow) runs in
    return rows


def ssl_rows(plan: Plan, device: torch.device) -> list[Row]:
    rows = []
    for bench_set in image_sets(plan.extract):
        value = extraction_throughput(bench_set, plan.width, plan.extract_batch, device)
        setting = f"ResNet-18 width {plan.width}, penultimate layer, batch {plan.extract_batch}"
        rows.append(
            Row(
                "feature extraction",
                bench_set.describe(),
                setting,
                "cvrepro.nets.inference.extract_features",
                value,
                "images/s",
            )
        )
    for bench_set in image_sets(plan.simclr):
        value = simclr_throughput(bench_set, plan.width, plan.simclr_batch, device, plan.epochs)
        setting = f"ResNet-18 width {plan.width} + projection head, batch {plan.simclr_batch}, 2 views, {plan.epochs} timed epochs"
        rows.append(
            Row(
                "SimCLR pretraining",
                bench_set.describe(),
                setting,
                "cvrepro.train.engine.fit (SimCLR)",
                value,
                "images/s",
            )
        )
    for row in rows:
        print(f"  {row.benchmark}, {row.data}: {row.formatted()} {row.unit}", flush=True)
    return rows


def probe_rows(plan: Plan) -> list[Row]:
    rows = []
    train = clustered_features(plan.probe_train, plan.probe_dim, seed=0)
    test = clustered_features(plan.probe_train // 2, plan.probe_dim, seed=0)  # same centres (seed), new draws
    test = (test[0][: plan.probe_train // 2], test[1][: plan.probe_train // 2])
    data = f"synthetic features (10 Gaussian classes), {plan.probe_train:,} x {plan.probe_dim}"
    for kind, method in (("svm", "LinearSVC one-vs-rest"), ("softmax", "LogisticRegression (softmax)")):
        seconds, acc = probe_fit(kind, train, test)
        rows.append(
            Row(
                "probe fit",
                data,
                f"cvrepro.evaluate.probes, kind {kind}, defaults",
                method,
                seconds,
                "s",
                f"accuracy {acc:.1%}",
            )
        )
    fmnist = fashion_mnist(plan.pixel_probe_train, seed=1)
    pixels = fmnist.images.reshape(len(fmnist.labels), -1).astype("float32") / 255
    cut = len(pixels) * 4 // 5
    seconds, acc = probe_fit(
        "softmax", (pixels[:cut], fmnist.labels[:cut]), (pixels[cut:], fmnist.labels[cut:])
    )
    rows.append(
        Row(
            "probe fit",
            f"{fmnist.describe()} raw pixels (fit on {cut:,})",
            "cvrepro.evaluate.probes, kind softmax, defaults",
            "LogisticRegression (softmax)",
            seconds,
            "s",
            f"accuracy {acc:.1%} on the other {len(pixels) - cut:,}",
        )
    )
    for row in rows:
        print(f"  {row.method}, {row.data}: {row.formatted()} s", flush=True)
    return rows


def gpu_count() -> int:
    """GPUs `nvidia-smi -L` lists, as the Makefile counts them (0 without the tool)."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())


def dag_rows() -> list[Row]:
    """`snakemake -n` of the default config and of all studies. main() measures these first: right
    after minutes of full load the 2-core build machine ran a dry run ~30% slower (1.62 s vs 1.26 s
    before a 90 s matmul loop, 1.22 s after 30 s idle, measured 2026-11-29)."""
    rows = []
    # Snakemake imports every installed executor plugin on each call; the Slurm one adds ~0.3 s.
    plugins = bench_workflow.slurm_plugin_note()
    for studies, what in ((None, "default config (config.yaml)"), ("all", "--config studies=all")):
        seconds, jobs = bench_workflow.dag_build(studies)
        rows.append(
            Row(
                "DAG build",
                what,
                f"{jobs} jobs planned",
                f"snakemake -n, best of 5 in a fresh working directory; {plugins}",
                seconds,
                "s",
            )
        )
        print(f"  DAG build, {what}: {seconds:.2f} s, {jobs} jobs ({plugins})", flush=True)
    return rows


def default_study_rows() -> list[Row]:
    """The default study from nothing, as `make run` starts it."""
    gpus = max(gpu_count(), 0) or os.cpu_count()  # as `make run`: the core count without a GPU
    seconds, jobs = bench_workflow.default_study(gpus)
    print(f"  default study: {seconds:.0f} s, {jobs} jobs", flush=True)
    return [
        Row(
            "default study",
            "Fashion-MNIST (real), study `embedded`",
            f"{jobs} jobs from nothing",
            f"snakemake --cores all --resources gpu={gpus} (make run)",
            seconds,
            "s",
            f"{seconds / 60:.1f} min",
        )
    ]


def accuracy_rows(plan: Plan, device: torch.device, epochs: int, quick: bool) -> list[Row]:
    sizes = {"train_size": 256, "test_size": 256} if quick else {}
    result = fmnist_accuracy(plan.width, plan.batch_size, epochs, device, **sizes)
    setting = f"ResNet-18 (CIFAR stem, width {plan.width}), batch {plan.batch_size}, {epochs} epochs, SGD cosine, crop+flip"
    target = f"{100 * result['target']:.1f}%"
    if result["target_epoch"] is None:
        reached = f"test accuracy never reached {target}"
    else:
        reached = (
            f"test accuracy first reached {target} after epoch {result['target_epoch']}, "
            f"{result['target_seconds']:.1f} s of training"
        )
    return [
        Row(
            "Fashion-MNIST accuracy",
            result["train"],
            setting,
            "cvrepro.train.engine.fit",
            100 * result["test_acc"],
            "% test accuracy",
            f"test: {result['test']}; {reached}",
        ),
        Row(
            "Fashion-MNIST accuracy",
            result["train"],
            setting,
            "cvrepro.train.engine.fit",
            result["train_seconds"],
            "s",
            f"training time (epochs only; {result['fit_seconds']:.1f} s with the per-epoch test scoring)",
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a check that everything runs")
    parser.add_argument(
        "--workers", type=int, default=min(4, os.cpu_count() or 1), help="seed-style DataLoader workers"
    )
    parser.add_argument(
        "--compile",
        default="auto",
        help="torch.compile rows: auto (CUDA only), off, or a CVREPRO_COMPILE value (1, max-autotune, eager, ...)",
    )
    parser.add_argument("--with-default-study", action="store_true", help="also time `snakemake --cores all`")
    parser.add_argument("--no-dag", action="store_true", help="skip the DAG build timings")
    parser.add_argument(
        "--fmnist-accuracy",
        default="auto",
        choices=["auto", "on", "off"],
        help="train on all of Fashion-MNIST and report test accuracy (auto: on CUDA only)",
    )
    parser.add_argument(
        "--fmnist-epochs", type=int, default=15, help="epochs of the full Fashion-MNIST run (cosine schedule)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--name", help="results file name (default: the GPU or CPU model)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    device = resolve_device(args.device)
    plan = PLANS["quick" if args.quick else device.type]
    # A CVREPRO_COMPILE value for the compiled rows, or None for none.
    if args.compile == "auto":
        compiled = "1" if device.type == "cuda" else None
    else:
        compiled = args.compile if compile_setting(args.compile) is not None else None
    header = [
        f"# cvrepro benchmark ({plan.name} sizes), {datetime.date.today().isoformat()}",
        "",
        *describe(device),
        f"- device used: {device.type}; every rate is measured after one warm-up epoch or batch, in this one run",
        f"- precision: the seed-style loop runs in fp32; cvrepro's training rows say theirs; extraction and "
        f"SimCLR run in the workflow's default, {precision_name(device)} here",
    ]
    print("\n".join(header), flush=True)
    dag = []
    if not args.no_dag:
        print("DAG build ...", flush=True)
        dag = dag_rows()
    print("training ...", flush=True)
    rows = training_rows(plan, device, args.workers, compiled)
    print("feature extraction and SimCLR ...", flush=True)
    rows += ssl_rows(plan, device)
    print("probes ...", flush=True)
    rows += probe_rows(plan)
    rows += dag
    if args.with_default_study:
        print("default study ...", flush=True)
        rows += default_study_rows()
    if args.fmnist_accuracy == "on" or (args.fmnist_accuracy == "auto" and device.type == "cuda"):
        print("full Fashion-MNIST training ...", flush=True)
        rows += accuracy_rows(plan, device, args.fmnist_epochs, args.quick)
    header.append(f"- load average at end: {load()}")
    name = args.name or slug(device) + ("-quick" if args.quick else "")
    md_path, csv_path = write(rows, header, args.out_dir, name)
    print("\n" + markdown(rows, []))
    print(f"written: {md_path} and {csv_path}")
    return rows


if __name__ == "__main__":
    main()
