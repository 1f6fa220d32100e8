"""The JSON schemas of the configuration: loading them, validating a value while filling in each
property's default, and the one-line error every configuration problem becomes."""

from __future__ import annotations

import copy
import difflib
import math
import re
from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"
# Values in one file or study, counting a shared (aliased) part each time it is used: the real
# studies have about 1,000, and an alias bomb expands past any limit while it still parses small.
MAX_VALUES = 100_000


class ConfigError(ValueError):
    """A problem in the configuration; the message is a single line of bounded length, whatever
    value it quotes (a 100,000-character name in a reference is cut, not printed)."""

    def __init__(self, message: str) -> None:
        super().__init__(short(message, 600))


def _with_defaults(validator_class):
    """A validator that fills in each property's `default` while validating (jsonschema's recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
                if _wants_number(subschema) and _looks_like_float(instance.get(key)):
                    instance[key] = float(instance[key])
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


# YAML 1.2's float syntax. PyYAML reads YAML 1.1, where `1e-3` and `5e-4` (no dot) are strings;
# every ML user writes them, so where the schema expects a number such a string becomes one.
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")


def _wants_number(subschema: dict) -> bool:
    types = subschema.get("type", [])
    types = [types] if isinstance(types, str) else types
    return "number" in types and "string" not in types


def _looks_like_float(value) -> bool:
    return isinstance(value, str) and _FLOAT.fullmatch(value.strip()) is not None


def _is_integer(checker, instance) -> bool:
    """An int, not a bool and not a float such as 2.0 (JSON Schema's own `integer` allows 2.0,
    which then fails as a batch size or a range() bound inside a job)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


DefaultingValidator = validators.extend(
    _with_defaults(Draft7Validator),
    type_checker=Draft7Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@cache
def load_schema(name: str) -> dict:
    """One of our schemas; libyaml's safe loader where PyYAML has it (10x faster than the Python
    one, on every DAG build)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)((SCHEMA_DIR / name).read_text())
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def short(message: str, limit: int = 200) -> str:
    """One line of at most `limit` characters: error messages quote values, which can be huge."""
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _dotted(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_plain(instance, where: str) -> None:
    """Before any schema sees it: only finite numbers, no value that contains itself, and at most
    MAX_VALUES values with shared parts counted where used (jsonschema walks, and its messages
    quote, the expanded value). Shared parts are measured once, so a bomb costs little here."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def measure(value, path: tuple) -> int:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {_dotted(path)}: {value} is not a finite number")
        if not isinstance(value, (dict, list)):
            return 1
        ident = id(value)
        if ident in active:
            raise ConfigError(f"{where}: {_dotted(path)}: the value contains itself (a recursive alias)")
        if ident not in sizes:
            active.add(ident)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            sizes[ident] = 1 + sum(measure(item, (*path, key)) for key, item in items)
            active.discard(ident)
        if sizes[ident] > MAX_VALUES:
            raise ConfigError(
                f"{where}: {_dotted(path)}: more than {MAX_VALUES:,} values once aliases are expanded "
                "(an alias bomb?)"
            )
        return sizes[ident]

    measure(instance, ())


def _message(error: ValidationError, root=None) -> str:
    """The schema's own wording (`x-error`) where it has one; else jsonschema's, unless that
    quotes a long value: then the rule that failed and the kind of value, without the value."""
    current = error
    while current is not None:
        if isinstance(current.schema, dict) and "x-error" in current.schema:
            wording = _fill(current.schema["x-error"], root, current.absolute_path)
            if "propertyNames" in current.schema_path:  # the value is a name, already in the path
                return f"{short(repr(current.instance), 120)} {wording}"
            return f"{wording}, got {short(repr(current.instance), 80)}"
        current = current.parent
    instance = error.instance
    long_value = isinstance(instance, str) and len(instance) > 100
    if not long_value and not (isinstance(instance, (dict, list)) and len(error.message) > 200):
        return short(error.message + _suggestion(error))
    size = f" of {len(instance)} characters" if long_value else f" of {len(instance)} items"
    rule = short(f"{error.validator}: {error.validator_value!r}", 100)
    return f"a {type(instance).__name__}{size} fails {rule}"


