"""A strict configuration (issue 17): non-finite numbers, duplicate keys, alias bombs, Python tags,
real integers and seeds, layer/stage/class names, subset sizes with exclusions, safe names,
broken study files and the studies selector each end in one line naming the file and key,
before any job; weights and metrics are never written with NaN in them; nothing in the tree
deserialises with pickle or unsafe YAML."""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from conftest import (
    REPO,
    SNAKEMAKE,
    TINY_STUDY,
    needs_fashion_mnist,
    planned_jobs,
    run_snakemake,
    tiny_config,
)
from cvrepro.config import ConfigError, load_config, resolve_study
from cvrepro.config.expand import SEED_MAX
from cvrepro.config.yamlfile import read_yaml
from cvrepro.data.datasets.registry import class_problem, corruption_names, settings_problem
from cvrepro.data.subsets import draw_subset
from cvrepro.evaluate.per_class import reported_problem
from cvrepro.nets.checkpoint import save_checkpoint
from cvrepro.nets.model_checks import layer_problem
from cvrepro.nets.models import build_model
from cvrepro.study.jsonio import write_json
from cvrepro.study.names import ARCHS, CHILDREN, RESNET_BLOCKS


def one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message, message
    return message


def study_error(study: dict) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study, "studies/tiny.yaml")
    return one_line(info)


def tiny(**changes) -> dict:
    """TINY_STUDY with dotted-path changes: tiny(**{"runs.a.epochs": 2.0})."""
    study = copy.deepcopy(TINY_STUDY)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = study
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return study


def config_error(config: dict, study_dir: Path = REPO / "studies") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(config, study_dir)
    return one_line(info)


def study_dir_with(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "studies"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text))
    return directory


def only(name: str) -> dict:
    return {"studies": [name], "device": "cpu"}


# --- 1. NaN and infinity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"runs.a.optimizer": {"lr": math.nan}}, "runs.a.optimizer.lr"),
        ({"run_defaults.optimizer": {"name": "sgd", "lr": math.inf}}, "run_defaults.optimizer.lr"),
        ({"tables.t.reported": {"a": {"test_acc": -math.inf}}}, "tables.t.reported.a.test_acc"),
    ],
)
def test_non_finite_numbers_are_rejected_naming_the_key(changes, key):
    assert f"studies/tiny.yaml: {key}: " in study_error(tiny(**changes))
    assert "is not a finite number" in study_error(tiny(**changes))


def test_nan_written_in_a_study_file_is_rejected(tmp_path):
    study = yaml.safe_dump(TINY_STUDY).replace("lr: 0.05", "lr: .nan")
    directory = study_dir_with(tmp_path, nanlr=study)
    message = config_error(only("nanlr"), directory)
    assert message == f"{directory / 'nanlr.yaml'}: run_defaults.optimizer.lr: nan is not a finite number"


def test_non_finite_top_level_values_are_rejected():
    assert "config: threads: inf is not a finite number" in config_error(
        {**tiny_config(), "threads": math.inf}
    )


