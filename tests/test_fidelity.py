"""Every seed study says, item by item, how it follows its report, and its `same` claims hold.

A study's `fidelity` list (workflow/schemas/study.schema.yaml) records for each recipe element
what the report says, what we do and whether that is the same. An item with status `same`, a
`key` and a `value` is a claim about the merged recipe (run_defaults + presets + the run's own
keys, defaults filled) of every part it lists; these tests check each claim, so a recipe edit
that silently departs from the report fails here.
"""

from __future__ import annotations

import copy
import re

import pytest

from conftest import EXAMPLE_STUDIES, REPO
from cvrepro.config import load_config
from cvrepro.data.augment_presets import resolve as resolve_augment

NAMED = ("runs", "pretrain", "probes")  # parts an item may name without a `<part>:` prefix
QUALIFIED = ("subsets", "shift_sets", "bn_sweeps", "tables", "figures")
MISSING = object()


def seed_studies() -> dict[str, dict]:
    """Each seed study's validated spec (run_defaults and presets merged, defaults filled)."""
    names = sorted(p.stem for p in (REPO / "studies").glob("*.yaml") if p.stem not in EXAMPLE_STUDIES)
    return {name: study.spec for name, study in load_config({"studies": names}, REPO / "studies")[1].items()}


STUDIES = seed_studies()


def part(study: str, spec: dict, name: str) -> dict:
    """The merged spec of a run, pretraining or probe, of `<part>:<name>`, the values of a grid
    (`grid:<run>`), or the study's own top-level keys (`study`); one-line errors."""
    if name == "study":
        return spec
    if name.startswith("grid:"):  # a grid run as written: each grid key with its points' values
        return grid_values(study, spec, name.removeprefix("grid:"))
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


def grid_values(study: str, spec: dict, run: str) -> dict:
    """{key: [the value of every point, in the grid's order]}, nested by the dotted key."""
    points = spec["rows"]["runs"].get(run, [])
    if len(points) < 2:
        raise KeyError(f"{study}: fidelity runs 'grid:{run}': no grid run named {run!r}")
    values: dict = {}
    for dotted in spec["grid_values"][points[0]]:
        *parents, last = dotted.split(".")
        node = values
        for step in parents:
            node = node.setdefault(step, {})
        node[last] = [spec["grid_values"][point][dotted] for point in points]
    return values


def value_at(spec: dict, key: str):
    """The value at a dotted key (optimizer.lr), or MISSING; a final `[i:j]` takes that slice of a
    list (batch_sizes[:4]: the report's sizes, where ours append more)."""
    key, _, cut = key.partition("[")
    value = spec
    for step in key.split("."):
        if not isinstance(value, dict) or step not in value:
            return MISSING
        value = value[step]
    if cut:
        start, _, stop = cut.removesuffix("]").partition(":")
        if not isinstance(value, list):
            return MISSING
        value = value[int(start or 0) : int(stop) if stop else None]
    return value


def holds(key: str, actual, claimed) -> bool:
    """An augmentation claimed as a dict of parameters (the report's values) holds when the
    preset or dict the part uses resolves to them; any other claim is an equality."""
    if key.split(".")[-1] in ("augment", "probe_augment") and isinstance(claimed, dict):
        try:
            params = resolve_augment(actual)
        except ValueError:
            return False
        params["name"] = actual if isinstance(actual, str) else actual["name"]
        return all(name in params and _same_number(params[name], value) for name, value in claimed.items())
    return actual == claimed


