"""Grids and replicates: the runs, pretrainings and probes a study writes once, expanded into the
jobs that run.

- `grid: {optimizer.lr: [1e-3, 1e-2], batch_size: [16, 64]}` on a run makes one run per point,
  named `<run>.<key>_<value>...` (e.g. `cnn_adam.lr_0.001.batch_size_16`), each validated like
  any run. A table or figure that lists the grid run gets one row per point.
- `repeats: n` makes replicates: replicate 0 keeps the name (so adding repeats keeps what already
  ran), replicate k >= 1 is `<name>.r<k>` with seed `seed + k` (initialisation, data order,
  augmentation; subsets stay fixed). Replicate k of a run initialised from a replicated source
  (or of a probe on a replicated source's features) uses replicate k of that source (both need
  the same n); a single source is shared by all replicates, and a single dependent of a
  replicated source uses its replicate 0.

The study keeps what was written (`rows`: name -> its rows, grid points or itself) and what runs
(`replicates`: row -> its jobs); the sections `runs`, `pretrain` and `probes` hold the jobs.
"""

from __future__ import annotations

import copy
import itertools

from cvrepro.config.schema import ConfigError, check_name, definition, validate
from cvrepro.study.names import AT_INIT, at_init

# Largest seed: scikit-learn's random_state and NumPy's legacy RandomState take 0 .. 2**32 - 1
# (torch.manual_seed takes up to 2**64 - 1, default_rng any int >= 0). The schema bounds a written
# seed; replicate k's seed + k is checked where it is made.
SEED_MAX = 2**32 - 1


def replica_name(name: str, k: int) -> str:
    return name if k == 0 else f"{name}.r{k}"


