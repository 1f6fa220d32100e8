"""The fingerprint of the code a workflow script runs: the script, the cvrepro modules it imports
(transitively) and the pinned versions of the numerical packages they import.

Rules pass it as a param (`code=code_fingerprint(...)` in workflow/rules/*.smk), so Snakemake's
params trigger reruns exactly the jobs whose code changed, and their descendants. Each module is
hashed from its syntax tree without docstrings: comments, docstrings and reformatting change
nothing, any change to what executes changes the hash. Standard library only: the Snakefile
computes every rule's fingerprint on each DAG build, and must not pay for importing torch.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGE = "cvrepro"
# Import name -> distribution name of the packages whose version joins a fingerprint.
PINNED = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "sklearn": "scikit-learn"}
HASH_CHARS = 12
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class FingerprintError(Exception):
    """A script or module could not be read or parsed; the message names the file."""


@dataclass(frozen=True)
class ModuleCode:
    """One parsed file: its hash, the cvrepro modules it imports and the top-level packages."""

    hash: str
    imports: frozenset[str]
    packages: frozenset[str]


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def statements(node: ast.AST) -> Iterator[ast.AST]:
    """Every statement in node's blocks, nested ones too (imports and docstrings are statements;
    visiting only statements skips the expressions, most of a tree)."""
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        children = getattr(node, field, None)
        if isinstance(children, list):
            for child in children:
                yield child
                yield from statements(child)


def strip_docstrings(tree: ast.Module) -> ast.Module:
    """Drop module, class and function docstrings in place (a docstring is not code that runs)."""
    for node in [tree, *statements(tree)]:
        if isinstance(node, _DOCUMENTED) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    node.body = node.body[1:]
    return tree


def tree_hash(tree: ast.AST) -> str:
    """Hash of a syntax tree without positions: equal for reformatted or re-commented code."""
    return _short(ast.dump(tree, annotate_fields=True, include_attributes=False))


def _base(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of `level` dots refers to, seen from `module`."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(parts) - 1 or not parts:
        return ""
    return ".".join(parts[: len(parts) - (level - 1)])


def _with_parents(name: str) -> set[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py too."""
    parts = name.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def imported_names(tree: ast.Module, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(cvrepro module names the tree may import, top-level names of the other packages).

    Every import statement counts, also inside functions and `if __name__` blocks: the fingerprint
    covers what the script may run. `from pkg import x` yields pkg and pkg.x; the caller keeps
    pkg.x only where it is a module file.
    """
    ours, others = set(), set()
    for node in statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.split(".")[0] == PACKAGE else others).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base(module, is_package, node.level)
                target = f"{base}.{node.module}" if base and node.module else base or node.module or ""
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                others.add(target)
                continue
            ours.add(target)
            ours.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    ours = set().union(*(_with_parents(name) for name in ours)) if ours else set()
    if is_package and _discovers_its_modules(tree):
        ours.add(f"{module}.{EVERY_MODULE}")
    return ours, {name.split(".")[0] for name in others if name}


EVERY_MODULE = "*"  # in a package's imports: every module file beside its __init__.py


def _discovers_its_modules(tree: ast.Module) -> bool:
    """A package that imports its own modules by listing them (`pkgutil.iter_modules(__path__)`,
    or cvrepro.study.plugins' `discover(__name__, __path__)`, as every plugin registry does) runs
    every module file in its directory."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        in ("iter_modules", "discover")
        and any(isinstance(arg, ast.Name) and arg.id == "__path__" for arg in node.args)
        for node in ast.walk(tree)
    )


# Parsed files by the sha256 of their bytes, kept between runs in the working directory, so a DAG
# build parses only files that changed (parsing every module costs about 0.15 s). Keyed by content,
# the cache can never answer for an edited file.
CACHE_FILE = Path(".snakemake") / "cvrepro_fingerprints.json"
# Part of every cache key: raised whenever what parse_file reads from a file changes, so that
# entries written by an older parser are not taken for this one's (2: `discover` registries).
PARSER_VERSION = 2


@functools.cache
def _disk_cache() -> dict:
    try:
        return json.loads(CACHE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _remember(key: str, code: ModuleCode) -> None:
    cache = _disk_cache()
    cache[key] = {"hash": code.hash, "imports": sorted(code.imports), "packages": sorted(code.packages)}
    if CACHE_FILE.parent.is_dir():  # a Snakemake working directory; elsewhere, this process only
        tmp = CACHE_FILE.with_name(f"{CACHE_FILE.name}.{os.getpid()}.part")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, CACHE_FILE)


@functools.cache
def parse_file(path: Path, module: str, is_package: bool) -> ModuleCode:
    """Hash and imports of one file; cached by content (see CACHE_FILE) and for the process."""
    try:
        source = path.read_bytes()
    except OSError as error:
        raise FingerprintError(f"{path}: cannot fingerprint ({error})") from error
    key = hashlib.sha256(source + f"\0{module}\0{is_package}\0{PARSER_VERSION}".encode()).hexdigest()
    if (known := _disk_cache().get(key)) is not None:
        return ModuleCode(known["hash"], frozenset(known["imports"]), frozenset(known["packages"]))
    try:
        tree = ast.parse(source.decode("utf-8"), filename=str(path))
    except (SyntaxError, ValueError) as error:
        raise FingerprintError(f"{path}: cannot fingerprint ({error})") from error
    ours, others = imported_names(tree, module, is_package)
    code = ModuleCode(tree_hash(strip_docstrings(tree)), frozenset(ours), frozenset(others))
    _remember(key, code)
    return code


def module_file(root: Path, name: str) -> tuple[Path, bool] | None:
    """(file, is_package) of a module under root, or None when `name` is not a module file."""
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py", True
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py"), False
    return None


@functools.cache
def package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def closure(script: Path, root: Path) -> tuple[dict[str, str], set[str]]:
    """Hashes of the script and of every cvrepro module it imports, directly or not, and the
    top-level packages that any of them imports."""
    entry = parse_file(script, script.stem, False)
    hashes, packages = {script.name: entry.hash}, set(entry.packages)
    pending, seen = sorted(entry.imports), set(entry.imports)
    while pending:
        name = pending.pop()
        if name.endswith(f".{EVERY_MODULE}"):  # the package's directory, as it is now
            package = name[: -len(EVERY_MODULE) - 1]
            folder = root.joinpath(*package.split("."))
            listed = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
            pending.extend(sorted(listed - seen))
            seen |= listed
            continue
        found = module_file(root, name)
        if found is None:  # `from cvrepro.x import some_function`: not a module
            continue
        code = parse_file(found[0], name, found[1])
        hashes[name] = code.hash
        packages |= code.packages
        for new in sorted(code.imports - seen):
            seen.add(new)
            pending.append(new)
    return hashes, packages


@functools.cache
def fingerprint(script: str | Path, root: str | Path | None = None) -> dict:
    """{"hash", "modules": {name: hash}, "packages": {name: version}} of the code `script` runs.

    root is where the `cvrepro` package lives (default: the script's directory, as in
    workflow/scripts/). Only the pinned packages that the closure imports are listed.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise FingerprintError(f"{script}: script not found (expected a workflow script file)")
    modules, imported = closure(script, Path(root).resolve() if root else script.parent)
    packages = {PINNED[name]: package_version(PINNED[name]) for name in sorted(imported) if name in PINNED}
    modules = dict(sorted(modules.items()))
    digest = _short(json.dumps({"modules": modules, "packages": packages}, sort_keys=True))
    return {"hash": digest, "modules": modules, "packages": packages}


def clear_caches() -> None:
    """Forget parsed files and fingerprints (for a process that edits code, such as a test)."""
    parse_file.cache_clear()
    fingerprint.cache_clear()
    _disk_cache.cache_clear()


def changed_parts(old: dict, new: dict) -> list[str]:
    """What differs between two fingerprints, one phrase each: module edits, added or dropped
    modules, package versions. Empty when the hashes are equal."""
    if old.get("hash") == new.get("hash"):
        return []
    changes = []
    for kind in ("modules", "packages"):
        before, after = old.get(kind, {}), new.get(kind, {})
        for name in sorted(set(before) | set(after)):
            if name not in before:
                changes.append(f"{name} now imported")
            elif name not in after:
                changes.append(f"{name} no longer imported")
            elif before[name] != after[name]:
                changes.append(
                    f"{name} changed" if kind == "modules" else f"{name} {before[name]} -> {after[name]}"
                )
    return changes or ["fingerprint format changed"]