def test_save_checkpoint_refuses_non_finite_weights(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[1].running_var[1] = math.inf
    with pytest.raises(ValueError) as info:
        save_checkpoint(tmp_path / "model.pt", model, arch={})
    assert (
        one_line(info)
        == f"{tmp_path / 'model.pt'}: tensor '1.running_var' has 1 non-finite value(s) (NaN or inf); not saved"
    )
    assert list(tmp_path.iterdir()) == []
    model[1].running_var.fill_(1.0)
    save_checkpoint(tmp_path / "model.pt", model, arch={})  # integer buffers (num_batches_tracked) pass
    assert (tmp_path / "model.pt").exists()


def test_write_json_refuses_nan_and_writes_strict_json(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(ValueError) as info:
        write_json(path, {"roc": {"per_class": {}, "macro_auc": math.nan}})
    assert one_line(info) == f"{path}: roc.macro_auc is nan; JSON has no NaN or infinity, nothing written"
    assert not path.exists()
    write_json(path, {"acc": 0.5, "history": [1.0, 2]})

    def no_constants(name):
        raise AssertionError(f"{name} in JSON")

    assert json.loads(path.read_text(), parse_constant=no_constants) == {"acc": 0.5, "history": [1.0, 2]}


def test_a_training_job_refuses_a_non_finite_metric_before_writing_metrics_json(tmp_path):
    """train.py and pretrain.py write their files through save_model_files: a NaN in the metrics
    stops it with the key's name, and no metrics.json is left that other readers would reject."""
    from torch import nn

    from cvrepro.nets.checkpoint import ModelFiles, save_model_files

    out = ModelFiles(tmp_path / "model.pt", tmp_path / "history.csv", tmp_path / "metrics.json")
    metrics = {"recipe": {"seed": 0}, "provenance": {}, "scores": {"val_loss": float("nan")}}
    with pytest.raises(ValueError, match="scores.val_loss"):
        save_model_files(out, nn.Linear(2, 2), {"arch": "x"}, {}, ["a", "b"], [], metrics, [])
    assert not out.metrics.exists()


# --- 2. source_dir -------------------------------------------------------------------------------------


def test_source_dir_must_exist(tmp_path):
    missing = tmp_path / "nowhere"
    config = {**tiny_config(), "datasets": {"fashion_mnist": {"source_dir": str(missing)}}}
    assert config_error(config).startswith(
        f"config: datasets.fashion_mnist.source_dir: {str(missing)!r} is not a directory"
    )
    (tmp_path / "afile").write_text("")
    config["datasets"]["fashion_mnist"]["source_dir"] = str(tmp_path / "afile")
    assert "is not a directory" in config_error(config)


@pytest.mark.workflow
@needs_fashion_mnist
def test_changing_source_dir_of_a_finished_data_stage_schedules_nothing_more(tmp_path):
    """Snakemake reruns a job whose params changed: where the originals were found is not one."""
    first, second = tmp_path / "source_a", tmp_path / "source_b"
    first.mkdir()
    second.mkdir()
    work = tmp_path / "work"

    def config(source: Path) -> dict:
        return {**tiny_config(), "datasets": {"fashion_mnist": {"source_dir": str(source)}}}

    done = run_snakemake(work, config(first), "--cores", "1", "resources/prepared/fashion_mnist")
    assert done.returncode == 0, done.stderr[-3000:]
    before = planned_jobs(run_snakemake(work, config(first), "-n"))
    after = run_snakemake(work, config(second), "-n")
    assert after.returncode == 0, after.stderr[-3000:]
    assert "download" not in before and "prepare" not in before
    assert planned_jobs(after) == before
    assert planned_jobs(run_snakemake(work, config(second), "-n", "resources/prepared/fashion_mnist")) == {}


# --- 3. duplicate keys -------------------------------------------------------------------------------


def test_duplicate_keys_in_a_study_file_name_the_key_and_both_lines(tmp_path):
    directory = study_dir_with(
        tmp_path,
        dup="""\
        description: x
        runs:
          a:
            epochs: 1
            train: small
            epochs: 3
        """,
    )
    message = config_error(only("dup"), directory)
    assert message == f"{directory / 'dup.yaml'}: duplicate key 'epochs' at lines 4 and 6"


def test_merge_keys_may_override_what_they_merge(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &base {lr: 0.1, name: sgd}\nrun:\n  <<: *base\n  lr: 0.5\n")
    assert read_yaml(path)["run"] == {"lr": 0.5, "name": "sgd"}


# --- 4. alias bombs and long values ----------------------------------------------------------------


def bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\ndescription: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_quickly_naming_the_file(tmp_path):
    directory = study_dir_with(tmp_path, boom=bomb(6, 10))  # ~10**6 values once expanded
    start = time.perf_counter()
    message = config_error(only("boom"), directory)
    assert message == (
        f"{directory / 'boom.yaml'}: a4: more than 100,000 values once aliases are expanded (an alias bomb?)"
    )
    assert time.perf_counter() - start < 2


def test_a_billion_laughs_neither_hangs_nor_fills_memory(tmp_path):
    """The real thing, in a child process limited to 3 GB and 60 s in case the cap is ever lost."""
    directory = study_dir_with(tmp_path, laughs=bomb(10, 9))  # 9**9 * 9 strings expanded
    program = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        sys.path.insert(0, {str(REPO / "workflow" / "scripts")!r})
        from cvrepro.config import ConfigError, load_config
        try:
            load_config({{"studies": ["laughs"]}}, {str(directory)!r})
        except ConfigError as error:
            print(error)
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().endswith("(an alias bomb?)"), result.stderr[-2000:]


def test_a_recursive_alias_is_refused(tmp_path):
    directory = study_dir_with(tmp_path, loop="description: x\nruns: &r {a: *r}\n")
    assert "contains itself (a recursive alias)" in config_error(only("loop"), directory)


def test_schema_errors_about_long_values_do_not_quote_them():
    message = study_error(tiny(description=["word"] * 5000))
    assert message == "studies/tiny.yaml: description: a list of 5000 items fails type: 'string'"
    message = study_error(tiny(**{"runs.a.train": "x" * 100_000}))
    assert len(message) <= 600 and message.endswith("...")


# --- 5. integers and seeds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"runs.a.epochs": 2.0}, "runs.a.epochs: 2.0 is not of type 'integer'"),
        ({"run_defaults.batch_size": True}, "batch_size: True is not of type 'integer'"),
        (
            {"subsets.val.seed": 2**70},
            "subsets.val.seed: 1180591620717411303424 is greater than the maximum of 4294967295",
        ),
        ({"runs.a.seed": -1}, "runs.a.seed: -1 is less than the minimum of 0"),
        ({"figures.samples.seed": 2**32}, "figures.samples.seed: 4294967296 is greater than the maximum"),
    ],
)
def test_integers_are_ints_and_seeds_fit_every_library(changes, expected):
    assert expected in study_error(tiny(**changes))


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"run_defaults.model.width": 10**12},
            "model.width: 1000000000000 is greater than the maximum of 4096",
        ),
        (
            {"runs.a.batch_size": 2**70},
            "runs.a.batch_size: 1180591620717411303424 is greater than the maximum of 1048576",
        ),
        ({"runs.a.epochs": 10**15}, "runs.a.epochs: 1000000000000000 is greater than the maximum of 100000"),
        ({"runs.a.steps": 10**12}, "runs.a.steps: 1000000000000 is greater than the maximum of 1000000000"),
        (
            {"pretrain.ssl.batch_size": 2**21},
            "pretrain.ssl.batch_size: 2097152 is greater than the maximum of 1048576",
        ),
        ({"subsets.val.size": 10**9}, "subsets.val.size: 1000000000 is greater than the maximum of 10000000"),
    ],
)
def test_sizes_have_bounds_no_real_recipe_reaches(changes, expected):
    """Refused at config time in one line, not accepted to fail or run forever at job time."""
    assert expected in study_error(tiny(**changes))


