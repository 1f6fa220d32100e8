"""studies/README.md, the guide to writing a study: its template runs to a report exactly as
written, and its list of what exists is the schema's."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_finished, copy_repository, needs_fashion_mnist, planned_jobs, run_snakemake
from cvrepro.config.schema import load_schema
from cvrepro.nets.catalog import models
from cvrepro.study.names import ARCHS

GUIDE = (REPO / "studies" / "README.md").read_text()


def template() -> str:
    return re.search(r"```yaml\n(.*?)```", GUIDE, re.S).group(1)


def listed(label: str) -> list[str]:
    """The names after `label` in the guide's "What exists" list."""
    line = next(line for line in GUIDE.splitlines() if line.startswith(f"- {label}"))
    names = line.split(":", 1)[1].split(";")[0]
    return [name.strip() for name in names.split(",")]


def enum(*path: str) -> list:
    node = load_schema("study.schema.yaml")["definitions"]
    for key in path:
        node = node[key]
    return node["enum"] if "enum" in node else node["oneOf"][0]["enum"]


@pytest.mark.parametrize(
    "label, path",
    [
        ("supervised losses", ("run", "properties", "loss", "properties", "name")),
        ("pretraining methods", ("pretraining", "properties", "method")),
        ("augmentations", ("run", "properties", "augment")),
        ("optimizers", ("optimizer", "properties", "name")),
        ("schedules", ("schedule", "properties", "name")),
        ("probes", ("probe", "properties", "kind")),
        ("table kinds", ("table", "properties", "kind")),
        ("figure kinds", ("figure", "properties", "kind")),
        ("dataset sources", ("dataset_source", "properties", "source")),
    ],
)
def test_what_exists_is_what_the_schema_allows(label, path):
    assert listed(label) == enum(*path)


def test_the_guide_lists_cvrepros_own_models_and_torchvisions():
    """`model.arch` is a string, checked against cvrepro's own nets and the torchvision catalog:
    the guide lists the former and points to the latter, whose names it gives as examples."""
    assert listed("models") == list(ARCHS)
    line = next(line for line in GUIDE.splitlines() if line.startswith("- models"))
    examples = re.search(r"torchvision name \(([^.]*)\.\.\.", line).group(1).replace(",", " ").split()
    assert examples == ["vit_b_16", "convnext_tiny", "efficientnet_b0"]
    assert set(examples) <= set(models()) and not set(examples) & set(ARCHS)


def schema_words() -> set[str]:
    """Every enum value and property name anywhere in the study schema."""
    words: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            words.update(str(v) for v in node.get("enum", []))
            words.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_schema("study.schema.yaml"))
    return words


def test_the_guide_calls_unsupported_only_what_the_schema_lacks():
    """The "not supported yet" line names nothing the schema takes (it once listed mixup and
    cutmix a few lines below `loss.mixup_alpha`), and the loss options the guide lists exist."""
    line = next(line for line in GUIDE.splitlines() if line.startswith("- not supported yet"))
    unsupported = re.findall(r"\b[a-z][a-z0-9_]+\b", re.sub(r"\([^)]*\)", "", line.split(":", 1)[1]))
    assert unsupported and not set(unsupported) & schema_words(), set(unsupported) & schema_words()
    assert "mixup" not in line.lower() and "cutmix" not in line.lower()
    losses = next(line for line in GUIDE.splitlines() if line.startswith("- supervised losses"))
    options = re.findall(r"`loss\.([a-z_]+)`", losses)
    assert {"label_smoothing", "mixup_alpha", "cutmix_alpha"} <= set(options)
    assert set(options) <= set(definition_properties("run", "loss"))


def definition_properties(*path: str) -> dict:
    node = load_schema("study.schema.yaml")["definitions"][path[0]]
    for key in path[1:]:
        node = node["properties"][key]
    return node["properties"]


def test_the_contrastive_losses_are_listed_too():
    line = next(line for line in GUIDE.splitlines() if line.startswith("- pretraining methods"))
    assert line.split("contrastive losses (`loss`):")[1].strip().split(", ") == [
        name.strip() for name in enum("pretraining", "properties", "loss")
    ]


@pytest.mark.workflow
@needs_fashion_mnist
def test_the_template_runs_to_its_report_as_written(tmp_path, finished_tiny, capsys):
    """From the finished tiny study's prepared Fashion-MNIST (its download and prepare jobs are
    up to date there), the template, copied verbatim, runs to REPORT.md."""
    snakefile = copy_repository(tmp_path / "repo")
    (tmp_path / "repo" / "studies" / "mine.yaml").write_text(template())
    work = copy_finished(finished_tiny, tmp_path / "work")
    config = {**yaml.safe_load((REPO / "config.yaml").read_text()), "device": "cpu", "studies": ["mine"]}
    result = run_snakemake(work, config, "--cores", "2", snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "work" / "results" / "mine"
    report = (results / "REPORT.md").read_text()
    assert "Accuracy by learning rate" in report and "figures/curves.png" in report
    table = pd.read_csv(results / "tables" / "results.csv", index_col=0)
    assert {"lr.lr_1e-3", "lr.lr_1e-1"} <= set(table.index)
    lo, hi = (100 * table.loc["lr.lr_1e-1", f"test_acc_{end}"] for end in ("lo", "hi"))
    assert f"[{lo:.1f}, {hi:.1f}] (n=3)" in (results / "tables" / "results.md").read_text()  # interval: ci95
    compared = pd.read_csv(results / "tables" / "results.compare.csv")
    assert len(compared) > 0 and "test_acc" in set(compared.astype(str).values.ravel())
    assert planned_jobs(run_snakemake(work, config, "-n", snakefile=snakefile)) == {}  # all up to date
    # Two result sets of the template study, the second with a changed table cell and changed
    # per-class scores: make compare names the cell in its first 20 lines and counts the rest.
    import json
    import shutil

    from compare_results import main as compare

    other = tmp_path / "other"
    shutil.copytree(results.parent, other)
    changed = pd.read_csv(other / "mine" / "tables" / "results.csv", index_col=0)
    changed.loc["lr.lr_1e-3", "test_acc"] += 0.01
    changed.to_csv(other / "mine" / "tables" / "results.csv")
    evaluation = next((other / "mine" / "evals").rglob("metrics.json"))
    scores = json.loads(evaluation.read_text())
    for values in scores["per_class"].values():
        values["recall"] += 0.01
    evaluation.write_text(json.dumps(scores))
    assert compare(results.parent, other, 0.0, tmp_path / "compare") == 1
    first = "\n".join(capsys.readouterr().out.splitlines()[:20])
    assert "| mine | tables/results | lr.lr_1e-3 | test_acc |" in first and "--detail" in first