def _where(error: ValidationError) -> str:
    """The dotted key of the failing value; a name refused by `propertyNames` is part of it."""
    name = [short(str(error.instance), 120)] if "propertyNames" in error.schema_path else []
    return _dotted([*error.absolute_path, *name])


def _fill(wording: str, root, path) -> str:
    """`{kind}` or `{model.arch}` in an x-error: that value of the mapping holding the failing key,
    so one rule's wording can name the setting that makes the value wrong."""

    def value(match: re.Match) -> str:
        node = root
        try:
            for part in [*list(path)[:-1], *match.group(1).split(".")]:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            return match.group(0)
        return short(str(node), 60)

    return re.sub(r"\{([\w.]+)\}", value, wording)


def _suggestion(error: ValidationError) -> str:
    """For an unknown key, the closest allowed one (difflib), or the allowed names."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return ""
    allowed = list(error.schema.get("properties", {}))
    unknown = [key for key in error.instance if key not in allowed]
    if not unknown or not allowed:
        return ""
    close = difflib.get_close_matches(str(unknown[0]), allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"


def check_partial(instance, schema: dict, where: str) -> None:
    """Validate settings that are only part of what `schema` describes (run_defaults, a preset):
    every key and value they set must be valid there, whatever is missing (required keys, or a
    branch of a oneOf that another part completes) is not an error here, nor is a rule that
    depends on another key (an if/then: `init: imagenet` in run_defaults, the model in each run)."""
    for error in sorted(DefaultingValidator(schema).iter_errors(copy.deepcopy(instance)), key=_depth):
        incomplete = (
            error.validator == "required"
            or _between_keys(error)
            or (
                error.validator in ("oneOf", "anyOf")
                and any(e.validator == "required" for e in error.context)
            )
        )
        if incomplete:
            continue
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "additionalProperties":  # name the unknown key itself
            unknown = next(key for key in error.instance if key not in error.schema.get("properties", {}))
            key = ".".join(part for part in (where, path, str(unknown)) if part)
            raise ConfigError(f"{key}: not a run setting{_suggestion(error)}")
        raise ConfigError(f"{'.'.join(part for part in (where, path) if part)}: {_message(error)}")


def _between_keys(error: ValidationError) -> bool:
    """Whether a rule between keys (an if/then/else) failed: it may read keys set elsewhere."""
    return "then" in error.schema_path or "else" in error.schema_path


def _depth(error: ValidationError) -> int:
    return -len(error.absolute_path)


def validate(instance, schema: dict, where: str, between_keys: bool = True):
    """Validate a copy of `instance`, fill defaults, and return it; raise a one-line ConfigError.
    between_keys=False skips the rules between keys (if/then), for a recipe whose subsets are
    placeholders."""
    check_plain(instance, where)
    instance = copy.deepcopy(instance)
    errors = DefaultingValidator(schema).iter_errors(instance)
    error = best_match(e for e in errors if between_keys or not _between_keys(e))
    if error is not None:
        raise ConfigError(f"{where}: {_where(error)}: {_message(error, instance)}")
    return instance


def definition(name: str) -> dict:
    """A definition of the study schema (run, pretraining, probe, ...) as a schema of its own."""
    schema = load_schema("study.schema.yaml")
    return {**schema["definitions"][name], "definitions": schema["definitions"]}


def check_named(key: str, thing: str, name, defined) -> None:
    """The one wording for a reference to something that does not exist: `key: no <thing> named
    'x'; did you mean 'y'? defined: ...` (the suggestion from difflib, when one is close)."""
    defined = [str(d) for d in defined]
    if name in defined:
        return
    close = difflib.get_close_matches(str(name), defined, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{key}: no {thing} named {name!r}{hint}; defined: {', '.join(defined) or 'none'}")


def check_name(name: str, where: str) -> None:
    """A name the schema cannot see as a key (a study's, a grid point's) against its `name` rule."""
    rule = definition("name")
    if not re.search(rule["pattern"], name):
        raise ConfigError(f"{where}: {short(repr(name), 120)} {rule['x-error']}")