def _same_number(ours, theirs) -> bool:
    if isinstance(ours, (tuple, list)) and isinstance(theirs, (tuple, list)):
        return len(ours) == len(theirs) and all(_same_number(a, b) for a, b in zip(ours, theirs, strict=True))
    return ours == theirs or (
        isinstance(ours, float) and isinstance(theirs, (int, float)) and abs(ours - theirs) < 1e-9
    )


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
            elif not holds(item["key"], actual, item["value"]):
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
        if item["derived"].strip():
            assert item["status"] == "same", (
                f"{where}: `derived` explains a same value; status is {item['status']}"
            )


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


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_same_claim_names_what_is_checked(name):
    """A `same` item says which recipe key of which parts holds the report's value, so the test
    above checks it; a claim nobody checks cannot be `same`."""
    for number, item in enumerate(STUDIES[name]["fidelity"]):
        if item["status"] == "same":
            where = f"{name}: fidelity[{number}] ({item['what']})"
            assert item["key"] is not None and item["value"] is not None and item["runs"], (
                f"{where}: status same needs a key, a value and the parts it holds for"
            )


SAME_CLAIMS = [
    (study, number)
    for study, spec in sorted(STUDIES.items())
    for number, item in enumerate(spec["fidelity"])
    if item["status"] == "same" and item["key"] is not None
]


@pytest.mark.parametrize("study, number", SAME_CLAIMS)
def test_a_planted_value_in_any_same_claim_is_caught(study, number):
    """Every checked claim, one at a time: a different value at its key in its first part fails."""
    spec = copy.deepcopy(STUDIES[study])
    item = spec["fidelity"][number]
    first = item["runs"][0]
    if first.startswith("grid:"):  # the grid's values live in its points
        point = spec["rows"]["runs"][first.removeprefix("grid:")][0]
        spec["grid_values"][point][item["key"]] = "planted"
        assert any(f"fidelity[{number}]" in line for line in mismatches(study, spec))
        return
    target = part(study, spec, first)
    *parents, last = item["key"].partition("[")[0].split(".")
    for step in parents:
        target = target[step]
    target[last] = "planted"
    assert any(f"fidelity[{number}]" in line for line in mismatches(study, spec))


# --- quotes: the report's own words ---------------------------------------------------------------
# Each seed study's source report (the study files' headers and /work/shared/STUDIES.md say the same).
# CI and every session have a read-only copy of shared/ beside the clone.
SEEDS_DIR = REPO.parent / "shared" / "seeds"
SEED_OF = {
    "cifar100_subsets": "000",
    "cifar10_transfer": "001",
    "stl10_transfer": "002",
    "tinyimagenet_losses": "002",
    "dogs_cats_optimizers": "002",
    "stl10_simclr": "003",
    "cifar10_linear_and_triplet": "004",
}
needs_seeds = pytest.mark.skipif(
    not SEEDS_DIR.is_dir(), reason=f"the seed reports are not here ({SEEDS_DIR} is absent)"
)
TAG = re.compile(r"</?[a-z]+>")
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def plain(text: str) -> str:
    """Text as compared: whitespace runs (line breaks included) made one space, and the seed
    texts' markup dropped: markdown emphasis (`*trainset1*`, `**Data Abundance**`) and HTML tags
    (`<u>6m 4s</u>`, `</pre>`), which are formatting, not words."""
    return " ".join(TAG.sub("", text.replace("*", "")).split())


def seed_text(study: str) -> str:
    """The study's source report, as `plain` compares it."""
    number = SEED_OF[study]
    found = sorted(SEEDS_DIR.glob(f"{number}_*.txt"))
    if len(found) != 1:
        raise FileNotFoundError(f"{SEEDS_DIR}: expected one seed report {number}_*.txt, found {len(found)}")
    return plain(found[0].read_text(encoding="utf-8"))


def unquoted(report: str, source: str) -> list[str]:
    """The pieces of a `report` field (`...` joins verbatim pieces) that are not in the source."""
    pieces = [piece.strip() for piece in re.split(r"\.\.\.|\u2026", report)]
    return [piece for piece in pieces if piece and plain(piece) not in source]


