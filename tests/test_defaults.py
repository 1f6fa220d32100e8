"""One place for every default: the schemas. No library function gives a schema key a default of
its own, neither as a keyword default nor as `spec.get(key, default)`, so a default changed in
the schema reaches every path; and the figure and table kinds are the schema's enums."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.report.tables import TABLE_KINDS

LIBRARY = REPO / "workflow" / "scripts" / "cvrepro"
SCHEMAS = REPO / "workflow" / "schemas"


def property_names(node) -> set[str]:
    """Every property name anywhere in a schema."""
    names = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names |= set(value)
            names |= property_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= property_names(item)
    return names


SCHEMA_KEYS = set().union(*(property_names(yaml.safe_load(p.read_text())) for p in SCHEMAS.glob("*.yaml")))


def defaults_in(path: Path) -> list[str]:
    """`file:line: what` for each keyword default of a parameter named like a schema key, and each
    `.get("<schema key>", default)`. None and empty literals ("", (), [], {}) mean "not given"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            for arg, default in pairs:
                empty = isinstance(default, ast.Constant) and default.value in (None, "")
                empty = empty or (isinstance(default, ast.Tuple | ast.List) and not default.elts)
                empty = empty or (isinstance(default, ast.Dict) and not default.keys)
                if arg.arg in SCHEMA_KEYS and not empty:
                    found.append(f"{path.name}:{node.lineno}: {node.name}({arg.arg}={ast.unparse(default)})")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in SCHEMA_KEYS
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scan_finds_a_planted_default(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('def f(spec, lr=0.01, seed=None, exclude=()):\n    return spec.get("momentum", 0.9)\n')
    assert defaults_in(planted) == ["planted.py:1: f(lr=0.01)", "planted.py:2: spec.get('momentum', 0.9)"]


@pytest.mark.parametrize("path", sorted(LIBRARY.rglob("*.py")), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_no_library_module_sets_a_default_for_a_schema_key(path):
    assert defaults_in(path) == []


def enum_of(definition: str, key: str) -> list[str]:
    schema = yaml.safe_load((SCHEMAS / "study.schema.yaml").read_text())
    return schema["definitions"][definition]["properties"][key]["enum"]


def test_schema_enums_equal_the_kind_registries():
    assert sorted(enum_of("figure", "kind")) == sorted(FIGURE_KINDS)
    assert sorted(enum_of("table", "kind")) == sorted(TABLE_KINDS)


def test_every_kind_has_its_functions():
    for kind in FIGURE_KINDS.values():
        assert callable(kind.draw) and callable(kind.inputs)
    for kind in TABLE_KINDS.values():
        assert callable(kind.build) and callable(kind.inputs)


def schema_rules(definition: str, kind: str) -> dict[str, dict]:
    """key -> the rules the schema's if/then/else puts on it for a `definition` of this kind."""
    schema = yaml.safe_load((SCHEMAS / "study.schema.yaml").read_text())["definitions"][definition]
    rules: dict[str, dict] = {}
    for rule in schema["allOf"]:
        condition = rule["if"]["properties"]["kind"]
        branch = "then" if kind in condition.get("enum", [condition.get("const")]) else "else"
        for key, checks in rule.get(branch, {}).get("properties", {}).items():
            rules.setdefault(key, {}).update(checks)
    return rules


def required_by_schema(definition: str, kind: str) -> set[str]:
    rules = schema_rules(definition, kind).items()
    return {key for key, checks in rules if checks.get("type") == "string" or checks.get("minItems") == 1}


@pytest.mark.parametrize("name", sorted(FIGURE_KINDS))
def test_a_figure_kinds_needs_and_run_count_are_the_schemas_rules(name):
    # The schema states what each kind needs (if/then on `kind`); its module declares the same.
    kind = FIGURE_KINDS[name]
    assert required_by_schema("figure", name) == set(kind.needs)
    assert schema_rules("figure", name).get("runs", {}).get("maxItems") == kind.max_runs


@pytest.mark.parametrize("name", sorted(TABLE_KINDS))
def test_a_table_kinds_needs_and_unused_keys_are_the_schemas_rules(name):
    kind = TABLE_KINDS[name]
    rules = schema_rules("table", name)
    assert required_by_schema("table", name) == set(kind.needs)
    # `sweep` and `source` only where the kind's rows come from them.
    assert {key for key in ("sweep", "source") if rules[key].get("type") == "null"} == {"sweep", "source"} - {
        kind.rows_from
    }


def schema_definition(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / "study.schema.yaml").read_text())["definitions"][name]


@pytest.mark.parametrize("name", sorted(FIGURE_KINDS))
def test_a_figure_kinds_one_of_is_the_schemas_exactly_one_rule(name):
    """`one_of` (activations: runs or imagenet) is the schema's `not: {anyOf: [neither, both]}`."""
    keys: set[str] = set()
    for rule in schema_definition("figure")["allOf"]:
        condition = rule["if"]["properties"]["kind"]
        if name in condition.get("enum", [condition.get("const")]) and "not" in rule["then"]:
            keys |= set(rule["then"]["not"]["anyOf"][0]["properties"])
    assert keys == set(FIGURE_KINDS[name].one_of)


@pytest.mark.parametrize("name", sorted(TABLE_KINDS))
def test_a_table_kind_whose_rows_are_sections_needs_one_by_the_schemas_rule(name):
    """The schema's `needs at least one of runs, pretrain, probes` holds for exactly the kinds
    whose rows come from those sections."""
    rule = next(rule for rule in schema_definition("table")["allOf"] if "not" in rule["then"])
    applies = name not in rule["if"]["properties"]["kind"]["not"]["enum"]
    assert applies == (TABLE_KINDS[name].rows_from == "sections")
    assert set(rule["then"]["not"]["properties"]) == {"runs", "pretrain", "probes"}


def test_a_per_class_tables_reported_columns_are_the_evaluations_columns():
    from cvrepro.evaluate.per_class import COLUMNS

    rule = next(
        rule
        for rule in schema_definition("table")["allOf"]
        if rule["if"]["properties"]["kind"] == {"const": "per_class"}
    )
    row = rule["then"]["properties"]["reported"]["additionalProperties"]
    assert tuple(row["properties"]) == COLUMNS
    assert row["additionalProperties"]["x-error"].endswith(f"({', '.join(COLUMNS)})")
