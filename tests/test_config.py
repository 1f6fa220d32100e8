"""The configuration: every error is one line naming the key, raised before any job."""

from __future__ import annotations

import copy
import re

import pytest

from conftest import REPO, TINY_STUDY, run_snakemake, tiny_config
from cvrepro.config import ConfigError, deep_merge, load_config, resolve_study, subsets_disjoint


def load(config: dict):
    return load_config(config, REPO / "studies")


def study_with(**changes) -> dict:
    study = copy.deepcopy(TINY_STUDY)
    for dotted, value in changes.items():
        node = study
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return study


DELETE = object()


def error_for(study: dict) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study, "studies/tiny.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_default_config_is_valid_and_filled_with_defaults():
    import yaml

    config, studies = load(yaml.safe_load((REPO / "config.yaml").read_text()))
    assert list(studies) == ["embedded"]
    run = studies["embedded"].runs["scratch_1k"]
    assert run["optimizer"]["betas"] == [0.9, 0.999]  # schema default filled in
    assert run["val"] == "val_1k"  # run_defaults merged
    assert config["device"] == "auto"


def test_tiny_study_is_valid():
    _, studies = load(tiny_config())
    assert set(studies["tiny"].runs) == {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"runs__a__lr": 0.1}, "runs.a: Additional properties are not allowed ('lr' was unexpected)"),
        ({"runs__a__epochs": "three"}, "runs.a.epochs: 'three' is not of type 'integer'"),
        ({"run_defaults__optimizer__name": "lbfgs"}, "optimizer.name: 'lbfgs' is not one of"),
        ({"subsets__val__dataset": "imagenet22k"}, "subsets.val.dataset: unknown dataset 'imagenet22k'"),
        ({"subsets__val__split": "validation"}, "subsets.val.split: fashion_mnist has no split 'validation'"),
        ({"runs__a__train": "nope"}, "runs.a.train: no subset named 'nope'"),
        ({"subsets__small__within": "nope"}, "subsets.small.within: no subset named 'nope'"),
        ({"tables__t__runs": ["a", "zzz"]}, "tables.t.runs: no run named 'zzz'"),
        ({"figures__curves__runs": ["zzz"]}, "figures.curves.runs: no run named 'zzz'"),
        # a near miss gets the closest defined name (difflib), then the list
        (
            {"runs__a__train": "smal"},
            "runs.a.train: no subset named 'smal'; did you mean 'small'?; defined: val, big",
        ),
        (
            {"tables__t__probes": ["svm_ss1"]},
            "tables.t.probes: no probe named 'svm_ss1'; did you mean 'svm_ssl'?",
        ),
        (
            {"runs__a__init": "ghost"},
            "runs.a.init: expected 'scratch', 'imagenet' or a run or pretraining of this study, got 'ghost'",
        ),
        (
            {"subsets__val__size": 70000},
            "subsets.val.size: 70000 images requested but fashion_mnist/train has only 60000",
        ),
        (
            {"subsets__small__size": 401},
            "subsets.small.size: 401 images requested but subset 'big' has only 400",
        ),
        ({"subsets__big__size": 59900}, "has only 59800 available after exclusions"),
        ({"runs__a__val": "small"}, "runs.a.val: subset 'small' may overlap the training subset 'small'"),
        ({"subsets__big__exclude": []}, "runs.a.val: subset 'val' may overlap the training subset 'small'"),
        ({"subsets__test__classes": 5}, "runs.a.test: subset 'test' has 5 classes, the training subset 10"),
        (
            {"tables__t__reported": {"b": {"trained_params": 5}}},
            "tables.t.reported.b.trained_params: not a column",
        ),
        (
            {"tables__t__reported": {"zzz": {"test_acc": 0.5}}},
            "tables.t.reported.zzz: not a row of this table",
        ),
        (
            {"runs__a__augment": {"name": "crop_flip", "rotation": 10}},
            "runs.a.augment: augmentation 'crop_flip' has no parameter 'rotation'",
        ),
        (
            {"runs__a__augment": "mixup"},
            "runs.a.augment: 'mixup' is not valid under any of the given schemas",
        ),
        (
            {"runs__a__init": "imagenet"},
            "runs.a.init: imagenet weights need a ResNet with stem: imagenet and width 64",
        ),
        # set in run_defaults, a rule between keys is the merged run's (its model is each run's)
        (
            {"run_defaults__init": "imagenet"},
            "runs.b.init: imagenet weights need a ResNet with stem: imagenet and width 64 (or null), not "
            "resnet18 stem cifar width 4, got 'imagenet'",
        ),
        (
            {"runs__a__early_stopping": {"metric": "val_loss"}, "runs__a__val": None},
            "runs.a.early_stopping.metric: val_loss needs a `val` subset",
        ),
        (
            {"pretrain__ssl__model": {"width": 4, "embedding_dim": 8}},
            "pretrain.ssl.model.embedding_dim: only convbn_encoder has it, not resnet18, got 8",
        ),
        ({"probes__pix__layer": "layer3"}, "probes.pix.layer: raw pixels have no layers, got 'layer3'"),
        (
            {"runs__a__model": {"arch": "vit"}},
            "runs.a.model.arch: unknown architecture 'vit'; did you mean maxvit_t, vit_b_16",
        ),
        ({"runs__a__preset": "fast"}, "runs.a.preset: no preset named 'fast'; defined: none"),
        (
            {"shift_sets__c__source": "cifar10_c"},
            "shift_sets.c.source: cifar10_c corrupts cifar10/test, but subset 'test' is fashion_mnist/test",
        ),
        (
            {"shift_sets__c__corruptions": ["spatter"]},
            "shift_sets.c.corruptions: unknown corruption 'spatter' for source generated",
        ),
        ({"tables__bn__modes": ["eval", "magic"]}, "tables.bn.modes.1: 'magic' is not one of"),
        (
            {"tables__bn__reported": {"3": {"eval:b": 0.1}}},
            "tables.bn.reported.3: not a row of this table (4, 64)",
        ),
        (
            {"tables__bn__reported": {"4": {"eval:a": 0.1}}},
            "tables.bn.reported.4.eval:a: not a column of this table",
        ),
        ({"tables__bn__sweep": "nope"}, "tables.bn.sweep: no BN sweep named 'nope'"),
        (
            {"tables__t__test": "small"},
            "tables.t.test: subset 'small' may overlap the training subset of 'a'",
        ),
        ({"tables__ssl__pretrain": ["zzz"]}, "tables.ssl.pretrain: no pretraining named 'zzz'"),
        ({"figures__acts__runs": ["a", "b"]}, "figures.acts.runs: activations draws 1 run, got ['a', 'b']"),
        ({"figures__acts__layers": []}, "figures.acts.layers: required for kind activations"),
        ({"figures__curves__runs": ["pix"]}, "figures.curves.runs: no run named 'pix'"),
        (
            {"figures__x": {"kind": "tsne", "subset": "test"}},
            "figures.x.features: required for kind tsne, got None",
        ),
        ({"figures__x": {"kind": "step_loss"}}, "figures.x.runs: required for kind step_loss, got []"),
        ({"figures__x": {"caption": "no kind"}}, "figures.x: 'kind' is a required property"),
        ({"tables__t__sweep": "bn"}, "tables.t.sweep: only used by kind sweep, got 'bn'"),
        ({"tables__bn__sweep": None}, "tables.bn.sweep: required for kind sweep, got None"),
        ({"probes__pix__train": None}, "probes.pix.train: required for kind softmax"),
        # Keys only some kinds use, refused by the schema's if/then.
        ({"probes__pix__class_map": "x"}, "probes.pix.class_map: only used by kind zero_shot, got 'x'"),
        ({"probes__pix__val": "val"}, "probes.pix.val: only used by solver minibatch_gd, got 'val'"),
        # Moved from the Python checks to the schema (issue 35): the key is still named.
        (
            {
                "probes__z": {
                    "kind": "zero_shot",
                    "features": "imagenet_resnet18",
                    "layer": "fc",
                    "test": "test",
                }
            },
            "probes.z.class_map: required for kind zero_shot; available: imagenet_to_stl10",
        ),
        ({"tables__x": {}}, "tables.x: needs at least one of `runs`, `pretrain`, `probes`"),
        (
            {"tables__t__runs": [], "tables__t__probes": []},
            "tables.t: needs at least one of `runs`, `pretrain`",
        ),
        (
            {"figures__acts__imagenet": {"arch": "resnet18"}},
            "figures.acts: kind activations needs exactly one of runs, imagenet",
        ),
        ({"figures__acts__runs": []}, "figures.acts: kind activations needs exactly one of runs, imagenet"),
        ({"runs__scratch": {"train": "small"}}, "runs.scratch: 'scratch' is reserved"),
        (
            {"runs__a__batch_size": 5000},
            "runs.a.batch_size: 5000 is larger than subset 'small' (200 images), so an epoch would be "
            "one batch of 200 (1 optimizer step, 1 in all); set batch_size to at most 200",
        ),
    ],
)
def test_config_errors_name_the_key(changes, expected):
    assert expected in error_for(study_with(**changes))


