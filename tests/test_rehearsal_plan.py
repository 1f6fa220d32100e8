"""The rehearsal's plan (README "Before a long run"): synthetic originals go through the real
readers, the rehearsal keeps every relation of each study and cuts only sizes, its job list equals
the real run's, the cost estimate, and a broken figure kind failing it with one line."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import yaml

from conftest import REPO, copy_repository, repo_config, run_snakemake
from cvrepro.data.builtin import cifar10, fashion_mnist
from cvrepro.data.datasets import synthetic
from cvrepro.data.datasets.prepare import prepare_dataset
from cvrepro.data.datasets.registry import DATASETS
from cvrepro.data.datasets.splits import load_split
from cvrepro.report.cost.plan import forward_flops

# --- synthetic originals -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_synthetic_originals_prepare_through_the_real_reader(tmp_path, name):
    spec = synthetic.synthetic_spec(name)
    for remote in spec.files:
        synthetic.write_original(name, remote.filename, tmp_path / remote.filename)
    out = prepare_dataset(name, tmp_path, tmp_path / "prepared", spec=spec)
    side, channels = synthetic.prepared_shape(name, DATASETS[name].options)
    assert set(spec.splits) == set(DATASETS[name].splits)  # every split, unlabelled ones included
    for split, n in spec.splits.items():
        data = load_split(out, split)
        assert len(data) == n and data.images.shape[1:] == (side, side, channels)
        assert np.array_equal(data.labels, synthetic.labels(name, split))
        assert len(data.classes) == DATASETS[name].num_classes
        if (data.labels >= 0).any():  # every class present in every labelled split
            assert len(np.unique(data.labels)) == DATASETS[name].num_classes


def test_synthetic_originals_carry_the_real_class_names(tmp_path):
    names = {}
    for name in ("fashion_mnist", "cifar10", "cifar100", "stl10", "tiny_imagenet"):
        spec = synthetic.synthetic_spec(name)
        (tmp_path / name).mkdir()
        for remote in spec.files:
            synthetic.write_original(name, remote.filename, tmp_path / name / remote.filename)
        names[name] = load_split(
            prepare_dataset(name, tmp_path / name, tmp_path / f"{name}-p", spec=spec), "test"
        )
    assert names["fashion_mnist"].classes == fashion_mnist.CLASSES
    assert names["cifar10"].classes == cifar10.CLASSES
    assert names["cifar100"].classes[:3] == ["apple", "aquarium_fish", "baby"]
    assert names["stl10"].classes[7] == "monkey"
    assert names["tiny_imagenet"].classes[0] == "n01443537"


def test_synthetic_files_are_the_same_bytes_every_time(tmp_path):
    for name in ("cifar10", "tiny_imagenet", "oxford_pets", "cifar100_c"):
        for remote in synthetic.synthetic_spec(name).files:
            path = tmp_path / remote.filename
            synthetic.write_original(name, remote.filename, path)
            assert hashlib.md5(path.read_bytes()).hexdigest() == remote.md5, (name, remote.filename)


# --- the rehearsal's studies ---------------------------------------------------------------------


def test_rehearsal_keeps_every_relation_and_cuts_only_sizes(studies):
    real, rehearsal = studies
    for name, study in rehearsal.items():
        full = real[name]
        assert study.rehearsal_of.spec == full.spec and study.layout.results == "results-rehearsal"
        for subset, spec in study.subsets.items():
            written = full.subsets[subset]
            assert {k: v for k, v in spec.items() if k != "size"} == {
                k: v for k, v in written.items() if k != "size"
            }
            assert (spec["size"] is None) == (written["size"] is None)
            assert spec["size"] is None or 1 <= spec["size"] <= written["size"]
            assert 1 <= study.sizes[subset] <= synthetic.split_sizes(spec["dataset"])[spec["split"]]
        for section in ("runs", "pretrain"):
            assert list(getattr(study, section)) == list(getattr(full, section))
            for job, spec in getattr(study, section).items():
                assert spec["epochs"] == 1 and spec["steps"] is None  # one whole epoch
                written = getattr(full, section)[job]
                cut = ("epochs", "steps", "schedule")
                assert {k: v for k, v in spec.items() if k not in cut} == {
                    k: v for k, v in written.items() if k not in cut
                }
        for probe, spec in study.probes.items():
            assert spec["max_iter"] <= 50 and spec["kind"] == full.probes[probe]["kind"]
        for section in ("shift_sets", "bn_sweeps", "tables", "figures"):
            assert getattr(study, section) == getattr(full, section), (name, section)


def test_a_rehearsal_cosine_keeps_the_study_s_length(studies):
    _, rehearsal = studies
    run = rehearsal["cifar100_subsets"].runs["t1"]
    assert run["epochs"] == 1 and run["schedule"]["t_max"] == 30 and run["schedule"]["warmup_epochs"] == 1


def jobs_of(result) -> list[str]:
    """(rule, wildcards) of every job a dry run plans."""
    found, rule = [], None
    for line in result.stdout.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = match.group(1)
        elif rule and line.strip().startswith("wildcards:"):
            found.append(f"{rule} {line.split(':', 1)[1].strip()}")
        elif rule and line.strip().startswith("output:"):
            found.append(f"{rule} output")
    return sorted(found)


def outputs_of(result) -> list[str]:
    return [
        path.strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("output:")
        for path in line.split(":", 1)[1].split(",")
    ]


def test_the_rehearsal_plans_exactly_the_real_run_s_jobs(tmp_path):
    """Rule by rule and job by job (downloads included), for every study: a rehearsal cannot
    quietly skip a rule. Every one of its outputs lies in its own trees."""
    real = run_snakemake(tmp_path / "real", repo_config(studies="all"), "-n", "--cores", "2")
    rehearsal = run_snakemake(
        tmp_path / "rehearsal", repo_config(studies="all", rehearsal=True), "-n", "--cores", "2"
    )
    assert real.returncode == 0 and rehearsal.returncode == 0, real.stderr[-2000:] + rehearsal.stderr[-2000:]
    planned = jobs_of(real)
    assert len(planned) > 600 and jobs_of(rehearsal) == planned
    assert {p.split(" ")[0].split("/")[0] for p in outputs_of(rehearsal)} == {
        "results-rehearsal",
        "resources-rehearsal",
    }


def test_a_user_study_too_small_to_rehearse_is_named(tmp_path):
    """Two disjoint subsets of STL-10's first two test classes that fit the real split (1,600
    images) but not the synthetic one (4): the rehearsal names the subset that finds none left."""
    study = {
        "subsets": {
            "a": {"dataset": "stl10", "split": "test", "classes": 2, "size": 1000},
            "b": {"dataset": "stl10", "split": "test", "classes": 2, "size": 600, "exclude": ["a"]},
        },
        "runs": {"r": {"train": "b", "test": "a"}},
    }
    config = {"studies": ["mine"], "rehearsal": True, "inline_studies": {"mine": study}}
    result = run_snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    assert re.search(
        r"subsets\.b \(rehearsal\): the synthetic stl10/test \(20 images\) has no", result.stderr
    )
    assert (
        run_snakemake(tmp_path, {**config, "rehearsal": False}, "-n").returncode == 0
    )  # the real one is fine


def test_the_cost_plan_counts_flops_per_image_and_what_waits_for_what(studies):
    """FLOPs of one forward pass (a ResNet-18 at width 16 on 28-px images: 57 MFLOPs), the
    recipe each network trains by, which training starts from which, and the BN sweeps' images."""
    from cvrepro.report.cost.plan import work_plan

    plan = work_plan(studies[1]["embedded"], {"fashion_mnist": (28, 1)})
    scratch = plan["networks"]["scratch_1k"]
    assert scratch["kind"] == "supervised" and scratch["recipe"]["batch_size"] == 128
    assert forward_flops(scratch) == pytest.approx(57.1e6, rel=0.01)
    assert plan["inits"]["simclr_finetune_1k.r1"] == "simclr_5k" and "scratch_1k" not in plan["inits"]
    sweep = next(job for job in plan["jobs"] if job["rule"] == "bn_sweep")
    # (3 corruptions x 2 severities + clean) x 1,000 images x 1 order
    assert sweep["full"]["sweep_images"] == 7000 and sweep["sweep"]["batch_sizes"] == [4, 32, 256]
    assert plan["counts"]["figure"] == len(studies[0]["embedded"].figures)


