"""Code fingerprints: a job reruns when the code it runs changes, and only then.

Unit tests on a small package of our own; workflow tests by dry runs on a finished tiny study in
a copy of the repository (the copy's code is edited, never the real tree)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import why

from conftest import (
    REPO,
    copy_finished,
    copy_repository,
    needs_fashion_mnist,
    planned_jobs,
    run_snakemake,
    tiny_config,
)
from cvrepro.jobs.fingerprint import changed_parts, clear_caches, fingerprint
from cvrepro.report.table_markdown import code_warning

RUFF = Path(sys.executable).parent / "ruff"
SCRIPTS = REPO / "workflow" / "scripts"

PACKAGE = {
    "entry.py": '''
        """An entry script."""
        from cvrepro import alpha
        def main():
            from cvrepro.sub.delta import d  # imported inside a function
            return alpha.a(d)

        if __name__ == "__main__":
            from cvrepro.gamma import g
            g()
        ''',
    "cvrepro/__init__.py": "",
    "cvrepro/alpha.py": """
        import numpy as np

        from cvrepro.beta import b

        def a(x):
            return np.asarray(b(x))
        """,
    "cvrepro/beta.py": '''
        """Beta: reached only through alpha."""


        class Scale:
            """A class."""

            factor = 2


        def b(x):
            """Add one."""
            return x + 1  # the one
        ''',
    "cvrepro/gamma.py": "def g():\n    return 'g'\n",
    "cvrepro/unused.py": "VALUE = 1\n",
    "cvrepro/epsilon.py": "E = 1\n",
    "cvrepro/sub/__init__.py": "",
    "cvrepro/sub/delta.py": "from .. import epsilon\nfrom .zeta import z\n\nd = z + epsilon.E\n",
    "cvrepro/sub/zeta.py": "z = 3\n",
}


@pytest.fixture
def package(tmp_path) -> Path:
    for name, text in PACKAGE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def fresh(script: Path) -> dict:
    """The fingerprint as a new process would compute it (the module caches per process)."""
    clear_caches()
    return fingerprint(script)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_a_package_that_lists_its_own_modules_covers_them_all(package):
    """The figure-kind registry imports its kind modules by listing its folder: every module file
    there joins the fingerprint, a new one too, so a new or edited kind reruns the figures."""
    kinds = package / "cvrepro" / "kinds"
    kinds.mkdir()
    (kinds / "__init__.py").write_text(
        "import importlib\nimport pkgutil\n\n"
        "KINDS = [importlib.import_module(f'{__name__}.{m.name}') for m in pkgutil.iter_modules(__path__)]\n"
    )
    (kinds / "roc.py").write_text("KIND = 'roc'\n")
    entry = package / "plot_entry.py"
    entry.write_text("from cvrepro.kinds import KINDS\n")
    before = fresh(entry)
    assert {"cvrepro.kinds", "cvrepro.kinds.roc"} <= set(before["modules"])
    (kinds / "confusion.py").write_text("KIND = 'confusion'\n")
    after = fresh(entry)
    assert "cvrepro.kinds.confusion" in after["modules"] and after["hash"] != before["hash"]
    edit(kinds / "roc.py", "'roc'", "'roc curves'")
    assert changed_parts(after, fresh(entry)) == ["cvrepro.kinds.roc changed"]


def test_closure_follows_every_import_form(package):
    found = fresh(package / "entry.py")
    assert set(found["modules"]) == {
        "entry.py",
        "cvrepro",
        "cvrepro.alpha",
        "cvrepro.beta",  # transitively, through alpha
        "cvrepro.gamma",  # in the `if __name__` block
        "cvrepro.sub",
        "cvrepro.sub.delta",  # inside a function
        "cvrepro.epsilon",  # `from .. import epsilon`
        "cvrepro.sub.zeta",  # `from .zeta import z`
    }
    assert list(found["packages"]) == ["numpy"]  # imported by alpha; no torch anywhere
    assert re.fullmatch(r"[0-9a-f]{12}", found["hash"])


def test_comments_docstrings_and_formatting_change_nothing(package):
    before = fresh(package / "entry.py")
    beta = package / "cvrepro" / "beta.py"
    edit(beta, "return x + 1  # the one", "# a new comment\n    return x + 1")
    edit(beta, '"""Add one."""', '"""Add one to x; a longer docstring."""')
    edit(beta, '"""A class."""', '"""A class, documented again."""')
    edit(beta, '"""Beta: reached only through alpha."""', "'''Another module docstring.'''")
    assert fresh(package / "entry.py") == before
    beta.write_text("'''Doc'''\nclass Scale :\n  factor=(2)\ndef b( x ) :\n  return (x+1)\n")
    assert fresh(package / "entry.py") == before
    subprocess.run(
        [str(RUFF), "format", "--line-length", "60", str(package)], check=True, capture_output=True
    )
    assert fresh(package / "entry.py") == before


def test_a_real_change_in_a_transitive_import_changes_the_hash(package):
    before = fresh(package / "entry.py")
    edit(package / "cvrepro" / "beta.py", "return x + 1", "return x + 2")
    after = fresh(package / "entry.py")
    assert after["hash"] != before["hash"]
    assert changed_parts(before, after) == ["cvrepro.beta changed"]
    edit(package / "cvrepro" / "sub" / "zeta.py", "z = 3", "z = 4")
    assert changed_parts(after, fresh(package / "entry.py")) == ["cvrepro.sub.zeta changed"]


def test_a_module_not_imported_changes_nothing(package):
    before = fresh(package / "entry.py")
    edit(package / "cvrepro" / "unused.py", "VALUE = 1", "VALUE = 2")
    assert fresh(package / "entry.py") == before


def test_new_imports_and_package_versions_are_named(package):
    before = fresh(package / "entry.py")
    edit(
        package / "cvrepro" / "gamma.py", "def g():", "import torch\nfrom cvrepro import unused\n\n\ndef g():"
    )
    after = fresh(package / "entry.py")
    assert set(changed_parts(before, after)) == {
        "cvrepro.gamma changed",
        "cvrepro.unused now imported",
        "torch now imported",
    }
    older = {**after, "hash": "0", "packages": {**after["packages"], "torch": "0.1"}}
    assert f"torch 0.1 -> {after['packages']['torch']}" in changed_parts(older, after)


def rule_scripts() -> dict[str, str]:
    """rule -> the script its `code` param fingerprints, from the real rule files."""
    found = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule \w+:)", path.read_text()):
            if rule := re.match(r"rule (\w+):", block):
                code = re.search(r'code=code_fingerprint\("([^"]+)"\)', block)
                script = re.search(r'script:\s*\n\s+"([^"]+)"', block)
                found[rule.group(1)] = (code and code.group(1), script and script.group(1))
    return found


def test_every_rule_that_runs_a_script_passes_its_fingerprint():
    rules = rule_scripts()
    assert len(rules) >= 14
    for rule, (code, script) in rules.items():
        if rule == "download":  # checksum-verified original files: no rerun for code edits
            assert code is None
        elif script:
            assert code == script, f"rule {rule}: code=code_fingerprint({script!r}) expected"


def test_fingerprints_need_no_torch_and_are_fast():
    scripts = sorted({code for code, _ in rule_scripts().values() if code})
    program = textwrap.dedent(f"""
        import json, sys, time
        start = time.process_time()
        sys.path.insert(0, {str(SCRIPTS)!r})
        import cvrepro.jobs.fingerprint as f
        prints = [f.fingerprint({str(REPO / "workflow" / "rules")!r} + "/" + s) for s in {scripts!r}]
        seconds = time.process_time() - start
        print(json.dumps({{"heavy": [m for m in ("torch", "torchvision", "numpy", "sklearn") if m in sys.modules],
                           "seconds": seconds, "train": prints[{scripts.index("../scripts/train.py")}]}}))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["heavy"] == []
    assert {"cvrepro", "cvrepro.train.supervised", "train.py"} <= set(report["train"]["modules"])
    assert "cvrepro.report.plot_axes" not in report["train"]["modules"]
    # The budget is 0.3 s of DAG build on an idle machine (measured ~0.1 s); generous on a busy one.
    assert report["seconds"] < 1.0, report["seconds"]


