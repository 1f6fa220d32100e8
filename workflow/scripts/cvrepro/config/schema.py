"""The JSON schemas of the configuration: loading them, validating a value while filling in each
property's default, and the one-line error every configuration problem becomes."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import best_match

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"


class ConfigError(ValueError):
    """A problem in the configuration; the message is a single line."""


def _with_defaults(validator_class):
    """A validator that fills in each property's `default` while validating (jsonschema's recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


DefaultingValidator = _with_defaults(Draft7Validator)


@cache
def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / name).read_text())


def short(message: str, limit: int = 200) -> str:
    """One line of at most `limit` characters: error messages quote values, which can be huge."""
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def validate(instance, schema: dict, where: str):
    """Validate a copy of `instance`, fill defaults, and return it; raise a one-line ConfigError."""
    instance = copy.deepcopy(instance)
    error = best_match(DefaultingValidator(schema).iter_errors(instance))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {key}: {short(error.message)}")
    return instance


def definition(name: str) -> dict:
    """A definition of the study schema (run, pretraining, probe, ...) as a schema of its own."""
    schema = load_schema("study.schema.yaml")
    return {**schema["definitions"][name], "definitions": schema["definitions"]}
