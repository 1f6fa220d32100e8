"""Read a configuration YAML file as plain data, strictly: safe tags only, no duplicate keys, a
bounded alias expansion, and a one-line ConfigError naming the file for anything else.

studies/*.yaml are data and are read only here. config.yaml (and any --configfile) is read by
Snakemake itself: as JSON, else as YAML through YTE with PyYAML's full loader, which builds some
Python objects (!!python/name, !!python/object of imported classes) and, in a file with
`__use_yte__: true`, evaluates Python expressions. So config.yaml is as trusted as the Snakefile.
The Snakefile reads config.yaml here first (check_config_file), before its `configfile:`
directive, so a Python tag, a YTE template or a duplicate key there is one line too; --configfile
files are loaded by Snakemake before the Snakefile runs, so for them this check comes after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from cvrepro.config.schema import ConfigError, check_plain, short

MERGE_TAG = "tag:yaml.org,2002:merge"
YAML_TAG_PREFIX = "tag:yaml.org,2002:"


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base` overriding base's keys is the point of it
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = key in first_line
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                break
            line = key_node.start_mark.line + 1
            if seen:
                raise ConfigError(
                    f"duplicate key {short(repr(key), 60)} at lines {first_line[key]} and {line}"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    if not path.exists():
        what = "a dangling symbolic link" if path.is_symlink() else "missing"
        raise ConfigError(f"{path}: cannot be read: {what}")
    if not path.is_file():
        raise ConfigError(f"{path}: not a regular file (a directory?)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})"
        ) from None


def _tag_problem(error: ConstructorError) -> str:
    """A tag the safe loader has no constructor for, in the form it was written (!!python/...)."""
    tag = str(error.problem).split("tag ", 1)[-1].strip("'\" ")
    shown = "!!" + tag.removeprefix(YAML_TAG_PREFIX) if tag.startswith(YAML_TAG_PREFIX) else tag
    line = f"line {error.problem_mark.line + 1}: " if error.problem_mark else ""
    return f"{line}tag {short(shown, 80)} is not allowed: only plain YAML data (no Python objects)"


def read_yaml(path: Path) -> Any:
    """The data of one YAML document; every problem is a ConfigError starting with the path."""
    path = Path(path)
    loader = StrictLoader(_read_text(path))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Aliases construct as shared objects, so a bomb costs little until something walks it:
        # check_plain measures shared parts once, before anything can.
        data = loader.construct_document(node)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except ConstructorError as error:
        if "could not determine a constructor for the tag" in str(error.problem):
            raise ConfigError(f"{path}: {_tag_problem(error)}") from None
        raise ConfigError(f"{path}: not valid YAML: {short(str(error))}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {short(str(error))}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a configuration") from None
    finally:
        loader.dispose()
    check_plain(data, str(path))
    return data


def check_config_file(path: Path) -> None:
    """config.yaml read as study files are, plus: no YTE template (Snakemake would run its code)."""
    path = Path(path)
    if path.suffix == ".json" or not (path.exists() or path.is_symlink()):
        return  # JSON is not YAML's business; a missing file is Snakemake's own error
    data = read_yaml(path)
    if isinstance(data, dict) and "__use_yte__" in data:
        raise ConfigError(
            f"{path}: __use_yte__: YTE templates evaluate Python; write plain values "
            "(cvrepro's configuration is data)"
        )