def test_presets_merge_between_run_defaults_and_the_run():
    study = study_with(
        presets={"adam": {"optimizer": {"name": "adam", "lr": 0.001}, "epochs": 7}},
        runs__a__preset="adam",
        runs__b__preset=["adam"],
        runs__b__optimizer={"lr": 0.5},
    )
    runs = resolve_study("tiny", study, "s.yaml").runs
    assert runs["a"]["optimizer"]["name"] == "adam" and runs["a"]["epochs"] == 7
    assert runs["b"]["optimizer"] == {**runs["a"]["optimizer"], "lr": 0.5}  # the run's own value wins
    assert runs["c"]["optimizer"]["name"] == "sgd" and runs["c"]["epochs"] == 1  # run_defaults only


def test_cycle_in_run_initialisation_is_reported_with_its_path():
    study = study_with(runs__a__init="b", runs__b__init="a")
    assert "cycle in init: a -> b -> a" in error_for(study)


def test_cycle_in_subsets_is_reported():
    study = study_with(subsets__big__within="small")
    assert "cycle in within/exclude" in error_for(study)


@pytest.mark.parametrize("name", ["../escape", "a b", "-x", "run/1", ""])
def test_unsafe_run_names_are_rejected(name):
    study = copy.deepcopy(TINY_STUDY)
    study["runs"][name] = {"train": "small"}
    assert f"runs.{name}: {name!r} is not a safe file name" in error_for(study)


