"""Shared test helpers: paths, a tiny study, and running snakemake on a temporary directory."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

needs_fashion_mnist = pytest.mark.skipif(
    not (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist; `make setup` does it as root)",
)


def fashion_subsets(root: Path, pretrain_size: int) -> dict:
    """Real Fashion-MNIST prepared under `root`: `pretrain_size` images to pretrain on, then 1,000
    to fit probes and 1,000 to score them, disjoint (the self-supervised learning tests' data)."""
    if not (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST not installed")
    import numpy as np
    import torch

    from cvrepro.data.datasets.prepare import prepare_dataset
    from cvrepro.data.datasets.splits import load_split
    from cvrepro.data.subsets import draw_subset
    from cvrepro.data.tensors import load_subset

    data_dir = prepare_dataset("fashion_mnist", FMNIST_DIR, root / "prepared")
    labels = load_split(data_dir, "train").labels
    pretrain = draw_subset(labels, pretrain_size, 0)
    fit = draw_subset(labels, 1000, 1, exclude=[pretrain])
    score = draw_subset(labels, 1000, 2, exclude=[pretrain, fit])
    sets = {}
    for name, index in (("pretrain", pretrain), ("fit", fit), ("score", score)):
        np.save(root / f"{name}.npy", index)
        sets[name] = load_subset(data_dir, "train", root / f"{name}.npy", torch.device("cpu"))
    return sets


def pytest_configure(config):
    """Under pytest-xdist every worker shares the machine's cores with the others and with the
    Snakemake jobs they start (one thread each, config `threads: 1`): one torch thread per worker
    avoids oversubscribed, spin-waiting thread pools, where two per worker on two cores wasted
    CPU time."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """The seed studies' rehearsal (tests/test_rehearsal.py) is the longest module by far: run it
    first, so that pytest-xdist's other workers run every other module beside it. Its worker
    starts by building the finished tiny study (finished_tiny, once behind a lock): the modules
    that need it come last, so the other worker runs the rest meanwhile instead of waiting. (xdist's
    default --loadscope-reorder then sorts modules by test count, which this order only breaks
    ties of; with --no-loadscope-reorder one run was slower, so the default stays.)"""
    needs_tiny = {item.module.__name__ for item in items if "finished_tiny" in item.fixturenames}
    items.sort(
        key=lambda item: (item.module.__name__ != "test_rehearsal", item.module.__name__ in needs_tiny)
    )


@pytest.fixture(autouse=True)
def default_precision():
    """Scripts' main() sets the process-wide precision policy; each test starts from the default."""
    from cvrepro.nets.device import set_precision

    set_precision("auto")
    yield
    set_precision("auto")


TINY_STUDY = {
    "description": "A few hundred Fashion-MNIST images, tiny networks: the workflow's smoke test.",
    "subsets": {
        "val": {"dataset": "fashion_mnist", "split": "train", "size": 200, "seed": 1},
        "big": {"dataset": "fashion_mnist", "split": "train", "size": 400, "exclude": ["val"]},
        "small": {"dataset": "fashion_mnist", "split": "train", "size": 200, "within": "big"},
        "test": {"dataset": "fashion_mnist", "split": "test", "size": 500},
    },
    "run_defaults": {
        "val": "val",
        "test": "test",
        "model": {"width": 4},
        "epochs": 1,
        "batch_size": 64,
        "eval_batch_size": 256,
        "optimizer": {"name": "sgd", "lr": 0.05},
    },
    "runs": {
        "a": {"train": "small"},
        "b": {"train": "big", "grad_flow": True},
        "c": {"train": "small", "init": "b"},
        "d": {"train": "small", "init": "ssl"},
    },
    "pretrain": {
        "ssl": {
            "method": "simclr",
            "data": "big",
            "epochs": 1,
            "batch_size": 64,
            "model": {"width": 4},
            "projection": {"hidden": 32, "dim": 16},
        }
    },
    "probes": {
        "pix": {"kind": "softmax", "features": "pixels", "train": "small", "test": "test"},
        "svm_ssl": {"kind": "svm", "features": "ssl", "train": "small", "test": "test"},
        "knn_b_layer3": {"kind": "knn", "features": "b", "layer": "layer3", "train": "small", "test": "test"},
    },
    "shift_sets": {
        "c": {"subset": "test", "corruptions": ["gaussian_noise", "contrast"], "severities": [1, 5]}
    },
    "bn_sweeps": {
        "bn": {
            "runs": ["b"],
            "shift_set": "c",
            "batch_sizes": [4, 64],
            "orders": ["shuffled", "class_sorted"],
        }
    },
    "tables": {
        "t": {
            "runs": ["a", "b", "c", "d"],
            "probes": ["pix", "svm_ssl", "knn_b_layer3"],
            "reported": {"a": {"test_acc": 0.5}},
        },
        "ssl": {
            "pretrain": ["ssl"],
            "probes": ["svm_ssl"],
            "columns": ["contrastive_acc", "val_acc", "train_acc", "test_acc", "train_time_s"],
        },
        "bn": {
            "kind": "sweep",
            "sweep": "bn",
            "modes": ["eval", "train", "adapt"],
            "reported": {"4": {"train:b": 0.1}},
        },
    },
    "figures": {
        "curves": {"kind": "training_curves", "runs": ["a", "b"]},
        "embedding": {"kind": "tsne", "features": "ssl", "subset": "small", "count": 200},
        "views": {"kind": "augmented_pairs", "subset": "big", "augment": "simclr", "count": 3},
        "bn": {"kind": "bn_sweep", "sweep": "bn"},
        "confusion": {"kind": "confusion", "runs": ["b", "c", "svm_ssl"]},
        "roc": {"kind": "roc", "runs": ["b"]},
        "classes": {"kind": "class_accuracy", "runs": ["b", "c"]},
        # A caption with reStructuredText's substitution marks: the HTML report must show it as written.
        "grads": {"kind": "grad_flow", "runs": ["b"], "caption": "Mean |gradient| per layer, *last* epoch_"},
        "samples": {"kind": "samples", "subset": "small", "count": 3},
        "acts": {
            "kind": "activations",
            "runs": ["b"],
            "subset": "test",
            "layers": ["layer1", "layer4"],
            "classes": ["Bag", "Trouser"],
        },
    },
}


def tiny_config(**study_changes) -> dict:
    """A full config selecting only the tiny study; keyword args replace top-level study keys."""
    study = copy.deepcopy(TINY_STUDY)
    study.update(copy.deepcopy(study_changes))
    return {"studies": ["tiny"], "device": "cpu", "threads": 1, "inline_studies": {"tiny": study}}


def copy_repository(dest: Path) -> Path:
    """The workflow's own files (no results, venv or git) copied to `dest`: a repository whose code
    a test may edit, never the real tree. Returns its Snakefile."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "pyproject.toml"):  # pyproject: ruff's settings
        shutil.copy2(REPO / name, dest / name)
    for name in ("workflow", "studies", "envs", "profiles"):  # profiles/default: the rerun triggers
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest / "Snakefile"


def run_snakemake(
    workdir: Path, config: dict, *args: str, timeout: int = 600, snakefile: Path = REPO / "Snakefile"
) -> subprocess.CompletedProcess:
    """Run the repository's workflow (or `snakefile`, e.g. a copy's) on `workdir` with `config` as
    its only config file."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        str(SNAKEMAKE),
        "-s",
        str(snakefile),
        "-d",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir)


