"""Your own images (issue 36), side by side in one run on this machine:

1. preparing a folder of JPEGs at mixed sizes (cvrepro's prepare: decode once, all cores) vs
   reading the same files once through torchvision's ImageFolder + DataLoader(num_workers=cores);
2. five epochs from the prepared arrays vs five epochs through ImageFolder + DataLoader, with the
   same small CNN, batch size and augmentation (random horizontal flip), cumulative after each
   epoch (the prepared side includes its preparation);
3. the DAG build (`snakemake -n`) of a study on a 100,000-file folder vs the same study on
   Fashion-MNIST (best of 3 each);
4. (`--memory`, alone) a training job whose prepared split is twice the memory it may use: the
   job (cvrepro's load_subset, channel_stats and 100 steps of fit, as train.py runs them) in a
   memory cgroup limited to --limit-mb, as chosen by load_subset (from disk) vs forced to hold
   the subset in memory as before. A limit on virtual memory (`ulimit -v`) cannot be the test:
   a memory-mapped file counts whole against it, however little of it is resident.

    .venv/bin/python benchmarks/bench_own_images.py [--images 20000] [--epochs 5]
    .venv/bin/python benchmarks/bench_own_images.py --memory [--limit-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
SIZE, BATCH, CLASSES = 32, 128, 10
STEPS = 100  # section 4's training steps: batches drawn across the whole split, not a full epoch


def _write(args):
    root, i = args
    from PIL import Image

    rng = np.random.default_rng(i)
    w, h = (int(v) for v in rng.integers(48, 161, 2))
    pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    folder = Path(root) / f"class_{i % CLASSES}"
    Image.fromarray(pixels).save(folder / f"{i:06d}.jpg", quality=90)


def write_folder(root: Path, n: int, cores: int) -> None:
    for c in range(CLASSES):
        (root / f"class_{c}").mkdir(parents=True, exist_ok=True)
    with Pool(cores) as pool:
        pool.map(_write, [(str(root), i) for i in range(n)], chunksize=256)


def net():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, CLASSES),
    )  # fmt: skip


def train_prepared(images: np.ndarray, labels: np.ndarray, epochs: int) -> list[float]:
    import torch

    torch.manual_seed(0)
    x, y = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)
    model, times = net(), []
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(BATCH):
            xb = x[batch].permute(0, 3, 1, 2).float().div_(255)
            flip = torch.rand(len(batch)) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = torch.nn.functional.cross_entropy(model(xb), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def imagefolder_loader(root: Path, cores: int, augment: bool):
    import torch
    from torchvision import datasets, transforms

    steps = [transforms.Resize(SIZE), transforms.CenterCrop(SIZE)]
    steps += [transforms.RandomHorizontalFlip()] if augment else []
    dataset = datasets.ImageFolder(str(root), transforms.Compose([*steps, transforms.ToTensor()]))
    return torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=augment, num_workers=cores, persistent_workers=augment
    )


def train_imagefolder(root: Path, cores: int, epochs: int) -> list[float]:
    import torch

    torch.manual_seed(0)
    loader = imagefolder_loader(root, cores, augment=True)
    model, times = net(), []
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def dag_seconds(workdir: Path, config: str) -> float:
    (workdir / "c.yaml").write_text(config)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [str(REPO / ".venv/bin/snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
            + ["--configfile", str(workdir / "c.yaml"), "-n", "-q"],
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - start)
    return best


STUDY = """studies: [s]
device: cpu
inline_studies:
  s:
    {datasets}
    subsets:
      train: {{dataset: {name}, split: train, size: 500}}
      test: {{dataset: {name}, split: train, size: 500, exclude: [train]}}
    runs:
      a: {{train: train, test: test, model: {{width: 4}}, epochs: 1}}
"""


def dag_rows(tmp: Path) -> tuple[float, float]:
    big = tmp / "big"
    for c in range(100):
        (big / f"class_{c:03d}").mkdir(parents=True)
        for i in range(1000):
            (big / f"class_{c:03d}" / f"{i:05d}.jpg").touch()
    declared = f"datasets: {{big: {{source: folder, path: {big}, resize: {{size: 32}}}}}}"
    without = dag_seconds(tmp, STUDY.format(datasets="", name="fashion_mnist"))
    with_folder = dag_seconds(tmp, STUDY.format(datasets=declared, name="big"))
    return without, with_folder


def memory_job(data: Path, in_memory: bool) -> None:
    """The data path of a training job (train.py): the subset, its channel statistics, STEPS steps."""
    import torch

    from cvrepro.data.tensors import MEMORY_SHARE, available_memory, channel_stats, load_subset
    from cvrepro.jobs.recipes import run_recipe
    from cvrepro.nets.models import build_model
    from cvrepro.train.engine import fit
    from cvrepro.train.supervised import supervised

    start = time.perf_counter()
    share = float("inf") if in_memory else MEMORY_SHARE
    print(f"available to this job: {available_memory() / 2**20:.0f} MiB", flush=True)
    train = load_subset(data, "train", None, torch.device("cpu"), memory_share=share)
    mean, std = channel_stats(train.images)
    model = {**run_recipe()["model"], "arch": "small_cnn", "width": 4}
    shape = train.images.shape
    net = build_model({**model, "in_channels": shape[1], "num_classes": CLASSES, "image_size": shape[-1]})
    hp = run_recipe(
        epochs=1, steps=STEPS, batch_size=512, augment="flip", seed=0, optimizer={"name": "sgd", "lr": 0.01}
    )
    fit(net, train, hp, supervised(net, hp, mean, std, CLASSES, None), log=lambda line: None)
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) * 1024
    print(
        f"done: {len(train)} images, {STEPS} steps of 512 in {time.perf_counter() - start:.0f} s, "
        f"VmHWM {peak / 2**20:.0f} MiB"
    )


def memory_cgroup() -> tuple[Path, str, str] | None:
    """This process's memory cgroup folder, and its limit and peak files (v1 or v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, group = line.split(":", 2)
        if controllers == "" and Path(f"/sys/fs/cgroup{group}/memory.max").exists():
            return Path(f"/sys/fs/cgroup{group}"), "memory.max", "memory.peak"
        if "memory" in controllers.split(","):
            return Path(f"/sys/fs/cgroup/memory{group}"), "memory.limit_in_bytes", "memory.max_usage_in_bytes"
    return None


