"""Why does it rerun? Every job a dry run schedules, with its reasons in words, and the code
modules that changed since it last ran (`make why`; `python workflow/scripts/why.py [snakemake
arguments]`, e.g. `--config studies=all`).

Then what the real run will fetch (cvrepro/report/cost/fetches.py): every dataset file and set of
ImageNet weights, its size, and whether a copy is already here.

Snakemake's dry run says which jobs run and why (missing output, an upstream job reruns, params);
each job's `code` param recorded in .snakemake/metadata (cvrepro/jobs/fingerprint.py) says which modules
changed. Snakemake checks a job's own params only when no input changed, so the code comparison is
made here for every job, upstream reruns or not.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from pathlib import Path

from cvrepro.jobs.fingerprint import FingerprintError, changed_parts, fingerprint

PARAMS = "Params have changed since last execution: "
UPSTREAM = "Input files updated by another job: "
# Snakemake's reasons, shortened (those not listed are printed as they are).
SHORT = {
    "Missing output files: ": "missing output",
    "Updated input files: ": "input files changed",
    "Incomplete output files: ": "incomplete output",
    "Set of input files has changed since last execution": "different input files",
    "Code has changed since last execution": "script file newer than its outputs",
    "Software environment definition has changed since last execution": "software environment changed",
}


@dataclass
class PlannedJob:
    rule: str
    wildcards: str = ""
    output: list[str] = field(default_factory=list)
    reason: str = ""


def planned_jobs(dry_run_output: str) -> list[PlannedJob]:
    """The jobs of `snakemake -n` output, with their output files and reason line."""
    jobs: list[PlannedJob] = []
    for line in dry_run_output.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line.strip()):
            jobs.append(PlannedJob(match.group(1)))
        elif jobs and (match := re.match(r"^\s+(output|wildcards|reason): (.*)$", line)):
            key, value = match.groups()
            if key == "output":
                jobs[-1].output = value.split(", ")
            else:
                setattr(jobs[-1], key, value)
    return [job for job in jobs if job.rule != "all"]


def literals(text: str) -> list | None:
    """`a,b,c` of Python reprs (as Snakemake joins param values) as values; None if not literals."""
    try:
        return ast.literal_eval(f"[{text}]")
    except (SyntaxError, ValueError):
        return None


def params_change(reason: str) -> tuple[list, list] | None:
    """(values before, values now) of the params Snakemake says changed, code included."""
    if PARAMS not in reason:
        return None
    text = reason.split(PARAMS, 1)[1].removeprefix(
        "Union of exclusive params before and now across all output: "
    )
    for match in re.finditer(r" now: ", text):  # the separator may occur inside a value: try each
        before = text[: match.start()].removeprefix("before: ").replace("<nothing exclusive>", "")
        now = (
            text[match.end() :]
            .split("; Software environment", 1)[0]
            .strip()
            .replace("<nothing exclusive>", "")
        )
        old, new = literals(before), literals(now)
        if old is not None and new is not None:
            return old, new
    return [], []


def is_code(value) -> bool:
    return isinstance(value, dict) and set(value) == {"hash", "modules", "packages"}


def differences(old, new, path: str = "") -> list[str]:
    """`key.sub: before -> now` for each leaf that differs between two params values."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new), key=str)
        return [d for k in keys for d in differences(old.get(k), new.get(k), f"{path}{k}.")]
    return [] if old == new else [f"{path.rstrip('.') or 'value'}: {old!r} -> {new!r}"]


def value_change(old: list, new: list) -> str:
    """The non-code param values that changed (Snakemake lists values, not names)."""
    old, new = [v for v in old if not is_code(v)], [v for v in new if not is_code(v)]
    if len(old) == len(new):  # the same params, in the rule's order: only the leaves that changed
        return ", ".join(d for before, now in zip(old, new, strict=True) for d in differences(before, now))
    if old or new:
        return f"{', '.join(map(repr, old)) or '-'} -> {', '.join(map(repr, new)) or '-'}"
    return ""


def recorded_code(workdir: Path, outputs: list[str]) -> dict | None:
    """The `code` param recorded when the job last ran (Snakemake's file-based metadata)."""
    metadata = workdir / ".snakemake" / "metadata"
    if not metadata.is_dir():
        return None
    max_len = os.pathconf(metadata, "PC_NAME_MAX") or 255
    for output in outputs:
        name = urlsafe_b64encode(output.encode()).decode()
        parts = [name[i : i + max_len - 1] for i in range(0, len(name), max_len - 1)]
        path = metadata.joinpath(*["@" + part for part in parts[:-1]], parts[-1])
        try:
            params = json.loads(path.read_text()).get("params") or []
        except (OSError, ValueError):
            continue
        for text in params:
            value = literals(text)
            if value and is_code(value[0]):
                return value[0]
    return None


def rule_scripts(rules_dir: Path) -> dict[str, Path]:
    """rule name -> its script, from the rule files' `script:` directives."""
    scripts = {}
    for path in sorted(rules_dir.glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule \w+:)", path.read_text()):
            rule = re.match(r"rule (\w+):", block)
            script = re.search(r'^\s+script:\s*\n\s+"([^"]+)"', block, re.MULTILINE)
            if rule and script:
                scripts[rule.group(1)] = (rules_dir / script.group(1)).resolve()
    return scripts


