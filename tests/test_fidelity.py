"""Every seed study says, item by item, how it follows its report, and its `same` claims hold.

A study's `fidelity` list (workflow/schemas/study.schema.yaml) records for each recipe element
what the report says, what we do and whether that is the same. An item with status `same`, a
`key` and a `value` is a claim about the merged recipe (run_defaults + presets + the run's own
keys, defaults filled) of every part it lists; these tests check each claim, so a recipe edit
that silently departs from the report fails here.
"""

from __future__ import annotations

import copy

import pytest

from conftest import REPO
from cvrepro.config import load_config

NAMED = ("runs", "pretrain", "probes")  # parts an item may name without a `<part>:` prefix
QUALIFIED = ("subsets", "shift_sets", "bn_sweeps", "tables", "figures")
MISSING = object()


def seed_studies() -> dict[str, dict]:
    """Each seed study's validated spec (run_defaults and presets merged, defaults filled)."""
    names = sorted(path.stem for path in (REPO / "studies").glob("*.yaml"))
    return {name: study.spec for name, study in load_config({"studies": names}, REPO / "studies")[1].items()}


STUDIES = seed_studies()


def part(study: str, spec: dict, name: str) -> dict:
    """The merged spec of a run, pretraining or probe, of `<part>:<name>`, or the study's own
    top-level keys (`study`); one-line errors."""
    if name == "study":
        return spec
    if ":" in name:
        kind, _, item = name.partition(":")
        if kind not in QUALIFIED:
            raise KeyError(f"{study}: fidelity runs {name!r}: unknown part {kind!r}; use one of {QUALIFIED}")
        if item not in spec[kind]:
            raise KeyError(f"{study}: fidelity runs {name!r}: no {kind} named {item!r}")
        return spec[kind][item]
    found = [kind for kind in NAMED if name in spec[kind]]
    if len(found) != 1:
        raise KeyError(
            f"{study}: fidelity runs {name!r}: expected one run, pretraining or probe of that name, "
            f"found {len(found)}"
        )
    return spec[found[0]][name]


def value_at(spec: dict, key: str):
    """The value at a dotted key (optimizer.lr), or MISSING."""
    value = spec
    for step in key.split("."):
        if not isinstance(value, dict) or step not in value:
            return MISSING
        value = value[step]
    return value


def mismatches(study: str, spec: dict) -> list[str]:
    """One line per listed part whose merged recipe lacks a `same` item's value at its key."""
    problems = []
    for number, item in enumerate(spec["fidelity"]):
        if item["status"] != "same" or item["key"] is None or item["value"] is None:
            continue
        where = f"{study}: fidelity[{number}] ({item['what']})"
        if not item["runs"]:
            problems.append(f"{where}: status same with key {item['key']!r} but no runs to check")
        for name in item["runs"]:
            actual = value_at(part(study, spec, name), item["key"])
            if actual is MISSING:
                problems.append(f"{where}: {name} has no key {item['key']!r}")
            elif actual != item["value"]:
                problems.append(
                    f"{where}: {name}.{item['key']} is {actual!r}, the report's is {item['value']!r}"
                )
    return problems


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_item_is_explained(name):
    items = STUDIES[name]["fidelity"]
    assert items, f"{name}: no fidelity items"
    for number, item in enumerate(items):
        where = f"{name}: fidelity[{number}] ({item['what']})"
        if item["status"] in ("departs", "report_silent"):
            assert item["why"].strip(), f"{where}: status {item['status']} needs a why"
        if item["status"] in ("same", "departs"):
            assert item["report"].strip(), f"{where}: status {item['status']} must quote the report"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_named_part_exists(name):
    for item in STUDIES[name]["fidelity"]:
        for run in item["runs"]:
            # raises with a one-line message when the name is unknown or ambiguous
            part(name, STUDIES[name], run)


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_run_pretraining_and_probe_is_covered(name):
    spec = STUDIES[name]
    covered = {run for item in spec["fidelity"] for run in item["runs"]}
    missing = sorted((set(spec["runs"]) | set(spec["pretrain"]) | set(spec["probes"])) - covered)
    assert not missing, f"{name}: no fidelity item covers {missing}"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_same_items_hold_in_the_merged_recipe(name):
    problems = mismatches(name, STUDIES[name])
    assert not problems, "\n".join(problems)


def test_a_recipe_that_departs_from_a_same_claim_is_caught():
    """The check itself: change one checked value of a real study and it must be reported."""
    spec = copy.deepcopy(STUDIES["cifar10_transfer"])
    item = next(i for i in spec["fidelity"] if i["status"] == "same" and i["key"] == "optimizer.lr")
    run = item["runs"][0]
    assert not mismatches("cifar10_transfer", spec)
    spec["runs"][run]["optimizer"]["lr"] = 0.01 if item["value"] != 0.01 else 0.02
    assert any(f"{run}.optimizer.lr is" in line for line in mismatches("cifar10_transfer", spec))
    spec["runs"][run]["optimizer"].pop("lr")
    assert any("has no key 'optimizer.lr'" in line for line in mismatches("cifar10_transfer", spec))