def numbers_in(value) -> list[float]:
    """The numbers of a claimed value (a number, or those inside its lists and dicts)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers_in(item)]
    return [n for item in value for n in numbers_in(item)]


def printed(number: float, quote: str) -> bool:
    """Whether the quote prints the number, as itself or as a percentage (0.2446 as 24.46%)."""
    shown = [float(token.replace(",", "")) for token in NUMBER.findall(quote)]
    return any(abs(s - number) <= 1e-9 * max(1.0, abs(number)) for s in shown) or any(
        abs(s - 100 * number) < 5e-3 for s in shown
    )


def claim_problems(study: str, spec: dict, source: str) -> list[str]:
    """One line per quote that is not the report's words and per `same` number the quote lacks."""
    problems = []
    for number, item in enumerate(spec["fidelity"]):
        where = f"{study}: fidelity[{number}] ({item['what']})"
        for piece in unquoted(item["report"], source):
            problems.append(f"{where}: report quotes {piece[:80]!r}, which is not in the seed report")
        if item["status"] == "same" and not item["derived"].strip():
            missing = [n for n in numbers_in(item["value"]) if not printed(n, item["report"])]
            if missing:
                problems.append(f"{where}: status same claims {missing[:4]}, which its quote does not print")
    return problems


@needs_seeds
@pytest.mark.parametrize("name", sorted(SEED_OF))
def test_every_quote_is_the_reports_words_and_every_same_number_is_printed(name):
    problems = claim_problems(name, STUDIES[name], seed_text(name))
    assert not problems, "\n".join(problems)


def test_every_seed_study_names_its_report():
    assert set(SEED_OF) == set(STUDIES), "a study without a seed report entry (SEED_OF) or a stale entry"


@needs_seeds
def test_a_planted_paraphrase_or_unprinted_value_is_caught():
    """The check itself, on a real study: a reworded quote, a quote joined from a paraphrase and a
    `same` value that the quote does not print each fail; the verbatim item passes."""
    source = seed_text("cifar100_subsets")
    spec = copy.deepcopy(STUDIES["cifar100_subsets"])
    number, item = next(
        (n, i) for n, i in enumerate(spec["fidelity"]) if i["status"] == "same" and i["key"] == "size"
    )
    assert not claim_problems("cifar100_subsets", spec, source)
    quote = item["report"]
    item["report"] = quote.replace("comprises", "contains")  # a paraphrase
    assert any(
        f"fidelity[{number}]" in line and "not in the seed" in line
        for line in claim_problems("cifar100_subsets", spec, source)
    )
    item["report"] = (
        quote + " ... and it was trained for 90 epochs"
    )  # a verbatim piece joined to an invented one
    assert any("not in the seed" in line for line in claim_problems("cifar100_subsets", spec, source))
    item["report"], item["value"] = quote, item["value"] + 1  # a value the quote does not print
    assert any("does not print" in line for line in claim_problems("cifar100_subsets", spec, source))


def test_numbers_are_found_as_printed():
    assert printed(0.2446, "trainset1 24.46%") and printed(5000, "comprises 5000 images")
    assert printed(0.001, "lr=0.001") and printed(1e-4, "lr 1e-4") and printed(25000, "25,000 images")
    assert not printed(128, "as 4, 8, 16, 32") and not printed(0.3, "13.00%")


def test_the_report_shows_derived_and_source_beside_the_why():
    """REPORT.md's fidelity table keeps the report's words apart from what is ours or another
    source's: `derived` and `source` are shown in the why cell, labelled."""
    from cvrepro.report.study_report import fidelity_markdown

    item = {
        "what": "Adam's betas",
        "report": "optim.Adam(model.parameters(), lr=0.001)",
        "ours": "(0.9, 0.999)",
        "status": "same",
        "why": "",
        "derived": "The call passes no betas: PyTorch's defaults.",
        "source": "keras-team/keras-io, examples/vision/semisupervised_simclr.py",
    }
    row = fidelity_markdown([item]).splitlines()[-1]
    assert row.startswith("| Adam's betas | optim.Adam(model.parameters(), lr=0.001) | (0.9, 0.999) | same |")
    assert "Derived from the quote: The call passes no betas" in row
    assert "Source (not the report): keras-team/keras-io, examples/vision/semisupervised_simclr.py" in row