@pytest.fixture(scope="session")
def finished_tiny(tmp_path_factory, worker_id) -> Path:
    """The tiny study run once for the whole session (once across pytest-xdist's workers, behind a
    file lock) in a directory no test may change: take a copy with copy_finished()."""
    from filelock import FileLock

    if worker_id == "master":  # no xdist: this session's own directory
        root = tmp_path_factory.getbasetemp()
    else:  # the directory all workers of this session share
        root = tmp_path_factory.getbasetemp().parent
    workdir = root / "finished-tiny"
    with FileLock(str(root / "finished-tiny.lock")):
        if not (workdir / "done").exists():
            result = run_snakemake(workdir, tiny_config(), "--cores", "2", timeout=1800)
            assert result.returncode == 0, result.stderr[-4000:]
            (workdir / "done").write_text("")
    return workdir


def copy_finished(finished: Path, dest: Path) -> Path:
    """A finished working directory copied with every file's times (so Snakemake finds it up to
    date): results, resources and .snakemake's records."""
    import shutil

    shutil.copytree(finished, dest, symlinks=True, ignore=shutil.ignore_patterns("done", "locks"))
    return dest


def heavy_imports(statement: str, heavy: tuple[str, ...] = ("torch", "numpy", "pandas")) -> list[str]:
    """The modules of the `heavy` packages a fresh Python holds after running `statement` in
    workflow/scripts: a registry read while Snakemake parses the workflow must import none."""
    code = f"import sys; {statement}; print(*sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO / "workflow" / "scripts",
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def planned_jobs(result) -> dict[str, int]:
    """rule -> number of jobs, from the "Job stats" table of a dry run ({} when nothing to do)."""
    counts, in_table = {}, False
    for line in result.stdout.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
        elif in_table and (match := re.match(r"^(\w+)\s+(\d+)$", line.strip())):
            if match.group(1) != "total":
                counts[match.group(1)] = int(match.group(2))
        elif in_table and counts and not line.strip():
            break
    return counts


def planned_wildcards(result, rule: str) -> list[str]:
    """The wildcards of every planned job of `rule`, e.g. ["study=tiny, run=a"]."""
    found, current = [], None
    for line in result.stdout.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            current = match.group(1)
        elif current == rule and line.strip().startswith("wildcards:"):
            found.append(line.split(":", 1)[1].strip())
    return sorted(found)


# --- the seed studies, as the rehearsal tests load them ------------------------------------------

SEED_STUDIES = sorted(path.stem for path in (REPO / "studies").glob("*.yaml"))
# Studies of studies/ that reproduce no report (no fidelity items, no reported numbers): examples
# of what cvrepro runs, rehearsed and dry-run with the others.
EXAMPLE_STUDIES = ("model_zoo", "ssl_methods")


def repo_config(**changes) -> dict:
    """config.yaml as the repository has it, on the CPU, with `changes`."""
    import yaml

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return {**config, "device": "cpu", **changes}


@pytest.fixture(scope="module")
def studies():
    """(real, rehearsal): every study of config.yaml and studies/ as loaded and checked."""
    from cvrepro.config import load_config

    config = repo_config(studies="all")
    real = load_config(config, REPO / "studies")[1]
    rehearsal = load_config({**config, "rehearsal": "true"}, REPO / "studies")[1]
    return real, rehearsal