def metrics(modules: dict | None, eval_modules: dict | None = None, torch: str = "2.1") -> dict:
    provenance = {"git_commit": "abc", "device": "cpu", "config_hash": "h"}
    for key, found in (("code", modules), ("eval_code", eval_modules)):
        if found is not None:
            provenance[key] = {
                "hash": str(sorted(found.items())),
                "modules": found,
                "packages": {"torch": torch},
            }
    return {"provenance": provenance}


def test_table_warns_when_rows_come_from_different_code():
    same = [
        metrics({"train.py": "1", "cvrepro.train.supervised": "a"}),
        metrics({"train.py": "1", "cvrepro.train.supervised": "a"}),
    ]
    assert code_warning(same) == ""
    assert code_warning([metrics(None), metrics(None)]) == ""  # made before fingerprints: silent
    mixed = [*same, metrics({"train.py": "1", "cvrepro.train.supervised": "b"}, torch="2.2")]
    warning = code_warning(mixed)
    assert (
        "cvrepro.train.supervised" in warning and "torch 2.1 vs 2.2" in warning and "train.py" not in warning
    )
    evaluated = [
        metrics({"train.py": "1"}, {"evaluate.py": "x"}),
        metrics({"train.py": "1"}, {"evaluate.py": "y"}),
    ]
    assert "evaluate.py" in code_warning(evaluated)
    assert "1 of 3 results record no code fingerprint" in code_warning([*same, metrics(None)])