@pytest.mark.parametrize(
    "section, entry",
    [
        ("subsets", {"dataset": "fashion_mnist", "split": "test"}),
        ("pretrain", {"method": "simclr", "data": "big"}),
        ("probes", {"kind": "knn", "features": "pixels", "train": "small", "test": "test"}),
        ("shift_sets", {"subset": "test"}),
        ("bn_sweeps", {"runs": ["b"], "shift_set": "c"}),
        ("tables", {"runs": ["a"]}),
        ("figures", {"kind": "samples", "subset": "test"}),
    ],
)
def test_every_section_refuses_an_unsafe_name_in_one_line_naming_it(section, entry):
    study = copy.deepcopy(TINY_STUDY)
    study.setdefault(section, {})["x/y"] = entry
    assert f"studies/tiny.yaml: {section}.x/y: 'x/y' is not a safe file name (1 to 100" in error_for(study)


def test_init_keywords_are_reserved_for_pretrainings_too():
    study = study_with(pretrain__imagenet={"method": "simclr", "data": "big"})
    assert "pretrain.imagenet: 'imagenet' is reserved (an `init` keyword); rename it" in error_for(study)


def test_a_grid_value_that_makes_an_unsafe_name_is_refused():
    study = study_with(runs__a__grid={"train": ["small", "x/y"]})
    assert "runs.a.grid: 'a.train_x/y' is not a safe file name" in error_for(study)


def test_an_unsafe_study_file_name_is_refused(tmp_path):
    (tmp_path / "bad name.yaml").write_text("subsets: {}\n")
    with pytest.raises(ConfigError, match="bad name.yaml: study name: 'bad name' is not a safe file name"):
        load_config({**tiny_config(), "studies": ["bad name"]}, tmp_path)


def test_top_level_errors():
    with pytest.raises(
        ConfigError, match=r"config: \(top level\): Additional properties are not allowed \('devise'"
    ):
        load({**tiny_config(), "devise": "cpu"})
    with pytest.raises(ConfigError, match="config: studies: no study named 'missing'"):
        load({**tiny_config(), "studies": ["missing"]})
    with pytest.raises(ConfigError, match="config: datasets.mnist: unknown dataset"):
        load({**tiny_config(), "datasets": {"mnist": {}}})
    with pytest.raises(
        ConfigError, match="config: datasets.fashion_mnist.options.image_size: unknown option"
    ):
        load({**tiny_config(), "datasets": {"fashion_mnist": {"options": {"image_size": 32}}}})
    with pytest.raises(ConfigError, match="config: device: 'gpu' is not one of"):
        load({**tiny_config(), "device": "gpu"})
    with pytest.raises(ConfigError, match="config: precision: 'fp8' is not one of"):
        load({**tiny_config(), "precision": "fp8"})