def test_the_cost_plan_holds_every_evaluation_and_extraction_the_outputs_read(studies):
    """The plan reads the files each table and figure kind declares (their manifests)."""
    from cvrepro.report.cost.plan import work_plan

    plan = work_plan(studies[1]["embedded"], {"fashion_mnist": (28, 1)})
    jobs = {(job["rule"], job["job"]) for job in plan["jobs"]}
    assert {("evaluate", "scratch_1k/test"), ("evaluate", "scratch_1k.r2/test")} <= jobs
    assert ("extract", "simclr_5k/penultimate/train_1k") in jobs


@pytest.mark.workflow
def test_a_broken_figure_kind_fails_the_rehearsal_with_one_line(tmp_path):
    """A figure kind that reads a column its input does not have (here the gradient-flow plot),
    in a copy of the repository: the rehearsal of S5 stops with one line naming the study, the
    figure and the column, and no traceback on the console."""
    copy = tmp_path / "repo"
    snakefile = copy_repository(copy)
    plots = copy / "workflow" / "scripts" / "cvrepro" / "report" / "figures" / "grad_flow.py"
    source = plots.read_text()
    assert source.count('"mean_abs_grad"') >= 1
    plots.write_text(source.replace('"mean_abs_grad"', '"mean_abs_gradient"'))
    study = yaml.safe_load((REPO / "studies" / "dogs_cats_optimizers.yaml").read_text())
    figure = next(name for name, spec in study["figures"].items() if spec["kind"] == "grad_flow")
    target = f"results-rehearsal/dogs_cats_optimizers/figures/{figure}.png"
    config = repo_config(studies=["dogs_cats_optimizers"], rehearsal=True)
    result = run_snakemake(tmp_path / "work", config, "--cores", "2", target, snakefile=snakefile)
    assert result.returncode != 0
    failures = [line for line in result.stderr.splitlines() if "failed:" in line]
    assert len(failures) == 1, result.stderr[-3000:]
    assert re.search(rf"dogs_cats_optimizers figure {figure}\] failed: .*'mean_abs_gradient'", failures[0])
    assert "Traceback" not in result.stderr