DRY_RUN = """
Job stats:
job      count
-----  -------
train        1
total        1

[Sun Nov 29 14:05:40 2026]
localrule train:
    input: resources/prepared/fashion_mnist
    output: results/s/runs/a/model.pt, results/s/runs/a/metrics.json
    jobid: 2
    reason: Input files updated by another job: x.npy; Params have changed since last execution: \
Union of exclusive params before and now across all output: before: {'lr': 0.05, 'opt': {'m': 0.9}},\
{'hash': '1', 'modules': {}, 'packages': {}} now: {'lr': 0.1, 'opt': {'m': 0.8}},\
{'hash': '2', 'modules': {}, 'packages': {}}
    wildcards: study=s, run=a
"""


def test_why_names_only_the_keys_that_changed_in_each_param():
    """A figure's params are several values (its spec, its groups...): a caption edit is one line."""
    spec = {"kind": "training_curves", "caption": "a", "runs": ["x"], "count": 8}
    groups = [["x", ["x", "x.r1"]]]
    change = why.value_change([spec, groups, "results"], [{**spec, "caption": "b"}, groups, "results"])
    assert change == "caption: 'a' -> 'b'"


def test_why_reads_jobs_and_param_changes_from_a_dry_run():
    [job] = why.planned_jobs(DRY_RUN)
    assert (job.rule, job.wildcards) == ("train", "study=s, run=a")
    assert job.output == ["results/s/runs/a/model.pt", "results/s/runs/a/metrics.json"]
    old, new = why.params_change(job.reason)
    assert why.value_change(old, new) == "lr: 0.05 -> 0.1, opt.m: 0.9 -> 0.8"
    reasons = why.explain(job, Path("/nonexistent"), {})
    assert reasons == ["upstream job reruns: x.npy", "params changed: lr: 0.05 -> 0.1, opt.m: 0.9 -> 0.8"]


def reword_docstring(path: Path) -> None:
    """Change the first function docstring of a module, and nothing else."""
    lines = path.read_text().splitlines(keepends=True)
    function = next(
        n for n in ast.parse("".join(lines)).body if isinstance(n, ast.FunctionDef) and ast.get_docstring(n)
    )
    line = function.body[0].lineno - 1
    lines[line] = lines[line].replace('"""', '"""Reworded. ', 1)
    path.write_text("".join(lines))