@pytest.mark.parametrize("section, name", [("runs", "a"), ("pretrain", "ssl"), ("probes", "pix")])
def test_a_replicate_seed_past_the_range_is_an_error(section, name):
    """Replicate k has seed + k: checked where expansion makes it, for every section, not only as
    written (the schema's maximum); the largest seed itself is fine."""
    resolve_study("tiny", tiny(**{f"{section}.{name}.seed": SEED_MAX}), "studies/tiny.yaml")
    message = study_error(tiny(**{f"{section}.{name}.seed": SEED_MAX, f"{section}.{name}.repeats": 2}))
    assert message.startswith(
        f"studies/tiny.yaml: {section}.{name}.seed: 4294967296 (seed + replicate index) is outside"
    )


def test_integer_top_level_values_must_be_ints():
    assert "config: threads: 2.0 is not of type 'integer'" in config_error({**tiny_config(), "threads": 2.0})


# --- 5. layer, stage and class names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"probes.knn_b_layer3.layer": "layer5"},
            "probes.knn_b_layer3.layer: resnet18 has no layer 'layer5'; choose penultimate, conv1,",
        ),
        (
            {"probes.knn_b_layer3.layer": "layer4.2"},
            "probes.knn_b_layer3.layer: resnet18 has no layer 'layer4.2'; layer4 has blocks layer4.0 .. layer4.1",
        ),
        (
            {"probes.svm_ssl.layer": "encoder"},
            "probes.svm_ssl.layer: resnet18 has no layer 'encoder'",
        ),
        ({"figures.acts.layers": ["layer1", "layr4"]}, "figures.acts.layers: resnet18 has no layer 'layr4'"),
        (
            {"figures.acts.layers": ["penultimate"]},
            "figures.acts.layers: resnet18 has no layer 'penultimate'",
        ),
        (
            {"runs.a.freeze": {"stages": ["layer7"]}},
            "runs.a.freeze.stages: resnet18 has no top-level child 'layer7'",
        ),
        (
            {"runs.a.freeze": {"children": 11}},
            "runs.a.freeze.children: 11 > the 10 top-level children of resnet18",
        ),
        (
            {"figures.acts.classes": ["Bag", "Dog"]},
            "figures.acts.classes: fashion_mnist has no class 'Dog' in this subset; classes: T-shirt/top,",
        ),
    ],
)
def test_names_a_model_or_dataset_defines_are_checked_at_load(changes, expected):
    assert expected in study_error(tiny(**changes))