def test_run_defaults_merge_deeply_and_the_run_wins():
    merged = deep_merge({"optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 3}, {"optimizer": {"lr": 0.5}})
    assert merged == {"optimizer": {"name": "sgd", "lr": 0.5}, "epochs": 3}
    study = resolve_study("tiny", study_with(runs__b__optimizer={"lr": 0.2}), "x")
    assert study.runs["b"]["optimizer"] == {**study.runs["a"]["optimizer"], "lr": 0.2}


def test_disjointness_follows_within_and_exclude_chains():
    subsets = resolve_study("tiny", copy.deepcopy(TINY_STUDY), "x").subsets
    assert subsets_disjoint(subsets, "small", "val")  # small lies within big, which excludes val
    assert subsets_disjoint(subsets, "big", "test")  # other split
    assert not subsets_disjoint(subsets, "small", "big")


def test_snakemake_stops_before_any_job_with_one_line(tmp_path):
    config = tiny_config()
    config["inline_studies"]["tiny"]["runs"]["a"]["init"] = "b"
    config["inline_studies"]["tiny"]["runs"]["b"]["init"] = "a"
    result = run_snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    # Snakemake itself may add an info line about --configfile; ours is exactly one line, no traceback.
    ours = [line for line in result.stderr.splitlines() if line.startswith("Config error")]
    assert ours == ["Config error: config: inline_studies.tiny: runs: cycle in init: a -> b -> a"], (
        result.stderr
    )
    # Snakemake's own info lines: the workflow profile (profiles/default) and the --configfile note.
    own = [
        line
        for line in result.stderr.strip().splitlines()
        if not line.startswith("Using workflow specific profile")
    ]
    assert "Traceback" not in result.stderr and len(own) <= 2
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


# --- numbers as users write them -------------------------------------------------------------------

# The README's own grid example, read from it, on a run with a weight decay written 5e-4.
README_GRID = f"""
runs:
  a:
    train: small
    optimizer: {{name: sgd, lr: 0.05, weight_decay: 5e-4}}
    {re.search(r"`(grid: [^`]*)`", (REPO / "README.md").read_text()).group(1)}
"""


def test_numbers_written_1e_3_are_numbers_in_study_files_and_inline_studies(tmp_path):
    """PyYAML reads YAML 1.1, where 1e-3 is a string; wherever the schema expects a number it is
    the number (the README's grid example), in a study file and in config.yaml's inline studies."""
    import yaml

    from cvrepro.config.yamlfile import read_yaml

    study = study_with(runs__a=yaml.safe_load(README_GRID)["runs"]["a"], tables__t__reported={})
    assert study["runs"]["a"]["grid"]["optimizer.lr"] == ["1e-3", "1e-2"]  # as PyYAML reads them
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(study).replace("'1e-3'", "1e-3").replace("'1e-2'", "1e-2"))
    assert "1e-3" in path.read_text() and "'1e-3'" not in path.read_text()
    for where, raw in (("study file", read_yaml(path)), ("inline study", copy.deepcopy(study))):
        runs = resolve_study("mine", raw, where).runs
        lrs = sorted(run["optimizer"]["lr"] for name, run in runs.items() if name.startswith("a."))
        assert lrs == [0.001, 0.001, 0.01, 0.01], where
        assert all(
            run["optimizer"]["weight_decay"] == 0.0005 for name, run in runs.items() if name.startswith("a.")
        )
    config = {**tiny_config(), "inline_studies": {"tiny": study}}
    _, studies = load(config)
    assert {run["optimizer"]["lr"] for run in studies["tiny"].runs.values()} >= {0.001, 0.01}
    upper = resolve_study("tiny", study_with(runs__a__optimizer={"name": "sgd", "lr": "1E-3"}), "s")
    assert upper.runs["a"]["optimizer"]["lr"] == 0.001
    # a string that is not a number still fails, naming the key
    assert "optimizer.lr: 'fast' is not of type 'number'" in error_for(
        study_with(runs__a__optimizer={"lr": "fast"})
    )


def test_run_defaults_and_presets_are_checked_where_they_are_written():
    """A typo in run_defaults is named there with the closest key; a bad value there is an error
    even when every run overrides it; presets likewise."""
    all_override = {name: {**run, "epochs": 1} for name, run in TINY_STUDY["runs"].items()}
    message = error_for(study_with(run_defaults__epoch=3))
    assert message == "studies/tiny.yaml: run_defaults.epoch: not a run setting; did you mean 'epochs'?"
    message = error_for(study_with(run_defaults__epochs="x", runs=all_override))
    assert message == "studies/tiny.yaml: run_defaults.epochs: 'x' is not of type 'integer'"
    message = error_for(study_with(presets={"fast": {"optimiser": {"lr": 0.1}}}))
    assert (
        message == "studies/tiny.yaml: presets.fast.optimiser: not a run setting; did you mean 'optimizer'?"
    )
    # partial settings are fine: required keys and the rest come from elsewhere
    resolve_study("tiny", study_with(presets={"fast": {"optimizer": {"lr": 0.1}}}), "studies/tiny.yaml")
    # a run's own unknown key gets the suggestion too
    assert (
        "runs.a: Additional properties are not allowed ('epoch' was unexpected); did you mean 'epochs'?"
        in (error_for(study_with(runs__a__epoch=3)))
    )