def why_output(copy) -> str:
    command = [sys.executable, str(copy.scripts / "why.py"), "-s", str(copy.repo / "Snakefile")]
    command += ["-d", str(copy.work), "--configfile", str(copy.work / "config.yaml")]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


# --- the workflow: dry runs on a finished tiny study in a copy of the repository -------------------


class Copy:
    """A copied repository and a finished tiny study's working directory."""

    def __init__(self, root: Path):
        self.repo, self.work = root / "repo", root / "work"
        self.scripts = self.repo / "workflow" / "scripts"

    def snakemake(self, *args: str, timeout: int = 600):
        result = run_snakemake(
            self.work, tiny_config(), *args, snakefile=self.repo / "Snakefile", timeout=timeout
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    def planned(self, *args: str) -> dict[str, int]:
        return planned_jobs(self.snakemake("-n", *args))

    def touch(self) -> None:
        """Mark every scheduled job done without running it: Snakemake records its new params."""
        self.snakemake("--touch", "--cores", "1")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, finished_tiny) -> Copy:
    """A copy of the repository beside a copy of the finished tiny study (made by the real tree's
    code, which is the copy's: the same fingerprints); `full`: what a fresh directory plans."""
    root = tmp_path_factory.mktemp("fingerprint")
    copy = Copy(root)
    snakefile = copy_repository(copy.repo)
    copy.full = planned_jobs(run_snakemake(root / "fresh", tiny_config(), "-n", snakefile=snakefile))
    copy_finished(finished_tiny, copy.work)
    assert copy.planned() == {}, "the copied finished study must be up to date for the copied code"
    return copy


@pytest.mark.workflow
@needs_fashion_mnist
def test_metrics_record_the_code_that_made_them(finished):
    results = finished.work / "results" / "tiny"
    probe = json.loads((results / "probes" / "pix" / "metrics.json").read_text())["provenance"]
    assert "probe.py" in probe["code"]["modules"]
    evaluation = json.loads((results / "evals" / "a" / "test" / "metrics.json").read_text())["provenance"]
    assert "evaluate.py" in evaluation["eval_code"]["modules"]
    assert "train.py" in evaluation["code"]["modules"]  # the checkpoint's, carried into its evaluation
    run = json.loads((results / "runs" / "a" / "metrics.json").read_text())["provenance"]
    assert {"train.py", "cvrepro.train.engine", "cvrepro.train.supervised"} <= set(run["code"]["modules"])
    pretraining = json.loads((results / "pretrain" / "ssl" / "metrics.json").read_text())["provenance"]
    assert {"pretrain.py", "cvrepro.train.pretraining"} <= set(pretraining["code"]["modules"])
    assert "different code" not in (results / "tables" / "t.md").read_text()  # one code for all rows
    # a training's and a pretraining's checkpoints carry the same fields (one save_model_files)
    trained, pretrained = (
        torch.load(results / d / "model.pt", weights_only=True) for d in ("runs/a", "pretrain/ssl")
    )
    assert (
        set(trained)
        == set(pretrained)
        >= {"arch", "recipe", "normalization", "classes", "seed", "provenance"}
    )
    # the run's eval_batch_size (256 in the tiny study, not the schema's 1024) reaches its evaluations
    assert "images, batches of 256" in (results / "logs" / "evaluate" / "a" / "test.log").read_text()


@pytest.mark.workflow
@needs_fashion_mnist
def test_plotting_code_reruns_only_figures_and_reports(finished):
    assert finished.planned() == {}
    edit(finished.scripts / "cvrepro" / "report" / "plot_axes.py", "\ndef ", "\nPLOT_DPI_NOTE = 1\n\n\ndef ")
    assert finished.planned() == {
        "figure": finished.full["figure"],
        "report": 1,
        "report_index": 1,
        "all": 1,
    }
    finished.snakemake("--cores", "2")  # for real: the figures and reports are quick
    assert finished.planned() == {}