def test_valid_nested_layer_names_pass():
    study = tiny(**{"probes.knn_b_layer3.layer": "layer4.1.conv2", "figures.acts.layers": ["layer1.0", "fc"]})
    resolve_study("tiny", study, "studies/tiny.yaml")


def test_a_class_outside_the_subsets_first_classes_is_refused():
    few = {"dataset": "fashion_mnist", "split": "test", "size": 50, "classes": 5}
    study = tiny(**{"subsets.few": few, "figures.acts.subset": "few", "figures.acts.classes": ["Bag"]})
    assert "figures.acts.classes: fashion_mnist has no class 'Bag' in this subset" in study_error(
        study
    )  # class 8


@pytest.mark.parametrize("arch", ARCHS)
def test_the_layer_table_is_what_build_model_builds(arch):
    head = {"kind": "mlp", "dropout": 0.1, "hidden": 8}
    spec = {"arch": arch, "width": 8, "stem": "cifar", "head": head, "in_channels": 3, "num_classes": 10}
    spec["embedding_dim"] = None  # convbn_encoder's optional second linear layer
    model = build_model({**spec, "image_size": 32})
    assert tuple(name for name, _ in model.named_children()) == CHILDREN[arch]
    if arch in RESNET_BLOCKS:
        assert tuple(len(getattr(model, f"layer{i}")) for i in range(1, 5)) == RESNET_BLOCKS[arch]


# --- 5. subset sizes ---------------------------------------------------------------------------------


def test_exclusions_count_when_within_is_set():
    # rest: within big (400) minus small (200, drawn within big) leaves 200 images.
    rest = {"dataset": "fashion_mnist", "split": "train", "within": "big", "exclude": ["small"]}
    message = study_error(tiny(**{"subsets.rest": {**rest, "size": 300}}))
    assert (
        "subsets.rest.size: 300 images requested but subset 'big' has only 200 available after exclusions"
        in message
    )
    resolve_study("tiny", tiny(**{"subsets.rest": {**rest, "size": 200}}), "x")
    # val lies outside big (big excludes it): excluding it takes nothing from big.
    resolve_study("tiny", tiny(**{"subsets.rest": {**rest, "exclude": ["small", "val"], "size": 200}}), "x")