def _value_name(value) -> str:
    """A grid value as part of a safe file name: 0.001, adam, 0.9-0.999, true."""
    if isinstance(value, list):
        return "-".join(_value_name(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}".replace("+", "")
    return str(value)


def _set_path(spec: dict, dotted: str, value, where: str) -> None:
    """spec[a][b] = value for dotted 'a.b'; the path must exist in the validated run."""
    *parents, last = dotted.split(".")
    node = spec
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
    if not isinstance(node, dict) or last not in node or dotted.split(".")[0] in ("grid", "repeats"):
        raise ConfigError(f"{where}.grid.{dotted}: not a key of a run (e.g. optimizer.lr, batch_size)")
    node[last] = copy.deepcopy(value)


def grid_points(name: str, run: dict, where: str) -> dict[str, tuple[dict, dict]]:
    """point name -> (the run at that point, {key: value}) in the grid's order."""
    grid = run["grid"]
    keys = list(grid)
    shorts = [key.rsplit(".", 1)[-1] for key in keys]
    if len(set(shorts)) < len(shorts):
        shorts = [key.replace(".", "-") for key in keys]
    points = {}
    for values in itertools.product(*(grid[key] for key in keys)):
        point = copy.deepcopy(run)
        point["grid"] = None
        for key, value in zip(keys, values, strict=True):
            _set_path(point, key, value, where)
        label = ".".join(f"{short}_{_value_name(v)}" for short, v in zip(shorts, values, strict=True))
        check_name(f"{name}.{label}", f"{where}.grid")  # a value becomes part of a file name
        point = validate(point, definition("run"), f"{where} (grid point {label})")
        points[f"{name}.{label}"] = (point, dict(zip(keys, values, strict=True)))
    return points


def _expand_grids(spec: dict, source: str) -> tuple[dict, dict, dict]:
    """(runs with grid runs replaced by their points, name -> rows, point -> grid values)."""
    runs, rows, values = {}, {}, {}
    for name, run in spec["runs"].items():
        if not run["grid"]:
            runs[name], rows[name] = run, [name]
            continue
        points = grid_points(name, run, f"{source}: runs.{name}")
        for point, (point_run, point_values) in points.items():
            runs[point], values[point] = point_run, point_values
        rows[name] = list(points)
    return runs, rows, values


def _source_replica(source: str, k: int, counts: dict[str, int], where: str, n: int) -> str:
    """The replicate of `source` that replicate k of an n-replicate dependent uses (of its
    pretraining for `<pretraining>@init`: replicate k's initialisation)."""
    if (base := at_init(source)) is not None:
        return _source_replica(base, k, counts, where, n) + AT_INIT
    m = counts.get(source)
    if m is None or m == 1:
        return source  # not a job of this study (checked later), or a single source: shared
    if n == 1:
        return source  # a single dependent reads replicate 0 (which keeps the source's name)
    if m != n:
        raise ConfigError(
            f"{where}: {n} replicates but its source {source!r} has {m}; give them the same "
            f"`repeats` (replicate k then uses replicate k) or let one source serve all (repeats: 1)"
        )
    return replica_name(source, k)


def _replicate(section: dict, counts: dict, link: str | None, where: str) -> tuple[dict, dict]:
    """(jobs, row -> its job names): each entry's replicates, with seed + k and its `link`
    (init, features) pointed at replicate k of a replicated source."""
    jobs, replicas = {}, {}
    for name, spec in section.items():
        n = spec["repeats"]
        replicas[name] = [replica_name(name, k) for k in range(n)]
        for k in range(n):
            job = {key: value for key, value in spec.items() if key not in ("repeats", "grid")}
            job["seed"] = spec["seed"] + k
            if job["seed"] > SEED_MAX:
                raise ConfigError(
                    f"{where}.{name}.seed: {job['seed']} (seed + replicate index) is outside 0 .. 2**32 - 1, "
                    "the seeds scikit-learn and NumPy's legacy generator accept"
                )
            if link is not None:
                job[link] = _source_replica(spec[link], k, counts, f"{where}.{name}.repeats", n)
            jobs[replica_name(name, k)] = job
    return jobs, replicas


def expand_study(spec: dict, source: str) -> dict:
    """The validated study with its sections replaced by the jobs they expand into; adds
    spec["rows"] (section -> name -> rows), spec["replicates"] (row -> jobs) and
    spec["grid_values"] (grid point -> {key: value})."""
    spec = copy.deepcopy(spec)
    runs, run_rows, grid_values = _expand_grids(spec, source)
    pretrain, pretrain_replicas = _replicate(spec["pretrain"], {}, None, f"{source}: pretrain")
    counts = {name: s["repeats"] for name, s in spec["pretrain"].items()}
    run_jobs, run_replicas = _replicate_runs(runs, counts, source)
    counts.update({row: len(jobs) for row, jobs in run_replicas.items()})
    probes, probe_replicas = _replicate(spec["probes"], counts, "features", f"{source}: probes")
    spec.update({"runs": run_jobs, "pretrain": pretrain, "probes": probes, "grid_values": grid_values})
    spec["rows"] = {
        "runs": run_rows,
        "pretrain": {name: [name] for name in pretrain_replicas},
        "probes": {name: [name] for name in probe_replicas},
    }
    spec["replicates"] = {**run_replicas, **pretrain_replicas, **probe_replicas}
    return spec


def _replicate_runs(runs: dict, counts: dict[str, int], source: str) -> tuple[dict, dict]:
    """Runs in dependency order, so that an `init` source's replicate count is known first."""
    done_jobs, done_replicas, pending = {}, {}, dict(runs)
    while pending:
        ready = {n: r for n, r in pending.items() if r["init"] not in pending or r["init"] == n}
        if not ready:  # a cycle: left to the config checks, which name it
            ready = pending
        jobs, replicas = _replicate(
            ready, {**counts, **{r: len(j) for r, j in done_replicas.items()}}, "init", f"{source}: runs"
        )
        done_jobs.update(jobs)
        done_replicas.update(replicas)
        pending = {n: r for n, r in pending.items() if n not in ready}
    return {name: done_jobs[name] for row in runs for name in done_replicas[row]}, done_replicas
