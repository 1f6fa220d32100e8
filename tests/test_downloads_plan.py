"""What a real run will fetch (README "Before a long run"): every dataset file and every set of
ImageNet weights with its size and whether a copy is present, what cannot be fetched named with
what to do; torchvision's weights files known without importing it, equal to its own."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, repo_config
from cvrepro.config import load_config
from cvrepro.data.datasets.registry import DATASETS
from cvrepro.nets.imagenet_files import DEFAULT, WEIGHTS, hub_checkpoints_dir, weights_file
from cvrepro.report.cost.fetches import fetch_items, fetch_lines, fetch_markdown, problems, with_state
from cvrepro.study.names import RESNETS

OFFLINE = {"CVREPRO_OFFLINE": "1"}


def loaded(name: str, **changes):
    config, studies = load_config(repo_config(studies=[name], **changes), REPO / "studies")
    return config, studies[name]


def test_the_weights_table_is_torchvision_s():
    """File name (its hash prefix is what the loader checks), size and DEFAULT, for every
    architecture a study can load ImageNet weights into."""
    from torchvision.models import get_model_weights

    for (arch, version), entry in WEIGHTS.items():
        weights = get_model_weights(arch)[version]
        assert weights.url == entry.url and weights.meta["_file_size"] == pytest.approx(entry.mib)
    for arch in RESNETS:
        assert weights_file(arch, "DEFAULT").version == get_model_weights(arch).DEFAULT.name == DEFAULT[arch]
    with pytest.raises(ValueError, match="no IMAGENET1K_V2 weights for 'resnet18'"):
        weights_file("resnet18", "IMAGENET1K_V2")


def test_the_cache_directory_is_torch_hub_s(monkeypatch, tmp_path):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub_checkpoints_dir() == tmp_path / "th" / "hub" / "checkpoints"
    assert str(hub_checkpoints_dir()) == torch.hub.get_dir() + "/checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert str(hub_checkpoints_dir()) == torch.hub.get_dir() + "/checkpoints"


def test_every_dataset_file_has_a_size():
    assert all(remote.size for spec in DATASETS.values() for remote in spec.files)
    assert {r.filename: r.size for r in DATASETS["stl10"].files} == {"stl10_binary.tar.gz": 2640397119}


def test_stl10_transfer_lists_its_archive_and_resnet50_weights_with_size_and_cache_state(tmp_path):
    config, study = loaded("stl10_transfer")
    env = {**OFFLINE, "TORCH_HOME": str(tmp_path / "empty")}
    items = {item["filename"]: item for item in with_state(fetch_items(study, config), env)}
    archive, weights = items["stl10_binary.tar.gz"], items["resnet50-0676ba61.pth"]  # the study's V1
    assert archive["size"] == 2640397119 and archive["state"] == "offline"
    assert weights["what"] == "resnet50 IMAGENET1K_V1" and weights["size"] == 102531072
    assert weights["state"] == "offline" and weights["dest"] == str(
        tmp_path / "empty/hub/checkpoints" / weights["filename"]
    )
    lines = problems(list(items.values()))
    assert any(
        "resnet50-0676ba61.pth" in line and "download.pytorch.org cannot be reached" in line for line in lines
    )
    text = fetch_markdown(list(items.values()), 3 * 10**9)
    assert "| `stl10_binary.tar.gz` | stl10 | 2.64 GB |" in text and "To download: **2.74 GB**" in text
    # The weights placed in the cache: present, nothing left to say about them.
    cache = tmp_path / "empty" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "resnet50-0676ba61.pth").write_bytes(b"weights")
    again = {item["filename"]: item for item in with_state(fetch_items(study, config), env)}
    assert again["resnet50-0676ba61.pth"]["state"] == "present"
    assert not any("resnet50" in line for line in problems(list(again.values())))


def test_a_kaggle_file_is_named_with_what_to_do_and_a_source_dir_copy_is_found(tmp_path):
    study = {
        "subsets": {
            "a": {"dataset": "dogs_vs_cats", "split": "train", "size": 1000},
            "b": {"dataset": "dogs_vs_cats", "split": "train", "size": 50, "exclude": ["a"]},
        },
        "runs": {"r": {"train": "a", "test": "b"}},
    }
    config = repo_config(studies=["mine"], inline_studies={"mine": study})
    settings, studies = load_config(config, REPO / "studies")
    (item,) = with_state(fetch_items(studies["mine"], settings), OFFLINE)
    assert item["state"] == "manual" and item["url"] is None
    (line,) = problems([item])
    assert re.search(r"train\.zip \(dogs_vs_cats\) cannot be downloaded automatically .*kaggle.*login", line)
    assert "datasets.dogs_vs_cats.source_dir" in line
    (tmp_path / "train.zip").write_bytes(b"zip")
    config["datasets"] = {"dogs_vs_cats": {"source_dir": str(tmp_path)}}
    settings, studies = load_config(config, REPO / "studies")
    (found,) = with_state(fetch_items(studies["mine"], settings), OFFLINE)
    assert found["state"] == "found" and found["path"] == str(tmp_path / "train.zip")
    assert "found locally" in fetch_lines([found])[0]


def test_a_present_download_needs_nothing(tmp_path, monkeypatch):
    """The data directory's copy (written only once verified) counts as present."""
    config, study = loaded("embedded")
    monkeypatch.chdir(tmp_path)
    for item in fetch_items(study, config):
        (tmp_path / item["dest"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / item["dest"]).write_bytes(b"x")
    items = with_state(fetch_items(study, config), OFFLINE)
    assert {item["state"] for item in items} == {"present"} and problems(items) == []
    assert fetch_lines(items)[-1] == "- to download: 0 B"


def test_a_rehearsal_names_absent_weights_while_offline_in_its_first_lines(tmp_path, monkeypatch):
    """The rehearsal's report job (workflow/scripts/report.py) for stl10_transfer with an empty
    TORCH_HOME on a machine taken offline: REPORT.md's second line names the study and the
    ResNet-50 weights file with what to do; the fetch section lists both files with sizes."""
    import report

    from cvrepro.data.datasets.registry import dataset_options
    from cvrepro.data.datasets.synthetic import prepared_shape
    from cvrepro.report.cost.plan import work_plan
    from cvrepro.report.study_report import StudyText

    config, study = loaded("stl10_transfer", rehearsal=True)
    sides = {d: prepared_shape(d, dataset_options(config, d)) for d in DATASETS}
    machine = {"threads": 1, "device": "cpu", "precision": "auto", "cores": 2, "gpus": None, "gpu": None}
    plan = work_plan(study, sides, config, machine)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("CVREPRO_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    text = report.main(StudyText("stl10_transfer", "", {}, [], []), {}, {}, tmp_path / "REPORT.md", plan)
    lines = text.splitlines()
    assert lines[0] == "# Rehearsal of study `stl10_transfer`"
    warnings = [line for line in lines[1:6] if line.startswith("> **stl10_transfer:")]
    assert any("resnet50-0676ba61.pth" in line and str(tmp_path / "empty") in line for line in warnings)
    assert any("stl10_binary.tar.gz" in line for line in warnings)
    fetch = text.split("## What the real run will fetch")[1].split("## What the real run will cost")[0]
    assert "| `resnet50-0676ba61.pth` | resnet50 IMAGENET1K_V1 | 103 MB |" in fetch
    assert "| `stl10_binary.tar.gz` | stl10 | 2.64 GB |" in fetch
    assert "| **all** |" in text


def test_a_figures_own_imagenet_weights_are_listed_too():
    """S2 fine-tunes from resnet18's weights and draws activation maps of torchvision's ImageNet
    ResNet-50 (the figure's `imagenet: {arch, weights}`): both files are on its list."""
    config, study = loaded("cifar10_transfer")
    weights = {item["filename"] for item in fetch_items(study, config) if item["kind"] == "weights"}
    assert weights == {
        weights_file("resnet18", "DEFAULT").filename,
        weights_file("resnet50", "IMAGENET1K_V1").filename,
    }