def test_a_subset_with_nothing_left_is_a_config_error():
    empty = {"dataset": "fashion_mnist", "split": "train", "within": "small", "exclude": ["small"]}
    assert "subsets.empty: no images left in subset 'small' after exclusions" in study_error(
        tiny(**{"subsets.empty": empty})
    )


def test_drawing_from_an_empty_pool_is_one_line():
    labels = np.arange(20) % 4
    with pytest.raises(ValueError) as info:
        draw_subset(labels, None, 0, within=np.arange(5), exclude=[np.arange(5)])
    assert "no images to draw from" in one_line(info)


# --- 5. names, study files, the studies selector ---------------------------------------------------


@pytest.mark.parametrize("name", ["a\n", "x" * 101, "ok\nmore"])
def test_unsafe_names_trailing_newlines_and_long_names_are_refused(name):
    study = tiny()
    study["runs"][name] = {"train": "small"}
    assert "is not a safe file name" in study_error(study)


def test_a_name_of_100_characters_is_fine():
    study = tiny()
    study["runs"]["x" * 100] = {"train": "small"}
    resolve_study("tiny", study, "x")


def test_broken_study_files_name_themselves_and_block_no_other_study(tmp_path):
    good = yaml.safe_dump(TINY_STUDY)
    directory = study_dir_with(tmp_path, good=good)
    (directory / "folder.yaml").mkdir()
    (directory / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (directory / "latin1.yaml").write_bytes("description: caf\xe9\n".encode("latin-1"))
    (directory / ".#good.yaml").symlink_to("user@host.1234")  # an editor's lock file
    _, studies = load_config(only("good"), directory)
    assert list(studies) == ["good"]
    assert (
        config_error(only("folder"), directory)
        == f"{directory / 'folder.yaml'}: not a regular file (a directory?)"
    )
    assert config_error(only("dangling"), directory) == (
        f"{directory / 'dangling.yaml'}: cannot be read: a dangling symbolic link"
    )
    assert config_error(only("latin1"), directory) == (
        f"{directory / 'latin1.yaml'}: not UTF-8 text (byte 0xe9 at offset 16)"
    )
    assert config_error({"studies": "all"}, directory).startswith(f"{directory / 'dangling.yaml'}: ")


def test_python_tags_in_a_study_file_are_named(tmp_path):
    directory = study_dir_with(tmp_path, tagged='description: !!python/object/apply:os.system ["true"]\n')
    assert config_error(only("tagged"), directory) == (
        f"{directory / 'tagged.yaml'}: line 1: tag !!python/object/apply:os.system is not allowed: "
        "only plain YAML data (no Python objects)"
    )


def test_studies_must_be_a_list_or_all():
    expected = (
        """config: studies: expected a list of study names (--config 'studies=[a,b]') or "all", got 'h'"""
    )
    assert config_error({**tiny_config(), "studies": "h"}) == expected


def test_python_tag_in_config_yaml_is_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / "payload-ran"
    (tmp_path / "config.yaml").write_text(
        f"studies: [tiny]\nthreads: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    result = subprocess.run(
        [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    ours = [line for line in result.stderr.splitlines() if line.startswith("Config error")]
    assert result.returncode != 0 and ours == [
        "Config error: config.yaml: line 2: tag !!python/object/apply:os.system is not allowed: "
        "only plain YAML data (no Python objects)"
    ], result.stderr
    assert "tab" not in result.stderr and not marker.exists()


def test_a_yte_template_in_config_yaml_is_refused_before_snakemake_runs_it(tmp_path):
    marker = tmp_path / "payload-ran"
    (tmp_path / "config.yaml").write_text(
        f"__use_yte__: true\nstudies: [tiny]\nthreads: ?__import__('os').system('touch {marker}')\n"
    )
    result = subprocess.run(
        [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "Config error: config.yaml: __use_yte__: YTE templates evaluate Python" in result.stderr
    assert not marker.exists()


# --- 6. nothing deserialises with pickle or unsafe YAML ------------------------------------------

# Patterns are written with escapes so that this file does not match itself.
FORBIDDEN = {
    r"\bpickle\.loads?\(": "pickle load",
    r"\b(?:c?[Pp]ickle|_pickle)\.Unpickler\b": "an unrestricted unpickler",
    r"\ballow_pickle\s*=\s*True": "NumPy loading pickles",
    r"\byaml\.(?:load|load_all|full_load|full_load_all|unsafe_load|unsafe_load_all)\(": "non-safe YAML load",
    r"\b(?:Full|Unsafe)Loader\b|\byaml\.Loader\b": "a non-safe YAML loader",
    r"\b(?:read_pickle|joblib\.load|dill\.loads?|marshal\.loads?|shelve\.open)\(": "pickle-like load",
}
UNPICKLER = "workflow/scripts/cvrepro/data/datasets/cifar_pickle.py"  # the restricted one


def code_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        REPO / name
        for name in listed
        if (name.endswith((".py", ".smk")) or name == "Snakefile") and (REPO / name).is_file()
    ]


def torch_loads_without_weights_only(text: str) -> list[str]:
    calls = re.finditer(r"\btorch\.load\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)", text)
    return [call.group(0) for call in calls if not re.search(r"\bweights_only\s*=\s*True\b", call.group(1))]


def test_nothing_deserialises_with_pickle_or_unsafe_yaml():
    found = []
    for path in code_files():
        relative = str(path.relative_to(REPO))
        text = path.read_text(errors="replace")
        for pattern, what in FORBIDDEN.items():
            if relative == UNPICKLER and what in ("pickle load", "an unrestricted unpickler"):
                continue
            found += [f"{relative}: {what}: {m.group(0)}" for m in re.finditer(pattern, text)]
        found += [
            f"{relative}: torch.load without weights_only=True: {c}"
            for c in torch_loads_without_weights_only(text)
        ]
    assert found == []


def test_the_grep_would_find_each_form():
    """The patterns are not vacuous: each catches what it is meant to."""
    samples = {
        "pickle load": "x = pick" + "le.loads(b)",
        "an unrestricted unpickler": "class U(pick" + "le.Unpickler): pass",
        "NumPy loading pickles": "np.load(p, allow_pick" + "le=True)",
        "non-safe YAML load": "ya" + "ml.load(text)",
        "a non-safe YAML loader": "Loader=yaml.Full" + "Loader",
        "pickle-like load": "pd.read_pick" + "le(p)",
    }
    for pattern, what in FORBIDDEN.items():
        assert re.search(pattern, samples[what]), what
    assert torch_loads_without_weights_only("torch" + ".load(open(p, 'rb'), map_location='cpu')")
    assert not torch_loads_without_weights_only(
        "torch" + ".load(f(p), map_location='cpu', weights_only=True)"
    )


# --- rules that left config/ for the stage whose names they check (issue 35) -------------------
# Each still stops the study at load in one line that starts with the file and the exact key,
# and answers at its new home (nets/model_checks, the dataset registry, evaluate/per_class).


PER_CLASS = {"kind": "per_class", "source": "a"}


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"probes.knn_b_layer3.layer": "layer5"}, "probes.knn_b_layer3.layer"),
        ({"figures.acts.layers": ["layer1", "layr4"]}, "figures.acts.layers"),
        ({"figures.acts.classes": ["Dog"]}, "figures.acts.classes"),
        ({"shift_sets.c.corruptions": ["spatter"]}, "shift_sets.c.corruptions"),
        ({"subsets.small.dataset": "imagenet22k"}, "subsets.small.dataset"),
        ({"runs.a.seed": SEED_MAX, "runs.a.repeats": 2}, "runs.a.seed"),
        (
            {"tables.pc": {**PER_CLASS, "reported": {"3": {"precision": 0.5, "recall": 0.9, "f1": 0.57}}}},
            "tables.pc.reported.3",
        ),
        ({"tables.pc": {**PER_CLASS, "reported": {"10": {"f1": 0.5}}}}, "tables.pc.reported.10"),
        (
            {"tables.pc": {**PER_CLASS, "kind": "confusion", "reported": {"3": {"10": 5}}}},
            "tables.pc.reported.3.10",
        ),
    ],
)
def test_a_moved_rule_names_the_key(changes, key):
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", tiny(**changes), "studies/tiny.yaml")
    message = str(info.value)
    assert message.startswith(f"studies/tiny.yaml: {key}: ") and "\n" not in message, message