@pytest.mark.workflow
@needs_fashion_mnist
def test_loss_code_reruns_trainings_and_what_follows_them(finished):
    """The triplet loss (train/metric_losses.py) is both a run's ce_triplet term and triplet
    pretraining's loss: editing it reruns every training and pretraining."""
    edit(finished.scripts / "cvrepro" / "train" / "metric_losses.py", "\ndef ", "\nLOSS_NOTE = 1\n\n\ndef ")
    planned = finished.planned()
    assert planned["train"] == finished.full["train"] and planned["pretrain"] == finished.full["pretrain"]
    assert not {"download", "prepare", "subset", "shift"} & set(planned)
    assert {"evaluate", "extract", "probe", "bn_sweep", "table", "report"} <= set(planned)
    # `make why` names the module, for the jobs that import it, upstream reruns or not.
    explained = why_output(finished)
    assert re.search(
        r"^  train \(study=tiny, run=a\): code: cvrepro.train.metric_losses changed$", explained, re.M
    )
    assert "Code changes: cvrepro.train.metric_losses changed" in explained
    # Every job line names the module exactly when the job's own code imports it.
    clear_caches()
    scripts = why.rule_scripts(finished.repo / "workflow" / "rules")
    lines = [line for line in explained.splitlines() if line.startswith("  ")]
    assert len(lines) == sum(planned.values()) - 1  # all but `all`
    for line in lines:
        rule = line.split()[0]
        imports = "cvrepro.train.metric_losses" in fingerprint(scripts[rule])["modules"]
        assert ("code: cvrepro.train.metric_losses changed" in line) == imports, line
    finished.touch()
    assert finished.planned() == {}


@pytest.mark.workflow
@needs_fashion_mnist
def test_dataset_readers_rerun_prepare_and_everything_after_it(finished):
    edit(
        finished.scripts / "cvrepro" / "data" / "datasets" / "readers.py",
        "\ndef ",
        "\nREADER_NOTE = 1\n\n\ndef ",
    )
    expected = {rule: count for rule, count in finished.full.items() if rule != "download"}
    assert finished.planned() == expected
    finished.touch()
    assert finished.planned() == {}


@pytest.mark.workflow
@needs_fashion_mnist
def test_comments_docstrings_and_ruff_format_rerun_nothing(finished):
    library = finished.scripts / "cvrepro"
    edit(library / "train" / "supervised.py", "\ndef ", "\n# A comment only.\n\n\ndef ")
    reword_docstring(library / "train" / "supervised.py")
    reword_docstring(library / "data" / "datasets" / "readers.py")
    ruff = [str(RUFF), "format", "--quiet"]
    subprocess.run([*ruff, "--line-length", "70", str(library)], check=True)
    assert finished.planned() == {}
    # Entry scripts too, and `ruff format` of the whole copied tree in the project's style: the
    # workflow profile (profiles/default) leaves out Snakemake's own trigger on a script's text,
    # which the fingerprint covers without comments and formatting.
    subprocess.run([*ruff, "--line-length", "70", *map(str, finished.scripts.glob("*.py"))], check=True)
    subprocess.run([*ruff, str(finished.repo / "workflow")], check=True, cwd=finished.repo)
    assert finished.planned() == {}
    # The rules too: snakefmt at another line length rewraps the Snakefile and every .smk file.
    snakefmt = [str(RUFF.parent / "snakefmt"), "--line-length", "70", "Snakefile", "workflow/rules"]
    subprocess.run(snakefmt, check=True, cwd=finished.repo, capture_output=True)
    assert finished.planned() == {}


def test_the_first_dry_run_already_keeps_the_parsed_code_cache(tmp_path):
    """Snakemake makes .snakemake/ only after parsing the Snakefile; the cache must not wait for
    a second DAG build (parsing every module is ~0.15 s of each one)."""
    result = run_snakemake(tmp_path, tiny_config(), "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-2000:]
    cache = json.loads((tmp_path / ".snakemake" / "cvrepro_fingerprints.json").read_text())
    assert len(cache) >= 20, len(cache)  # one entry per parsed script and module