def code_change(job: PlannedJob, workdir: Path, scripts: dict[str, Path]) -> str:
    """Which modules changed since the job last ran; '' when none, or when nothing was recorded."""
    old = recorded_code(workdir, job.output)
    if old is None or job.rule not in scripts:
        return ""
    try:
        new = fingerprint(scripts[job.rule])
    except FingerprintError as error:
        return str(error)
    return ", ".join(changed_parts(old, new))


def explain(job: PlannedJob, workdir: Path, scripts: dict[str, Path]) -> list[str]:
    """The job's reasons to run, one phrase each."""
    reasons = []
    for part in job.reason.split("; "):
        for prefix, short in SHORT.items():
            if part.startswith(prefix):
                reasons.append(short)
        if part.startswith(UPSTREAM):
            files = part.removeprefix(UPSTREAM).split(", ")
            more = f" (+{len(files) - 2} more)" if len(files) > 2 else ""
            reasons.append(f"upstream job reruns: {', '.join(files[:2])}{more}")
    if (change := params_change(job.reason)) and (values := value_change(*change)):
        reasons.append(f"params changed: {values}")
    if code := code_change(job, workdir, scripts):
        reasons.append(f"code: {code}")
    if job.reason.startswith("Forced execution"):
        reasons.append("forced (--forcerun/--forceall)")
    return reasons or [job.reason]


def option(args: list[str], names: tuple[str, ...], default: str) -> str:
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            return args[i + 1]
        if "=" in arg and arg.split("=", 1)[0] in names:
            return arg.split("=", 1)[1]
    return default


def code_summary(explained: list[list[str]]) -> str:
    """'Code changes: cvrepro.train.supervised changed (14 jobs)' over all jobs; '' when no code changed."""
    counts: dict[str, int] = {}
    for reasons in explained:
        for reason in reasons:
            for part in reason.removeprefix("code: ").split(", ") if reason.startswith("code: ") else []:
                counts[part] = counts.get(part, 0) + 1
    return (
        "Code changes: " + "; ".join(f"{part} ({n} jobs)" for part, n in sorted(counts.items()))
        if counts
        else ""
    )


def main(args: list[str]) -> int:
    """Print why each scheduled job runs; 0, or snakemake's exit status when the dry run fails."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], capture_output=True, text=True)
    if result.returncode != 0:
        print("\n".join(result.stderr.strip().splitlines()[-10:]) or "dry run failed", file=sys.stderr)
        return result.returncode
    workdir = Path(option(args, ("-d", "--directory"), "."))
    snakefile = Path(option(args, ("-s", "--snakefile"), "Snakefile"))
    scripts = rule_scripts(snakefile.resolve().parent / "workflow" / "rules")
    jobs = planned_jobs(result.stdout)
    if not jobs:
        print("Nothing to do: every result is up to date with its inputs, params and code.")
        return 0
    explained = [explain(job, workdir, scripts) for job in jobs]
    print(f"{len(jobs)} jobs would run:")
    for job, reasons in zip(jobs, explained, strict=True):
        print(f"  {job.rule} ({job.wildcards or 'no wildcards'}): {'; '.join(reasons)}")
    if summary := code_summary(explained):
        print(summary)
    try:
        lines = fetch_section(args, workdir, snakefile)
    except Exception as error:  # noqa: BLE001 -- the dry run's answer stands without this part
        lines = [f"(what the real run will fetch: not known: {' '.join(str(error).split())[:200]})"]
    print("\n".join(lines))
    return 0


def option_values(args: list[str], names: tuple[str, ...]) -> list[str]:
    """Every value given after one of `names` (`--config a=1 b=2`: both), up to the next option."""
    values, taking = [], False
    for arg in args:
        if arg.startswith("-"):
            name, _, value = arg.partition("=")
            taking = name in names
            if taking and value:
                values.append(value)
        elif taking:
            values.append(arg)
    return values


def fetch_section(args: list[str], workdir: Path, snakefile: Path) -> list[str]:
    """What the real run of the selected studies will fetch (cvrepro/report/cost/fetches.py): every
    dataset file and set of ImageNet weights, its size and whether a copy is here."""
    import yaml
    from snakemake.cli import parse_config

    from cvrepro.config import load_config
    from cvrepro.report.cost.fetches import fetch_items, fetch_lines, with_state

    config: dict = {}
    for path in [workdir / "config.yaml", *map(Path, option_values(args, ("--configfile", "--configfiles")))]:
        if path.is_file():
            config.update(yaml.safe_load(path.read_text()) or {})
    config.update(parse_config(option_values(args, ("--config", "-C"))))
    loaded, studies = load_config(config, snakefile.resolve().parent / "studies")
    items: dict[str, dict] = {}
    for study in studies.values():
        for item in fetch_items(study, loaded):
            items.setdefault(item["filename"], item)
    if not items:
        return []
    old = Path.cwd()
    os.chdir(workdir)  # the data directory's paths are the workflow's, relative to its directory
    try:
        stated = with_state(list(items.values()))
    finally:
        os.chdir(old)
    return [f"The real run of {', '.join(studies)} will fetch:", *fetch_lines(stated)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