def test_the_moved_rules_answer_at_their_homes():
    assert layer_problem("resnet18", "penultimate") is None
    assert layer_problem("resnet18", "layer4.1.conv2") is None
    assert "layer4 has blocks layer4.0 .. layer4.1" in layer_problem("resnet18", "layer4.2")
    assert "has no layer 'penultimate'" in layer_problem("resnet18", "penultimate", penultimate=False)
    assert layer_problem("convnet4", "encoder.3") is None and layer_problem("convnet4", "conv1")
    subset = {"dataset": "fashion_mnist", "classes": 5}
    assert class_problem(subset, "Coat") is None and "no class 'Bag'" in class_problem(subset, "Bag")
    # STL-10's class names are known once it is prepared: the job checks them then.
    assert class_problem({"dataset": "stl10", "classes": None}, "anything") is None
    assert "contrast" in corruption_names("generated") and "spatter" in corruption_names("cifar10_c")
    assert "spatter" not in corruption_names("generated")
    good = {"3": {"precision": 0.96, "recall": 0.98, "f1": 0.97}, "macro avg": {"precision": 0.1, "f1": 0.9}}
    assert reported_problem(good, 10, "test", matrix=False) is None
    assert reported_problem({"3": {"9": 1}}, 10, "test", matrix=True) is None
    assert reported_problem({"3": {"10": 1}}, 11, "test", matrix=True) is None  # a zero-shot probe's `other`
    assert reported_problem({"3": {"10": 1}}, 10, "test", matrix=True)[0] == "3.10"


