"""The library's shape, read from the code: stage packages that import only downward, no import
cycle, and files and functions small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"
LIBRARY = WORKFLOW / "scripts" / "cvrepro"
# Bottom to top; a stage may import itself and those before it (cvrepro/__init__.py says why).
STAGES = ["study", "data", "nets", "evaluate", "train", "report", "config", "jobs"]


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """cvrepro modules `path` imports anywhere in it (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cvrepro":
            for alias in node.names:  # `from cvrepro.x import y` imports x.y when y is a module
                found.add(
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                )
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "cvrepro"}
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in LIBRARY.rglob("*.py")}
    return {name: imported_modules(path, set(files)) - {name} for name, path in files.items()}


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_library_has_at_most_ten_top_level_packages_or_modules():
    top = [
        p.name
        for p in LIBRARY.iterdir()
        if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())
    ]
    assert sorted(top) == sorted(STAGES)  # every top-level entry is a stage the layer order knows
    assert len(top) <= 10


def test_no_stage_imports_a_later_stage():
    upward = [
        f"{module} ({stage(module)}) imports {target} ({stage(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if stage(module) and stage(target) and STAGES.index(stage(target)) > STAGES.index(stage(module))
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    graph = {m: {t for t in targets if t in graph} for m, targets in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_layer_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: an evaluate module importing train is reported."""
    import test_layers

    library = tmp_path / "cvrepro"
    for package in ("evaluate", "train"):
        (library / package).mkdir(parents=True)
        (library / package / "__init__.py").write_text("")
    (library / "__init__.py").write_text("")
    (library / "train" / "engine.py").write_text("from cvrepro.evaluate import metrics\n")
    (library / "evaluate" / "metrics.py").write_text("def f():\n    from cvrepro.train.engine import fit\n")
    monkeypatch.setattr(test_layers, "LIBRARY", library)
    graph = test_layers.import_graph()
    assert graph["cvrepro.evaluate.metrics"] == {"cvrepro.train.engine"}
    with pytest.raises(
        AssertionError, match="cvrepro.evaluate.metrics \\(evaluate\\) imports cvrepro.train.engine"
    ):
        test_layers.test_no_stage_imports_a_later_stage()
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_layers.test_the_import_graph_has_no_cycle()


def python_files() -> list[Path]:
    return sorted(WORKFLOW.rglob("*.py"))


def test_no_python_file_under_workflow_has_more_than_400_lines():
    long = {
        str(p.relative_to(WORKFLOW)): n
        for p in python_files()
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def test_no_function_under_workflow_has_more_than_80_lines():
    long = [
        f"{p.relative_to(WORKFLOW)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for p in python_files()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_a_training_run_executes_code_in_at_most_fifteen_library_modules(tmp_path):
    """Following one run from train.py's main through the library stays short: the modules whose
    functions a tiny CPU training calls (sys.setprofile sees every Python call). It was 12 until
    issue 35 gave three jobs a module of their own where a reader looks for them by name: the
    optimizer and schedule (train/optim.py, out of engine.py), the resume state (train/resume.py,
    out of nets/checkpoint.py) and batch augmentation (data/batch_augment.py, out of
    data/tensors.py). A sixteenth means a run now wanders through one more file."""
    import sys

    import numpy as np
    import torch
    import train as train_script

    from cvrepro.data.datasets.splits import write_info, write_split
    from cvrepro.data.tensors import SubsetFiles
    from cvrepro.jobs.job import Job
    from cvrepro.jobs.recipes import run_recipe
    from cvrepro.nets.checkpoint import ModelFiles

    labels = np.arange(48) % 2
    images = (
        np.random.default_rng(0).random((48, 8, 8, 1)) * 100 + labels[:, None, None, None] * 120
    ).astype(np.uint8)
    write_split(tmp_path / "data", "train", images, labels)
    write_info(tmp_path / "data", "easy", ["dark", "bright"], {"train": 48}, {})
    np.save(tmp_path / "train.npy", np.arange(32))
    np.save(tmp_path / "val.npy", np.arange(32, 48))
    run = run_recipe(epochs=1, batch_size=16, model={"arch": "resnet18", "width": 4}, grad_flow=True)
    seen: set[str] = set()

    def record(frame, event: str, arg) -> None:
        name = frame.f_globals.get("__name__") or ""
        if event == "call" and name.startswith("cvrepro"):
            seen.add(name)

    sys.setprofile(record)
    try:
        train_script.main(
            run,
            train=SubsetFiles(tmp_path / "data", "train", tmp_path / "train.npy"),
            val=SubsetFiles(tmp_path / "data", "train", tmp_path / "val.npy"),
            init=None,
            out=ModelFiles(
                *(
                    tmp_path / n
                    for n in ("model.pt", "history.csv", "metrics.json", "resume.pt", "g.csv", "steps.csv")
                )
            ),
            ctx=Job(torch.device("cpu"), log=lambda line: None),
        )
    finally:
        sys.setprofile(None)
    assert (tmp_path / "model.pt").exists() and "cvrepro.train.engine" in seen
    assert len(seen) <= 15, "\n".join(sorted(seen))