def memory_rows(limit_mb: int) -> None:
    """Section 4: a split of twice `limit_mb`, one job per path, each in a fresh child cgroup."""
    from cvrepro.data.datasets.splits import write_info, write_split_chunks

    found = memory_cgroup()
    if found is None:
        sys.exit("no memory cgroup to limit the job in")
    parent, limit_file, peak_file = found
    side, n_bytes = 32, 2 * limit_mb * 2**20
    n = n_bytes // (side * side * 3)
    with tempfile.TemporaryDirectory() as tmp_name:
        data = Path(tmp_name)
        rng = np.random.default_rng(0)
        rows = 4096
        chunks = (
            rng.integers(0, 256, (min(rows, n - i), side, side, 3), dtype=np.uint8) for i in range(0, n, rows)
        )
        write_split_chunks(data, "train", (n, side, side, 3), chunks, np.arange(n) % CLASSES)
        write_info(data, "big", [str(c) for c in range(CLASSES)], {"train": n}, {})
        print("| path | prepared split | memory limit | result | peak (cgroup) | time |")
        print("|---|---:|---:|---|---|---:|")
        for label, flag in (
            ("from disk (load_subset's choice)", []),
            ("in memory (forced)", ["--in-memory"]),
        ):
            group = parent / f"cvrepro-bench-{os.getpid()}"
            group.mkdir()
            try:
                (group / limit_file).write_text(str(limit_mb * 2**20))
                start = time.perf_counter()
                job = subprocess.run(
                    ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh", sys.executable,
                     __file__, "--job", str(data), *flag],
                    capture_output=True, text=True,
                )  # fmt: skip
                seconds = time.perf_counter() - start
                peak = int((group / peak_file).read_text()) / 2**20
            finally:
                for _ in range(50):  # a killed job's group empties a moment after its exit
                    try:
                        group.rmdir()
                        break
                    except OSError:
                        time.sleep(0.1)
            done = [line for line in job.stdout.splitlines() if line.startswith("done:")]
            result = done[0] if job.returncode == 0 and done else f"killed (exit {job.returncode})"
            print(f"| {label} | {n_bytes / 2**20:.0f} MiB ({n} x {side}x{side}x3) | {limit_mb} MiB | {result} "
                  f"| {peak:.0f} MiB | {seconds:.0f} s |")  # fmt: skip
            if job.returncode and not flag:
                print(job.stdout[-2000:], job.stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="only section 4")
    parser.add_argument("--limit-mb", type=int, default=1024)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)  # section 4's job, in its cgroup
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        return memory_job(args.job, args.in_memory)
    import torch

    if args.memory:
        print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}")
        return memory_rows(args.limit_mb)

    from cvrepro.config.schema import definition, validate
    from cvrepro.data.datasets.splits import load_split
    from cvrepro.data.sources._decode import cores as count_cores
    from cvrepro.data.sources._prepare import prepare_declared

    cores = count_cores()
    print(f"# {platform.processor() or platform.machine()}, {cores} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_folder(tmp / "jpegs", args.images, cores)
        entry = validate(
            {"source": "folder", "path": str(tmp / "jpegs"), "resize": {"size": SIZE}},
            definition("dataset_source"),
            "bench",
        )
        start = time.perf_counter()
        prepare_declared("bench", {**entry, "listing": "-"}, tmp / "prepared", rehearsal=False, workers=cores)
        prepare_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in imagefolder_loader(tmp / "jpegs", cores, augment=False):
            pass
        read_s = time.perf_counter() - start
        n = args.images
        print(f"| {n} JPEGs (48-160 px) to {SIZE}x{SIZE} | cvrepro prepare {prepare_s:.1f} s ({n / prepare_s:.0f}/s) "
              f"| ImageFolder + DataLoader({cores} workers), one pass {read_s:.1f} s ({n / read_s:.0f}/s) "
              f"| ratio {read_s / prepare_s:.2f} |")  # fmt: skip
        split = load_split(tmp / "prepared", "train", mmap=False)
        ours = train_prepared(split.images, split.labels, args.epochs)
        theirs = train_imagefolder(tmp / "jpegs", cores, args.epochs)
        print("| epochs | prepared (prepare + epochs), s | ImageFolder + DataLoader, s | ratio |")
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
            print(f"| {k} | {prepare_s + a:.1f} | {b:.1f} | {b / (prepare_s + a):.2f} |")
        without, with_folder = dag_rows(tmp)
        print(f"| DAG build (snakemake -n, best of 3) | Fashion-MNIST study {without:.2f} s "
              f"| same study on a 100,000-file folder {with_folder:.2f} s | +{with_folder - without:.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