@pytest.mark.parametrize(
    "datasets, key",
    [
        ({"mnist": {}}, "datasets.mnist"),
        ({"fashion_mnist": {"source_dir": "/no/such/dir"}}, "datasets.fashion_mnist.source_dir"),
        ({"fashion_mnist": {"options": {"image_size": 32}}}, "datasets.fashion_mnist.options.image_size"),
    ],
)
def test_a_dataset_setting_names_the_key(datasets, key, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config({**tiny_config(), "datasets": datasets}, tmp_path)
    message = str(info.value)
    assert message.startswith(f"config: {key}: ") and "\n" not in message, message


def test_dataset_settings_answer_beside_the_registry(tmp_path):
    assert settings_problem("stl10", {"source_dir": str(tmp_path), "options": {}}) is None
    assert settings_problem("dogs_vs_cats", {"source_dir": None, "options": {"image_size": 64}}) is None
    assert (
        settings_problem("dogs_vs_cats", {"source_dir": None, "options": {"size": 64}})[0] == ".options.size"
    )


@pytest.mark.parametrize(
    "figure, wording",
    [
        (
            {"kind": "grid_scores", "runs": ["a"]},
            "grid_scores draws a grid run (one with `grid:`), got ['a']",
        ),
        (
            {"kind": "probe_curves", "runs": ["svm_ssl"]},
            "probe 'svm_ssl' has solver ",
        ),
    ],
)
def test_a_figure_kinds_own_rule_on_its_rows_names_the_key(figure, wording):
    """grid_scores' and probe_curves' rules live in their plugin modules (FigureKind.check); the
    config's one line still names the figure's `runs`."""
    message = study_error(tiny(**{"figures": {"f": figure}}))
    assert message.startswith(f"studies/tiny.yaml: figures.f.runs: {wording}"), message
    if figure["kind"] == "probe_curves":
        assert message.endswith("; probe_curves draws probes fitted by solver minibatch_gd"), message
